import Engine
import Foundation
import Logging
import Synchronization

/// Builds plugins the way the runtime does, for unit tests.
struct PluginHarness {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-plugin-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }

    /// A node configuration checked and filled in as the loader does it (`WorkflowLoader.nodeConfig`).
    func config(_ id: String, plugin: any Plugin.Type, options: [String: Value], jobstore: String? = nil,
                vars: Record = Record()) throws -> NodeConfig {
        let info = WorkflowInfo(name: "test-flow", file: directory + "/w.yml", directory: directory, jobstore: jobstore, vars: vars)
        return try WorkflowLoader(registry: PluginRegistry()).nodeConfig(plugin, id: id, options: options, workflow: info)
    }

    func context() -> RunContext {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return RunContext(runID: "test-run", runDirectory: directory + "/run", logger: logger)
    }
}

/// Collects what a plugin emits.
final class Emitted: Sendable {
    private let items = Mutex<[Payload]>([])
    var all: [Payload] { items.withLock { $0 } }
    var output: Output { Output { payload in self.items.withLock { $0.append(payload) } } }
    func sourceOutput(once: Bool) -> SourceOutput {
        SourceOutput(once: once) { payload, ack in
            self.items.withLock { $0.append(payload) }
            ack.release()
        }
    }
}

