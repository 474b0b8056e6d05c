import Engine
import Synchronization

/// Small plugins for testing the engine without the built-in ones.
struct NumbersSource: SourcePlugin {
    static let count = NodeOption.requiredInt("count", atLeast: 0, help: "how many")
    static let spec = PluginSpec(name: "numbers", summary: "emits records n=0..<count", output: .record, options: [count],
                                 outputFields: ["n"])
    let count: Int
    init(node: NodeConfig, context: RunContext) throws { count = node[Self.count] }
    func run(_ output: SourceOutput) async throws {
        for n in 0..<count {
            try await output.emit(.record(Record([("n", .int(Int64(n)))])), onComplete: { AckLog.shared.record(n, $0) })
            Lag.shared.emitted()
        }
    }
}

/// Emits each record's `n` doubled; fails on n == `fail_on`.
struct DoubleTransform: ProcessorPlugin {
    static let failOn = OptionalNodeOption.int("fail_on", help: "fail this n")
    static let parallel = NodeOption.int("parallel", default: 1, atLeast: 1, help: "concurrency")
    static let spec = PluginSpec(name: "double", summary: "doubles n", output: .record, options: [failOn, parallel])
    let failOn: Int64?
    let concurrency: Int
    init(node: NodeConfig, context: RunContext) throws {
        failOn = node[Self.failOn].map(Int64.init)
        concurrency = node[Self.parallel]
    }
    func process(_ record: Record, _ output: Output) async throws {
        guard let n = record["n"]?.intValue else { return }
        if n == failOn { throw MessageFailure("boom at \(n)") }
        try await output.emit(.record(Record([("n", .int(n * 2))])))
    }
}

/// Collects what it receives.
struct CollectSink: ProcessorPlugin {
    static let delay = NodeOption.int("delay_ms", default: 0, atLeast: 0, help: "slow down")
    static let label = OptionalNodeOption.string("label", help: "free text, kept as written")
    static let mode = NodeOption.choice("mode", ["all", "none"], default: "all", help: "what to collect")
    static let spec = PluginSpec(name: "collect", summary: "collects", output: nil, options: [delay, label, mode])
    let delay: Int
    let id: String
    init(node: NodeConfig, context: RunContext) throws {
        delay = node[Self.delay]
        id = node.id
    }
    func process(_ payload: Payload, _ output: Output) async throws {
        Lag.shared.received()
        if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
        if case .record(let r) = payload, let n = r["n"]?.intValue { Collected.shared.add(id, n) }
    }
}

/// A sink that takes `delay_ms` per message, `parallel` at once, and records how many it had at once.
struct GaugeSink: ProcessorPlugin {
    static let parallel = NodeOption.int("parallel", default: 1, atLeast: 1, help: "concurrency")
    static let delay = NodeOption.int("delay_ms", default: 1, atLeast: 0, help: "time per message")
    static let spec = PluginSpec(name: "gauge", summary: "measures concurrency", output: nil, options: [parallel, delay])
    let concurrency: Int
    let delay: Int
    init(node: NodeConfig, context: RunContext) throws {
        concurrency = node[Self.parallel]
        delay = node[Self.delay]
    }
    func process(_ payload: Payload, _ output: Output) async throws {
        Gauge.shared.enter()
        try await Task.sleep(for: .milliseconds(delay))
        Gauge.shared.leave()
    }
}

final class Gauge: Sendable {
    static let shared = Gauge()
    private let state = Mutex<(now: Int, most: Int, handled: Int)>((0, 0, 0))
    func enter() { state.withLock { $0.now += 1; $0.most = max($0.most, $0.now) } }
    func leave() { state.withLock { $0.now -= 1; $0.handled += 1 } }
    func reset() { state.withLock { $0 = (0, 0, 0) } }
    var most: Int { state.withLock { $0.most } }
    var handled: Int { state.withLock { $0.handled } }
}

/// A job-typed sink, to test port type mismatches.
struct JobSink: ProcessorPlugin {
    static let spec = PluginSpec(name: "job-sink", summary: "takes jobs", output: .result, options: [])
    init(node: NodeConfig, context: RunContext) throws {}
    func process(_ job: Job, _ output: Output) async throws {}
}

final class Collected: Sendable {
    static let shared = Collected()
    private let items = Mutex<[String: [Int64]]>([:])
    func add(_ id: String, _ n: Int64) { items.withLock { $0[id, default: []].append(n) } }
    func take(_ id: String) -> [Int64] { items.withLock { $0.removeValue(forKey: id) ?? [] } }
}

/// How far the source ran ahead of the sinks: the most messages emitted but not yet received.
final class Lag: Sendable {
    static let shared = Lag()
    private let state = Mutex<(emitted: Int, received: Int, most: Int)>((0, 0, 0))
    func emitted() { state.withLock { $0.emitted += 1; $0.most = max($0.most, $0.emitted - $0.received) } }
    func received() { state.withLock { $0.received += 1 } }
    func reset() { state.withLock { $0 = (0, 0, 0) } }
    var most: Int { state.withLock { $0.most } }
}

final class AckLog: Sendable {
    static let shared = AckLog()
    private let items = Mutex<[Int: Delivery]>([:])
    func record(_ n: Int, _ d: Delivery) { items.withLock { $0[n] = d } }
    func take() -> [Int: Delivery] {
        items.withLock { items in
            defer { items = [:] }
            return items
        }
    }
}

let testRegistry = PluginRegistry([NumbersSource.self, DoubleTransform.self, CollectSink.self, GaugeSink.self, JobSink.self])
