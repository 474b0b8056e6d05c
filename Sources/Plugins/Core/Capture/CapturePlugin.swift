import Engine
import Foundation

/// `capture` (any → nothing): appends every message it receives to a file as one JSON line.
/// The sink users swap in to test a workflow without running jobs.
public struct CapturePlugin: ProcessorPlugin {
    static let path = NodeOption.requiredPath("path", help: "the JSON-lines file to append to (created if missing)")

    public static let spec = PluginSpec(
        name: "capture",
        summary: "Appends every message it receives to a file, one JSON line each (a test sink).",
        output: nil, options: [path])

    let writer: LineWriter

    public init(node: NodeConfig, context: RunContext) throws {
        let path = node[Self.path]
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        writer = try LineWriter(path: path)
    }

    public func process(_ payload: Payload, _ output: Output) async throws {
        let line = payload.typedJSON
        try writer.append(line)
    }

    public func finish() async throws { try writer.close() }
}
