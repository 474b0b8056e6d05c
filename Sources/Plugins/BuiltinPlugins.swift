import Engine

/// The plugins that ship with Hypha. The CLI builds its registry from this list.
public enum BuiltinPlugins {
    public static let all: [any Plugin.Type] = [
        TemplatePlugin.self,
        ProcessPlugin.self,
        CapturePlugin.self,
    ]

    public static var registry: PluginRegistry { PluginRegistry(all) }
}
