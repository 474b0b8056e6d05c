import Foundation

/// A secret given in an option as `env:NAME`, read from the environment rather than written in
/// the workflow, or given as it is.
public enum EnvironmentReference {
    /// An `env:NAME` whose variable is unset or empty.
    public struct Unset: Error, Sendable {
        public let name: String
    }

    /// What `text` stands for: the variable's value for `env:NAME`, else `text` itself.
    public static func resolve(_ text: String,
                               environment: [String: String] = ProcessEnvironment.values) throws(Unset) -> String {
        guard text.hasPrefix("env:") else { return text }
        let name = String(text.dropFirst(4))
        guard let value = environment[name], !value.isEmpty else { throw Unset(name: name) }
        return value
    }
}
