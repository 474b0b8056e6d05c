import Foundation

/// Where a job's output is kept, the same for every executor: `RUN/jobs/NAME.stdout.log` and
/// `RUN/jobs/NAME.stderr.log`, NAME being `SafeName.file` of the job's name. A stream the job
/// wrote nothing to gets no file (its path in the result is null).
public struct JobLogs: Sendable {
    /// `RUN/jobs`.
    public let directory: String

    /// The run's job-log folder, made if missing.
    public init(runDirectory: String) throws {
        directory = Self.folder(of: runDirectory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// The two log paths of `job`.
    public func paths(for job: String) -> (stdout: String, stderr: String) {
        Self.paths(for: job, in: directory)
    }

    /// The two log paths of `job` in a run's folder (to find them; nothing is made).
    public static func paths(for job: String, runDirectory: String) -> (stdout: String, stderr: String) {
        paths(for: job, in: folder(of: runDirectory))
    }

    static func folder(of runDirectory: String) -> String {
        URL(fileURLWithPath: runDirectory).appendingPathComponent("jobs").path
    }

    static func paths(for job: String, in folder: String) -> (stdout: String, stderr: String) {
        let base = folder + "/" + SafeName.file(job)
        return (base + ".stdout.log", base + ".stderr.log")
    }

    /// Writes output an executor received whole (a remote job's); empty streams get no file.
    /// Returns the paths written.
    public func write(job: String, stdout: String, stderr: String) throws -> (stdout: String?, stderr: String?) {
        let paths = paths(for: job)
        var written: (stdout: String?, stderr: String?) = (nil, nil)
        if !stdout.isEmpty {
            try Data(stdout.utf8).write(to: URL(fileURLWithPath: paths.stdout))
            written.stdout = paths.stdout
        }
        if !stderr.isEmpty {
            try Data(stderr.utf8).write(to: URL(fileURLWithPath: paths.stderr))
            written.stderr = paths.stderr
        }
        return written
    }
}
