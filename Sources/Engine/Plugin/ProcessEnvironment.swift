import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Hypha's environment variables as the process started with them, held in memory, so that
/// its secrets can leave the process's environment.
///
/// Jobs and exec programs run as Hypha's user and can read `/proc/PPID/environ`, which shows
/// the environment block the kernel placed on the stack at exec: `unsetenv` does not change
/// it. `hypha` therefore calls `secureAtStart()` first thing: it keeps a copy of every
/// variable here, overwrites the value of each secret in that block with NUL bytes, and unsets
/// it. Whatever reads a variable Hypha was given reads `values`: `${NAME}` in a workflow (at
/// every load, so a reload finds them too), `env:NAME` options, `env_passthrough`, the Bacalhau
/// credentials, `hypha send`'s token.
public enum ProcessEnvironment {
    private static let snapshot = Mutex<[String: String]?>(nil)

    /// Words that make a variable's name a secret's (compared in upper case): `HYPHA_TOKEN`,
    /// `BACALHAU_API_KEY`, `BACALHAU_API_PASSWORD`, `AWS_SECRET_ACCESS_KEY`, `GITHUB_TOKEN`,
    /// `PGPASSWORD`, `SSH_AUTH_SOCK` ...
    public static let secretWords = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "KEY", "CREDENTIAL", "AUTH",
                                     "COOKIE", "PRIVATE"]

    /// The variables Hypha started with, secrets included. Before `secureAtStart()` (tests of
    /// the modules never call it), the live environment.
    public static var values: [String: String] {
        snapshot.withLock { $0 } ?? ProcessInfo.processInfo.environment
    }

    /// Whether `name` names a secret: it contains one of `secretWords`.
    public static func isSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        return secretWords.contains { upper.contains($0) }
    }

    /// Keeps every variable in `values`, then removes the secrets from the process: each
    /// secret's value is overwritten in place (so `/proc/self/environ` no longer shows it) and
    /// the variable unset (so no program started with the inherited environment gets it).
    /// Returns the names removed. Call it once, at the start of `main`, before other threads
    /// run: nothing may read the environment while it changes.
    @discardableResult
    public static func secureAtStart() -> [String] {
        var all: [String: String] = [:]
        var secrets: [String] = []
        #if canImport(Glibc)
        var index = 0
        while let entry = environ[index] {
            index += 1
            guard let equals = strchr(entry, Int32(UInt8(ascii: "="))) else { continue }
            let name = String(decoding: UnsafeRawBufferPointer(start: entry, count: entry.distance(to: equals)), as: UTF8.self)
            let value = equals + 1
            // The first of duplicate names wins, as for getenv.
            if all[name] == nil { all[name] = String(cString: value) }
            if isSecret(name) {
                memset(value, 0, strlen(value))
                if !secrets.contains(name) { secrets.append(name) }
            }
        }
        #else
        all = ProcessInfo.processInfo.environment
        secrets = all.keys.filter(isSecret)
        #endif
        snapshot.withLock { $0 = all }
        for name in secrets { unsetenv(name) }
        return secrets
    }
}
