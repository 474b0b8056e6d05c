/// The plugins a workflow may name. Engine knows no plugin by name; the Plugins module
/// fills a registry with the built-in ones.
public struct PluginRegistry: Sendable {
    public private(set) var plugins: [String: any Plugin.Type] = [:]

    public init(_ types: [any Plugin.Type] = []) {
        for type in types { register(type) }
    }

    public mutating func register(_ type: any Plugin.Type) {
        plugins[type.spec.name] = type
    }

    public subscript(name: String) -> (any Plugin.Type)? { plugins[name] }

    public var names: [String] { plugins.keys.sorted() }
}
