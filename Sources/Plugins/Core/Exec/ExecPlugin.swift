import Engine
import Foundation
import Synchronization

/// The options and behaviour the three `exec` plugins share: a program in any language, started
/// once per copy and kept running, that answers one message at a time on its stdin and stdout.
///
/// A plugin's output port type is static (`PluginSpec.output`), so "record, arrow or nothing"
/// is three registered plugins over this one implementation: `exec` (→ record), `exec-arrow`
/// (→ arrow) and `exec-sink` (→ nothing). What each takes is the node's `input:` option, checked
/// at load time against the upstream node's port type (the plugins take `Payload`).
enum ExecOptions {
    static let command = OptionalNodeOption.strings(
        "command", help: "the program and its arguments, [PROGRAM, ARG...]; PROGRAM is looked up on PATH (never through a shell)")
    static let input = NodeOption.choice(
        "input", ["record", "arrow"], default: "record",
        help: "what the program reads: record = one JSON line per message, arrow = a length-prefixed Arrow IPC stream per message")
    static let concurrency = NodeOption.int("concurrency", default: 1, atLeast: 1, atMost: 256, help: "how many copies of the program run")
    static let pipeline = NodeOption.int(
        "pipeline", default: 1, atLeast: 1, atMost: 1024,
        help: "how many messages each copy is sent before it has answered the first (answers come back in order); more keeps the pipe busy, and a program that dies fails every message it had")
    static let timeout = NodeOption.duration(
        "timeout", default: .seconds(60), atLeast: .milliseconds(1),
        help: "how long one answer may take; then the message fails and the program is restarted")
    static let restartDelay = NodeOption.duration(
        "restart_delay", default: .milliseconds(100), atLeast: .zero, help: "the first wait before restarting a program that died; doubles each time, up to restart_max_delay")
    static let restartMaxDelay = NodeOption.duration(
        "restart_max_delay", default: .seconds(10), atLeast: .zero, help: "the longest wait before restarting a program that died")
    static let maxLine = NodeOption.int(
        "max_line", default: 67_108_864, atLeast: 1,
        help: "the longest answer, in bytes, a program may write (a JSON line, or an Arrow frame for exec-arrow); a longer one fails the message and the program is restarted")
    static let envPassthrough = NodeOption.strings(
        "env_passthrough", default: [], help: "names of Hypha's environment variables the program also gets (it gets PATH, HOME, LANG and a few others)")

    static let all: [any OptionDeclaration] = [command, input, concurrency, pipeline, timeout, restartDelay, restartMaxDelay, maxLine, envPassthrough]

    /// The program of `command`, as written and where it was found, and its arguments.
    static func program(of node: NodeConfig) throws(Diagnostic) -> (name: String, path: String, arguments: [String]) {
        guard let command = node[Self.command], let program = command.first, !program.isEmpty else {
            throw Diagnostic("node '\(node.id)' (\(node.plugin)) needs 'command: [PROGRAM, ARG...]'", at: node.location(of: Self.command))
        }
        guard let path = ProgramLocator().locate(program, workingDirectory: node.workflow.directory) else {
            throw Diagnostic("node '\(node.id)': program '\(program)' of 'command' is not an executable file or on PATH",
                             at: node.location(of: Self.command))
        }
        return (program, path, Array(command.dropFirst()))
    }

    /// Load-time checks: the command is there and its program found; `input:` fits the upstream.
    static func validate(_ node: NodeConfig) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        do {
            _ = try program(of: node)
        } catch {
            problems.append(error)
        }
        let wanted: PortType = node[Self.input] == "arrow" ? .arrow : .record
        for (upstream, spec) in zip(node.upstream, node.upstreamSpecs) {
            guard let produced = spec.output, produced != wanted else { continue }
            problems.append(Diagnostic(
                "port type mismatch: '\(upstream)' (\(spec.name)) emits \(produced), but '\(node.id)' (\(node.plugin)) has input: \(wanted.rawValue)"
                    + (produced == .arrow || produced == .record ? "; set input: \(produced.rawValue)" : ""),
                at: node.location(of: Self.input)))
        }
        return problems
    }
}

/// What an `exec` node runs: its copies of the program, each sent up to `pipeline` messages at
/// once (what the `ExecVariant`s share).
public final class ExecNode: Sendable {
    let settings: ExecSettings
    /// Messages in flight on each copy.
    private let load: Mutex<[Int]>
    private let all: [ExecWorker]

    init(node: NodeConfig, context: RunContext, output: PortType?) throws {
        let (program, path, arguments) = try ExecOptions.program(of: node)
        settings = ExecSettings(
            nodeID: node.id, program: program, executable: path, arguments: arguments,
            directory: node.workflow.directory,
            environment: JobEnvironment(passthrough: node[ExecOptions.envPassthrough]),
            input: node[ExecOptions.input] == "arrow" ? .arrow : .record, output: output,
            timeout: node[ExecOptions.timeout], pipeline: node[ExecOptions.pipeline], maxLine: node[ExecOptions.maxLine],
            backoff: RetryPolicy(maxAttempts: Int.max, initialDelay: node[ExecOptions.restartDelay].inSeconds,
                                 maxDelay: node[ExecOptions.restartMaxDelay].inSeconds),
            logger: context.logger)
        let copies = node[ExecOptions.concurrency]
        let settings = settings
        all = (0..<copies).map { ExecWorker(settings: settings, copy: $0) }
        load = Mutex(Array(repeating: 0, count: copies))
    }

    var concurrency: Int { all.count * settings.pipeline }

    func process(_ payload: Payload, _ output: Output) async throws {
        let message: Data
        switch (settings.input, payload) {
        case (.record, .record(let record)):
            var bytes: [UInt8] = []
            Value.map(record).writeJSON(into: &bytes)
            bytes.append(UInt8(ascii: "\n"))
            message = Data(bytes)
        case (.arrow, .arrow(let arrow)):
            let ipc = try arrow.ipcBytes()
            var frame = Data(capacity: ipc.count + 4)
            withUnsafeBytes(of: UInt32(ipc.count).littleEndian) { frame.append(contentsOf: $0) }
            frame.append(ipc)
            message = frame
        default:
            throw MessageFailure("exec '\(settings.program)' takes \(settings.input.rawValue) messages, but got \(payload.portType.rawValue)")
        }
        // The runtime hands this node at most `concurrency` × `pipeline` messages at once: each
        // goes to the copy with the fewest.
        let pipeline = settings.pipeline
        guard let copy = load.withLock({ load -> Int? in
            guard let least = load.indices.min(by: { load[$0] < load[$1] }), load[least] < pipeline else { return nil }
            load[least] += 1
            return least
        }) else {
            throw MessageFailure("exec '\(settings.program)': every copy has 'pipeline' messages in flight already")
        }
        defer { load.withLock { $0[copy] -= 1 } }
        let outputs = try await all[copy].handle(message)
        for payload in outputs { try await output.emit(payload) }
    }

    func finish() async {
        await withTaskGroup(of: Void.self) { group in
            for worker in all { group.addTask { await worker.stop() } }
        }
    }
}

/// What the three exec plugins share: each is an `ExecNode` whose answers are its spec's output.
public protocol ExecVariant: ProcessorPlugin where Input == Payload {
    var exec: ExecNode { get }
    init(exec: ExecNode)
}

extension ExecVariant {
    public static func validate(_ node: NodeConfig) -> [Diagnostic] { ExecOptions.validate(node) }
    /// The program's files named in `command` (a script, its own program file), as found
    /// from the workflow's folder: editing the script restarts the node under `run --watch`.
    public static func filesRead(by node: NodeConfig) -> [String] {
        (node[ExecOptions.command] ?? []).compactMap { word in
            guard word.contains("/") || word.contains(".") else { return nil }
            let path = node.workflow.resolve(word)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
            return path
        }
    }
    public init(node: NodeConfig, context: RunContext) throws {
        self.init(exec: try ExecNode(node: node, context: context, output: Self.spec.output))
    }
    public var concurrency: Int { exec.concurrency }
    public func process(_ payload: Payload, _ output: Output) async throws { try await exec.process(payload, output) }
    public func finish() async throws { await exec.finish() }
}

/// `exec` (record|arrow → record): a program in any language as a transform; see `ExecOptions`.
public struct ExecPlugin: ExecVariant {
    public static let spec = PluginSpec(
        name: "exec",
        summary: "Runs a program in any language as a transform emitting records: one JSON line in, one JSON array of records (or {\"error\": ...}) out.",
        output: .record, options: ExecOptions.all)
    public let exec: ExecNode
    public init(exec: ExecNode) { self.exec = exec }
}

/// `exec-arrow` (record|arrow → arrow): as `exec`, answering with length-prefixed Arrow IPC streams.
public struct ExecArrowPlugin: ExecVariant {
    public static let spec = PluginSpec(
        name: "exec-arrow",
        summary: "Runs a program in any language as a transform emitting Arrow: each answer a length-prefixed Arrow IPC stream.",
        output: .arrow, options: ExecOptions.all)
    public let exec: ExecNode
    public init(exec: ExecNode) { self.exec = exec }
}

/// `exec-sink` (record|arrow →): as `exec`, a sink; the program answers `[]` (or an error) per message.
public struct ExecSinkPlugin: ExecVariant {
    public static let spec = PluginSpec(
        name: "exec-sink",
        summary: "Runs a program in any language as a sink: it answers [] (or {\"error\": ...}) to each message.",
        output: nil, options: ExecOptions.all)
    public let exec: ExecNode
    public init(exec: ExecNode) { self.exec = exec }
}
