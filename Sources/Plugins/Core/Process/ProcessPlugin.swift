import Engine
import Foundation
import Logging
import Glibc

/// `process` (job → result): the local raw-process executor.
///
/// Runs a job's single task whose `Engine.Type` is `process`: `Params.Name` is the program
/// (looked up on PATH), `Params.Arguments` its argument list, `Params.WorkingDirectory` an
/// optional working folder. The job's environment is `JobEnvironment`'s short allowlist, the
/// names in `env_passthrough` and `Task.Env`: never the rest of Hypha's. Never
/// through a shell. `Timeouts.ExecutionTimeout` ends the process group (SIGTERM, then SIGKILL
/// after `grace_period`). Output goes to `RUN/jobs/NAME.stdout.log` and `NAME.stderr.log`, each
/// made when the job first writes to it.
///
/// A job that exits 0 emits a `result` (state `Completed`) with `id`, `exit_code`,
/// `duration`, `stdout`, `stderr` (their tails), `stdout_path`, `stderr_path` and `record`
/// (the record that produced the job). Any other end fails the message with the reason.
public struct ProcessPlugin: ProcessorPlugin {
    public static let resultFields = ["name", "state", "id", "executor", "exit_code", "duration", "stdout", "stderr",
                                      "stdout_path", "stderr_path", "record"]

    public static let spec = PluginSpec(
        name: "process",
        summary: "Runs jobs whose engine is 'process' as local processes (never through a shell).",
        input: .oneOf([.job]), output: .result,
        options: [
            OptionSpec("max_parallel", .int, default: .int(Int64(ProcessInfo.processInfo.activeProcessorCount)),
                       help: "how many jobs run at once (default: the number of cores)"),
            OptionSpec("grace_period", .duration, default: .float(5), help: "time between SIGTERM and SIGKILL when a job is stopped"),
            OptionSpec("tail_bytes", .int, default: .int(4096), help: "how much of the end of stdout and stderr the result carries"),
            OptionSpec("working_directory", .path, help: "default working folder for jobs that don't set Params.WorkingDirectory"),
            OptionSpec("env_passthrough", .stringList, default: .list([]),
                       help: "names of Hypha's environment variables jobs also get (besides PATH, HOME, USER, LOGNAME, LANG, LC_ALL, TZ, TMPDIR)"),
        ],
        outputFields: resultFields)

    public let concurrency: Int
    let grace: Duration
    let tailBytes: Int
    let defaultWorkingDirectory: String?
    let jobsDirectory: String
    let locator = ProgramLocator()
    let environment: JobEnvironment
    let node: NodeConfig
    let logger: Logger

    public init(node: NodeConfig, context: RunContext) throws {
        self.node = node
        concurrency = max(1, node.int("max_parallel") ?? 1)
        grace = .milliseconds(Int64((node.duration("grace_period") ?? 5) * 1000))
        tailBytes = max(0, node.int("tail_bytes") ?? 4096)
        defaultWorkingDirectory = node.path("working_directory")
        environment = JobEnvironment(passthrough: node.strings("env_passthrough") ?? [])
        jobsDirectory = URL(fileURLWithPath: context.runDirectory).appendingPathComponent("jobs").path
        try FileManager.default.createDirectory(atPath: jobsDirectory, withIntermediateDirectories: true)
        logger = context.logger
    }

    public static func validate(_ node: NodeConfig) -> [Diagnostic] {
        if let n = node.int("max_parallel"), n < 1 {
            return [Diagnostic("option 'max_parallel' of node '\(node.id)' must be at least 1, got \(n)", at: node.location(of: "max_parallel"))]
        }
        return []
    }

    struct JobFailed: Error, CustomStringConvertible {
        var description: String
    }

    public func process(_ message: Message, _ output: Output) async throws {
        guard case .job(let job) = message.payload else {
            throw JobFailed(description: "node '\(node.id)' (process) got a \(message.payload.portType) message")
        }
        let task: ProcessTask
        do {
            task = try ProcessTask(job: job)
        } catch {
            throw JobFailed(description: error.description)
        }
        let workingDirectory = task.workingDirectory ?? defaultWorkingDirectory
        guard let program = locator.locate(task.program, workingDirectory: workingDirectory) else {
            throw JobFailed(description: "job '\(job.name)': program '\(task.program)' was not found on PATH or is not executable")
        }
        let logBase = jobsDirectory + "/" + PathSafeName.folder(job.name)
        let stdoutPath = logBase + ".stdout.log"
        let stderrPath = logBase + ".stderr.log"

        logger.debug("starting job", metadata: ["job": "\(job.name)", "program": "\(program)"])
        let piped = ChildReaper.shared != nil
        let stdout: JobOutput, stderr: JobOutput
        do {
            stdout = try JobOutput(path: stdoutPath, tailBytes: tailBytes, piped: piped)
            stderr = try JobOutput(path: stderrPath, tailBytes: tailBytes, piped: piped)
        } catch {
            throw JobFailed(description: "job '\(job.name)': \(error.description)")
        }
        let started = ContinuousClock.now
        let pid: pid_t
        do {
            pid = try ProcessLauncher.spawn(program: program, arguments: task.arguments, environment: environment, adding: task.environment,
                                            workingDirectory: workingDirectory, stdout: stdout.childEnd,
                                            stderr: stderr.childEnd)
        } catch {
            throw JobFailed(description: "job '\(job.name)': \(error.description)")
        }
        stdout.jobStarted()
        stderr.jobStarted()
        let outcome = await wait(for: pid, timeout: task.executionTimeout, outputs: [stdout, stderr])
        let elapsed = started.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let (stdoutLog, stdoutTail, stdoutProblem) = stdout.result()
        let (stderrLog, stderrTail, stderrProblem) = stderr.result()
        for problem in [stdoutProblem, stderrProblem].compactMap({ $0 }) { logger.warning("job \(job.name): \(problem)") }

        let details = Record([
            ("id", .string(job.name)), ("executor", .string("process")),
            ("exit_code", outcome.exitCode.map { .int(Int64($0)) } ?? .null),
            ("duration", .float(seconds)),
            ("stdout", .string(stdoutTail)), ("stderr", .string(stderrTail)),
            // A stream the job wrote nothing to has no file (JobOutput).
            ("stdout_path", stdoutLog.map(Value.string) ?? .null), ("stderr_path", stderrLog.map(Value.string) ?? .null),
        ])
        let stderrNote = " (log: \(stderrLog ?? "none, nothing was written to stderr"))"
        switch outcome {
        case .exited(0):
            logger.info("job \(job.name) completed in \(String(format: "%.3f", seconds)) s")
            try await output.emit(.result(JobResult(job: job, state: .completed, details: details)))
        case .exited(let code):
            throw JobFailed(description: "job '\(job.name)' failed with exit code \(code)" + Self.excerpt(stderrTail) + stderrNote)
        case .signaled(let signal):
            throw JobFailed(description: "job '\(job.name)' was killed by signal \(signal)" + Self.excerpt(stderrTail) + stderrNote)
        case .timedOut(let limit):
            throw JobFailed(description: "job '\(job.name)' passed its ExecutionTimeout of \(limit) s and was stopped" + stderrNote)
        case .interrupted:
            throw JobFailed(description: "job '\(job.name)' was stopped because hypha is shutting down")
        }
    }

    static func excerpt(_ stderr: String) -> String {
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: true).suffix(3)
        return lines.isEmpty ? "" : ": " + lines.joined(separator: " | ")
    }

    enum Outcome {
        case exited(Int32)
        case signaled(Int32)
        case timedOut(Double)
        case interrupted

        var exitCode: Int32? {
            if case .exited(let code) = self { return code }
            return nil
        }
    }

    /// Waits for the job's process, its output copied into `outputs`; its `ExecutionTimeout`
    /// (seconds) stops it.
    func wait(for pid: pid_t, timeout: Double?, outputs: [JobOutput]) async -> Outcome {
        let grace = self.grace
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                switch await ProcessLauncher.wait(for: pid, grace: grace, outputs: outputs) {
                case .exited(let code): return Task.isCancelled ? nil : .exited(code)
                case .signaled(let signal): return Task.isCancelled ? nil : .signaled(signal)
                }
            }
            if let limit = timeout {
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(Int64(limit * 1000)))
                    return Task.isCancelled ? nil : .timedOut(limit)
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()  // a timeout stops the process (SIGTERM, then SIGKILL); wait for it
            while await group.next() != nil {}
            return first ?? .interrupted
        }
    }
}

/// Job names are free text; log folders need a safe name.
enum PathSafeName {
    static func folder(_ name: String) -> String {
        let plain = name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): return true
            default: return false
            }
        }
        // Generated job names (the usual case) are already safe: no per-character Unicode lookups.
        if plain, name.utf8.count <= 120, !name.isEmpty, name != ".", name != ".." { return name }
        let safe = name.unicodeScalars.map { s -> Character in
            (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "-" || s == "_" || s == ".") && s != "/"
                ? Character(s) : "_"
        }
        let folder = String(safe)
        return folder.isEmpty || folder == "." || folder == ".." ? "job" : String(folder.prefix(120))
    }
}
