import ArrowHTTP
import Bacalhau
import CorePlugins
import Engine
import HTTPDownload

/// The plugins that ship with Hypha: the one place their modules meet. The CLI builds its
/// registry from this list; adding a plugin is one line here.
enum BuiltinPlugins {
    static let all: [any Plugin.Type] = [
        FileWatchPlugin.self,
        ArrowDecodePlugin.self,
        TemplatePlugin.self,
        ProcessPlugin.self,
        ExecPlugin.self,
        ExecArrowPlugin.self,
        ExecSinkPlugin.self,
        CapturePlugin.self,
        ArrowHTTPSourcePlugin.self,
        ArrowHTTPSinkPlugin.self,
        BacalhauPlugin.self,
        HTTPDownloadPlugin.self,
    ]

    static var registry: PluginRegistry { PluginRegistry(all) }
}
