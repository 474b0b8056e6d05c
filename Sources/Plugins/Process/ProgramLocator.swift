import Foundation
import Synchronization

/// Finds programs on PATH and resolves them to their real path, once per name.
final class ProgramLocator: Sendable {
    private let cache = Mutex<[String: String]>([:])
    private let searchPath: [String]

    init(path: String? = ProcessInfo.processInfo.environment["PATH"]) {
        searchPath = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
    }

    /// The real path of `program`: a path with a slash is taken as it is, a bare name is
    /// looked up on PATH. Nil when there is no such executable.
    func locate(_ program: String, workingDirectory: String?) -> String? {
        if let cached = cache.withLock({ $0[program] }) { return cached }
        var candidates: [String]
        if program.contains("/") {
            let base = workingDirectory ?? FileManager.default.currentDirectoryPath
            candidates = [program.hasPrefix("/") ? program : URL(fileURLWithPath: base).appendingPathComponent(program).path]
        } else {
            candidates = searchPath.map { URL(fileURLWithPath: $0).appendingPathComponent(program).path }
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            let real = URL(fileURLWithPath: candidate).resolvingSymlinksInPath().path
            if !program.contains("/") { cache.withLock { $0[program] = real } }
            return real
        }
        return nil
    }
}
