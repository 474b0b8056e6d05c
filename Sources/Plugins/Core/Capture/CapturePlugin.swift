import Engine
import Foundation

/// `capture` (any → nothing): appends every message it receives to a file as one JSON line.
/// The sink users swap in to test a workflow without running jobs.
public struct CapturePlugin: ProcessorPlugin {
    public static let spec = PluginSpec(
        name: "capture",
        summary: "Appends every message it receives to a file, one JSON line each (a test sink).",
        input: .any, output: nil,
        options: [
            OptionSpec("path", .path, required: true, help: "the JSON-lines file to append to (created if missing)"),
        ])

    let writer: LineWriter

    public init(node: NodeConfig, context: RunContext) throws {
        let path = node.path("path") ?? "capture.jsonl"
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        writer = try LineWriter(path: path)
    }

    public func process(_ message: Message, _ output: Output) async throws {
        let line = Value.map(Record([("type", .string(message.payload.portType.rawValue)), ("value", message.payload.value)])).json
        try writer.append(line)
    }

    public func finish() async throws { try writer.close() }
}
