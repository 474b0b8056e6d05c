import Engine
import Foundation

/// The environment a local job starts with: a short allowlist of Hypha's own variables (so
/// programs find their tools, home, locale and time zone), the names the node's
/// `env_passthrough` adds, and the job's `Task.Env`. Nothing else of Hypha's environment
/// reaches a job: jobs may unpack untrusted input, and Hypha's environment holds its secrets
/// (API keys, tokens).
struct JobEnvironment: Sendable {
    /// The variables every job gets when Hypha has them.
    static let allowlist = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"]

    /// The inherited part, the same for every job of the node.
    let base: [String: String]
    /// `base` as C strings, made once for the jobs that add nothing to it.
    let baseBlock: CStringBlock

    /// `marker` is the job guard's variable, which lets a restart find jobs a dead Hypha left.
    init(passthrough: [String], marker: (name: String, value: String)? = nil,
         from environment: [String: String] = ProcessEnvironment.values) {
        var base: [String: String] = [:]
        for name in Self.allowlist + passthrough {
            if let value = environment[name] { base[name] = value }
        }
        if let marker { base[marker.name] = marker.value }
        self.base = base
        baseBlock = CStringBlock(base.map { "\($0.key)=\($0.value)" })
    }

    /// Calls `body` with a NULL-terminated `envp` of `base` plus `overrides`.
    func withEnvp<R>(adding overrides: [String: String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        if overrides.isEmpty { return baseBlock.withPointers(body) }
        var environment = base
        for (name, value) in overrides { environment[name] = value }
        return CStringBlock(environment.map { "\($0.key)=\($0.value)" }).withPointers(body)
    }
}

/// A NULL-terminated array of C strings, freed with the block.
final class CStringBlock: @unchecked Sendable {  // immutable after init
    private let pointers: [UnsafeMutablePointer<CChar>?]
    init(_ strings: [String]) { pointers = strings.map { strdup($0) } + [nil] }
    deinit { for p in pointers { free(p) } }
    func withPointers<R>(_ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R { body(pointers) }
}
