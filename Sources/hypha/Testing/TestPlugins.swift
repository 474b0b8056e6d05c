import Engine
import HyphaArrow
import Synchronization
import CorePlugins

/// What reached each observed node in the current test, as values.
enum Observations {
    static let store = Mutex<[String: [Value]]>([:])

    static func reset() { store.withLock { $0 = [:] } }

    static func record(_ node: String, _ value: Value) { store.withLock { $0[node, default: []].append(value) } }

    static func values(at node: String) -> [Value] { store.withLock { $0[node] ?? [] } }

    /// A message as tests see it: a record, a job (`name`, `spec`, `rendered_by`, `input`), a
    /// result's record, or an Arrow message's rows (`rows`).
    static func value(of input: Any) -> Value {
        switch input {
        case let payload as Payload:
            switch payload {
            case .arrow(let data): return value(of: data)
            case .record(let record): return .map(record)
            case .job(let job): return job.value
            case .result(let result): return .map(result.record)
            }
        case let record as Record: return .map(record)
        case let job as Job: return job.value
        case let result as JobResult: return .map(result.record)
        case let either as RecordOrResult:
            switch either {
            case .record(let record): return .map(record)
            case .result(let result): return .map(result.record)
            }
        case let data as ArrowData:
            guard let table = try? data.table() else { return .map(Record([("rows", .null)])) }
            return .map(Record([("rows", .list(ArrowDecodePlugin.records(table).map(Value.map)))]))
        default:
            return .null
        }
    }

    /// `type` wrapped so that what reaches the node (what a source emits) is recorded.
    static func observed(_ type: any Plugin.Type) -> any Plugin.Type {
        if let processor = type as? any ProcessorPlugin.Type { return observedProcessor(processor) }
        if let source = type as? any SourcePlugin.Type { return observedSource(source) }
        return type
    }

    static func observedProcessor<P: ProcessorPlugin>(_: P.Type) -> any Plugin.Type { ObservedProcessor<P>.self }
    static func observedSource<S: SourcePlugin>(_: S.Type) -> any Plugin.Type { ObservedSource<S>.self }
}

/// A processor that records each message it takes, then lets `P` handle it.
struct ObservedProcessor<P: ProcessorPlugin>: ProcessorPlugin {
    typealias Input = P.Input
    static var spec: PluginSpec { P.spec }
    static var input: InputPorts { P.input }

    let inner: P
    let node: String

    init(node: NodeConfig, context: RunContext) throws {
        inner = try P(node: node, context: context)
        self.node = node.id
    }

    var concurrency: Int { inner.concurrency }

    func process(_ input: P.Input, _ output: Output) async throws {
        Observations.record(node, Observations.value(of: input))
        try await inner.process(input, output)
    }

    func finish() async throws { try await inner.finish() }
}

/// A source that records each message it emits.
struct ObservedSource<S: SourcePlugin>: SourcePlugin {
    static var spec: PluginSpec { S.spec }

    let inner: S
    let node: String

    init(node: NodeConfig, context: RunContext) throws {
        inner = try S(node: node, context: context)
        self.node = node.id
    }

    func run(_ output: SourceOutput) async throws {
        let node = self.node
        let observed = SourceOutput(once: output.once, hasRoom: output.hasRoom, onReady: output.ready,
                                    onFailure: { await output.fail($0.reason, keeping: $0.item, as: $0.key) },
                                    onRecovered: output.recovered, received: output.received) { payload, ack in
            Observations.record(node, Observations.value(of: payload))
            try await output.emit(payload) { delivery in
                switch delivery {
                case .delivered: ack.release()
                case .failed(let reason): ack.release(failure: reason)
                case .interrupted: ack.release(interrupted: true)
                }
            }
        }
        try await inner.run(observed)
    }
}

/// A stand-in executor: every job ends with the result the test gives (`state`, `exit_code`,
/// `stdout`, `stderr` and any other fields), and nothing runs. A state other than Completed,
/// or an exit code other than 0, fails the message as a failed job would.
struct MockExecutorPlugin: ProcessorPlugin {
    static let spec = PluginSpec(
        name: "hypha-test-mock", summary: "A test's stand-in for an executor: returns the given result, runs nothing.",
        output: .result, options: [], outputSchema: ExecutorResult.schema())

    /// The option the test runner puts the result in (after the workflow is checked).
    static let resultOption = "result"

    let result: Record
    var concurrency: Int { 16 }

    init(node: NodeConfig, context: RunContext) throws {
        result = node.value(Self.resultOption)?.recordValue ?? Record()
    }

    func process(_ job: Job, _ output: Output) async throws {
        let state = result["state"]?.text ?? "Completed"
        let exitCode = result["exit_code"]?.intValue ?? 0
        let excerpt = ExecutorResult.excerpt(result["stderr"]?.text ?? "")
        guard state.lowercased() == "completed" else {
            throw MessageFailure("job '\(job.name)' (mocked) ended \(state), exit code \(exitCode)" + excerpt)
        }
        guard exitCode == 0 else {
            throw MessageFailure("job '\(job.name)' (mocked) failed with exit code \(exitCode)" + excerpt)
        }
        var details = ExecutorResult(id: job.name, executor: "mock", exitCode: exitCode, duration: .zero,
                                     stdout: result["stdout"]?.text ?? "", stderr: result["stderr"]?.text ?? "",
                                     stdoutPath: nil, stderrPath: nil).details()
        for (name, value) in result.fields where !["state", "exit_code", "stdout", "stderr"].contains(name) {
            details[name] = value
        }
        try await output.emit(.result(JobResult(job: job, state: .completed, details: details)))
    }
}

/// A stand-in sink: takes every message and sends it nowhere (the test observes it).
struct CaptureMockPlugin: ProcessorPlugin {
    static let spec = PluginSpec(
        name: "hypha-test-capture", summary: "A test's stand-in for a sink: keeps what reaches it, sends nothing.",
        output: nil, options: [])

    var concurrency: Int { 16 }

    init(node: NodeConfig, context: RunContext) throws {}

    func process(_ payload: Payload, _ output: Output) async throws {}
}
