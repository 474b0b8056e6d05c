import CorePlugins
import Engine
import Foundation
import Logging
import Testing

/// A plugin as a plugin author writes it: a spec with its options, an `init` that reads them,
/// and `process` for the value it takes. docs/PLUGINS.md walks through this file.
struct ShoutPlugin: ProcessorPlugin {
    static let field = NodeOption.string("field", default: "name", help: "the field to upper-case")
    static let suffix = NodeOption.string("suffix", default: "!", help: "what to add at the end")

    static let spec = PluginSpec(
        name: "shout", summary: "Upper-cases one field of each record.",
        output: .record, options: [field, suffix], forwardsFields: true)

    let field: String
    let suffix: String

    init(node: NodeConfig, context: RunContext) throws {
        field = node[Self.field]
        suffix = node[Self.suffix]
    }

    func process(_ record: Record, _ output: Output) async throws {
        guard let text = record[field]?.stringValue else {
            throw MessageFailure("the record has no text field '\(field)'")
        }
        var shouted = record
        shouted[field] = .string(text.uppercased() + suffix)
        try await output.emit(.record(shouted))
    }
}

@Suite(.timeLimit(.minutes(5))) struct WritingAPluginTests {
    @Test func aPluginFromATestTargetRunsInAWorkflow() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let inbox = h.directory + "/in"
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        for name in ["a.txt", "b.txt"] { FileManager.default.createFile(atPath: "\(inbox)/\(name)", contents: Data()) }

        var registry = PluginRegistry([FileWatchPlugin.self, ArrowDecodePlugin.self, CapturePlugin.self])
        registry.register(ShoutPlugin.self)  // the one line a new plugin needs

        let plan = try WorkflowLoader(registry: registry).load(text: """
            name: shouting
            nodes:
              files: { plugin: file-watch, path: in }
              decode: { plugin: arrow-decode, from: files }
              shout: { plugin: shout, from: decode, suffix: "!!" }
              out: { plugin: capture, from: shout, path: out.jsonl }
            """, path: h.directory + "/w.yml")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let runtime = WorkflowRuntime(plan: plan, once: true, runDirectory: h.directory + "/run", runID: "r", logger: logger)
        let summary = try await runtime.run()
        #expect(summary.succeeded)

        let lines = try String(contentsOfFile: h.directory + "/out.jsonl", encoding: .utf8).split(separator: "\n")
        let names = try lines.map { line -> String in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require((object["value"] as? [String: Any])?["name"] as? String)
        }
        #expect(names.sorted() == ["A.TXT!!", "B.TXT!!"])

        // Its options are checked like a built-in's, with "did you mean".
        #expect { _ = try WorkflowLoader(registry: registry).load(text: """
            nodes:
              files: { plugin: file-watch, path: in }
              decode: { plugin: arrow-decode, from: files }
              shout: { plugin: shout, from: decode, sufix: "?" }
            """, path: h.directory + "/w.yml") } throws: { "\($0)".contains("did you mean 'suffix'") }
    }
}
