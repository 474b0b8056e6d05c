import Foundation
import Synchronization

/// Finds programs on PATH, once per name (and working folder, for a relative path) for the run.
/// The path is kept as found, never resolved through symlinks: a venv's `bin/python3` is a
/// symlink to the system's interpreter, and only started by its venv path does it run in the venv.
final class ProgramLocator: Sendable {
    private let cache = Mutex<[String: String]>([:])
    private let searchPath: [String]

    init(path: String? = ProcessInfo.processInfo.environment["PATH"]) {
        searchPath = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
    }

    /// The path of `program`: a path with a slash is taken as it is, a bare name is looked up
    /// on PATH. Nil when there is no such executable.
    func locate(_ program: String, workingDirectory: String?) -> String? {
        let key = program.hasPrefix("/") || !program.contains("/") ? program : (workingDirectory ?? "") + "\u{0}" + program
        if let cached = cache.withLock({ $0[key] }) { return cached }
        var candidates: [String]
        if program.contains("/") {
            let base = workingDirectory ?? FileManager.default.currentDirectoryPath
            candidates = [program.hasPrefix("/") ? program : URL(fileURLWithPath: base).appendingPathComponent(program).path]
        } else {
            candidates = searchPath.map { URL(fileURLWithPath: $0).appendingPathComponent(program).path }
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            cache.withLock { $0[key] = candidate }
            return candidate
        }
        return nil
    }
}
