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

    /// A context whose log is dropped, or kept in `logs` (every level) when given.
    func context(logs: LogLines? = nil) -> RunContext {
        var logger = logs.map { logs in Logger(label: "test") { _ in logs } } ?? Logger(label: "test")
        logger.logLevel = logs == nil ? .critical : .trace
        return RunContext(runID: "test-run", runDirectory: directory + "/run", logger: logger)
    }
}

/// A log handler keeping every message, for tests that check what a plugin logs.
final class LogLines: LogHandler, Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        lines.withLock { $0.append(message.description) }
    }
}

/// Collects what a plugin emits.
final class Emitted: Sendable {
    private let items = Mutex<[Payload]>([])
    var all: [Payload] { items.withLock { $0 } }
    var output: Output { Output { payload in self.items.withLock { $0.append(payload) } } }
    func sourceOutput(once: Bool, onReady: @escaping @Sendable () -> Void = {}) -> SourceOutput {
        SourceOutput(once: once, onReady: onReady) { payload, ack in
            self.items.withLock { $0.append(payload) }
            ack.release()
        }
    }
}

