import Engine

/// The plugins that ship with Hypha. The CLI builds its registry from this list.
public enum BuiltinPlugins {
    public static let all: [any Plugin.Type] = [
        FileWatchPlugin.self,
        ArrowDecodePlugin.self,
        TemplatePlugin.self,
        ProcessPlugin.self,
        CapturePlugin.self,
        ArrowHTTPSourcePlugin.self,
        ArrowHTTPSinkPlugin.self,
        BacalhauPlugin.self,
    ]

    public static var registry: PluginRegistry { PluginRegistry(all) }
}
