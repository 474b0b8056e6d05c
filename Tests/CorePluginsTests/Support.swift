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

    func config(_ id: String, plugin: any Plugin.Type, options: [String: Value], jobstore: String? = nil,
                vars: Record = Record()) -> NodeConfig {
        var all: [String: OptionValue] = [:]
        for option in plugin.spec.options {
            if let d = option.defaultValue { all[option.name] = OptionValue(d, at: nil) }
        }
        for (k, v) in options { all[k] = OptionValue(v, at: SourceLocation(file: "w.yml", line: 1, column: 1)) }
        let info = WorkflowInfo(name: "test-flow", file: directory + "/w.yml", directory: directory, jobstore: jobstore, vars: vars)
        return NodeConfig(id: id, plugin: plugin.spec.name, options: all, location: SourceLocation(file: "w.yml", line: 2, column: 3), workflow: info)
    }

    func context(once: Bool = true) -> RunContext {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return RunContext(runID: "test-run", runDirectory: directory + "/run", once: once, logger: logger, stats: NodeStats(node: "n"))
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

func message(_ payload: Payload) -> Message { Message(payload, ack: Acknowledgement()) }
