import Engine
import Foundation
import Logging
import Synchronization
import Testing

/// What the reload test plugins did, in order.
final class ReloadLog: Sendable {
    private static let active = Mutex(ReloadLog())
    /// The log of the test running now (the suite runs its tests one at a time).
    static var shared: ReloadLog { active.withLock { $0 } }
    /// Starts a new log (and a closed gate) for the next test.
    static func reset() { active.withLock { $0 = ReloadLog() } }
    private let state = Mutex<(events: [String], positions: Int, tagged: [(Int64, String)])>(([], 0, []))
    let gate = ShutdownSignal()
    func event(_ e: String) { state.withLock { $0.events.append(e) } }
    var events: [String] { state.withLock { $0.events } }
    func tagged(_ n: Int64, _ tag: String) { state.withLock { $0.tagged.append((n, tag)) } }
    var tags: [(n: Int64, tag: String)] { state.withLock { $0.tagged } }
    /// The next number a source emits: one past the last it emitted whose message ended (a checkpoint).
    func position() -> Int { state.withLock { $0.positions } }
    func ended(_ n: Int) { state.withLock { $0.positions = max($0.positions, n + 1) } }
}

/// Emits numbers from the recorded position: `first` of them, then the rest once the gate opens,
/// up to `count`. Records when it starts and settles, with its `tag`.
struct PositionSource: SourcePlugin {
    static let tag = NodeOption.string("tag", default: "a", help: "which instance")
    static let count = NodeOption.int("count", default: 40, atLeast: 1, help: "how many in all")
    static let first = NodeOption.int("first", default: 20, atLeast: 0, help: "how many before the gate")
    static let spec = PluginSpec(name: "positions", summary: "emits from a position", output: .record, options: [tag, count, first],
                                 outputFields: ["n"])
    let tag: String
    let count: Int
    let first: Int
    init(node: NodeConfig, context: RunContext) throws {
        tag = node[Self.tag]
        count = node[Self.count]
        first = node[Self.first]
    }
    func run(_ output: SourceOutput) async throws {
        ReloadLog.shared.event("start \(tag)")
        var n = ReloadLog.shared.position()
        while n < count {
            if n == first { await ReloadLog.shared.gate.wait() }
            try Task.checkCancellation()
            let sent = n
            try await output.emit(.record(Record([("n", .int(Int64(n))), ("source", .string(tag))]))) { _ in
                ReloadLog.shared.ended(sent)
            }
            n += 1
        }
    }
    func settle() async { ReloadLog.shared.event("settle \(tag)") }
}

/// Records each `n` with its `tag` option; records its finish.
struct TagSink: ProcessorPlugin {
    static let tag = NodeOption.string("tag", default: "A", help: "what to record")
    static let parallel = NodeOption.int("parallel", default: 1, atLeast: 1, help: "concurrency")
    static let spec = PluginSpec(name: "tag", summary: "records n with a tag", output: nil, options: [tag, parallel])
    let tag: String
    let concurrency: Int
    init(node: NodeConfig, context: RunContext) throws {
        tag = node[Self.tag]
        concurrency = node[Self.parallel]
    }
    func process(_ record: Record, _ output: Output) async throws {
        if let n = record["n"]?.intValue { ReloadLog.shared.tagged(n, tag) }
    }
    func finish() async throws { ReloadLog.shared.event("finish \(tag)") }
}

@Suite(.serialized, .timeLimit(.minutes(5))) struct ReloadTests {
    static let registry = PluginRegistry([PositionSource.self, TagSink.self])

    func plan(_ yaml: String) throws -> WorkflowPlan {
        try WorkflowLoader(registry: Self.registry).load(text: yaml, path: "w.yml")
    }

    func runtime(_ plan: WorkflowPlan) -> WorkflowRuntime {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-reload-\(UUID().uuidString)").path
        return WorkflowRuntime(plan: plan, once: false, runDirectory: dir, runID: "t", logger: logger, channelCapacity: 4)
    }

    func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    static func workflow(sourceTag: String = "a", sinkTag: String = "A", parallel: Int = 1) -> String {
        """
        nodes:
          src: { plugin: positions, tag: \(sourceTag), count: 40, first: 20 }
          sink: { plugin: tag, from: src, tag: \(sinkTag), parallel: \(parallel) }
        """
    }

    init() { ReloadLog.reset() }

    @Test func aChangedProcessorTakesTheNextMessagesAndLosesNone() async throws {
        let log = ReloadLog.shared
        let runtime = runtime(try plan(Self.workflow()))
        async let summary = runtime.run()
        try await waitUntil { log.tags.count == 20 }
        let replaced = try await runtime.reload(to: try plan(Self.workflow(sinkTag: "B", parallel: 3)))
        #expect(replaced == ["sink"])
        #expect(log.events.contains("finish A"))
        log.gate.trigger()
        try await waitUntil { log.tags.count >= 40 }
        runtime.stop()
        #expect(try await summary.succeeded)
        let tags = log.tags
        #expect(tags.map(\.n).sorted() == (0..<40).map { Int64($0) })
        #expect(tags.filter { $0.n < 20 }.allSatisfy { $0.tag == "A" })
        #expect(tags.filter { $0.n >= 20 }.allSatisfy { $0.tag == "B" })
        #expect(log.events == ["start a", "finish A", "finish B"])
    }

    @Test func aChangedSourceStartsAfterEverythingItEmittedHasEnded() async throws {
        let log = ReloadLog.shared
        let runtime = runtime(try plan(Self.workflow()))
        async let summary = runtime.run()
        try await waitUntil { log.tags.count == 20 }
        let replaced = try await runtime.reload(to: try plan(Self.workflow(sourceTag: "b")))
        #expect(replaced == ["src"])
        log.gate.trigger()
        try await waitUntil { log.tags.count >= 40 }
        runtime.stop()
        #expect(try await summary.succeeded)
        #expect(log.tags.map(\.n).sorted() == (0..<40).map { Int64($0) }, "every number once: none lost, none emitted twice")
        #expect(log.events == ["start a", "settle a", "start b", "finish A"],
                "the old source settles before the new one starts, which goes on from the recorded position")
    }

    /// A message put into a running node (the web view's retry) goes through like any other,
    /// and its completion is told; a source, an unknown node and a run that is over refuse.
    @Test func aMessageInjectedIntoARunningNodeGoesThrough() async throws {
        let log = ReloadLog.shared
        let runtime = runtime(try plan(Self.workflow()))
        await #expect(throws: WorkflowRuntime.InjectRefusal.self) {
            try await runtime.inject(.init(node: "sink", payload: .record(Record()), onComplete: { _ in }))
        }
        async let summary = runtime.run()
        try await waitUntil { log.tags.count == 20 }
        let delivered = Mutex<Delivery?>(nil)
        try await runtime.inject(.init(node: "sink", payload: .record(Record([("n", .int(100))])), onComplete: { outcome in
            delivered.withLock { $0 = outcome }
        }))
        try await waitUntil { delivered.withLock { $0 } == .delivered }
        #expect(log.tags.contains { $0.n == 100 })
        for node in ["src", "nowhere"] {
            await #expect {
                try await runtime.inject(.init(node: node, payload: .record(Record()), onComplete: { _ in }))
            } throws: { error in
                "\(error)".contains(node == "src" ? "is a source" : "has no node 'nowhere'")
            }
        }
        log.gate.trigger()
        try await waitUntil { log.tags.count >= 41 }
        runtime.stop()
        #expect(try await summary.succeeded)
        // Over: nothing is running to take it.
        await #expect { try await runtime.inject(.init(node: "sink", payload: .record(Record()), onComplete: { _ in })) } throws: {
            "\($0)".contains("not running")
        }
    }

    @Test func aChannelCanBeJoinedOnlyWhileOpen() async throws {
        let channel = BoundedChannel<Int>(capacity: 2)
        #expect(channel.join())
        channel.finish()  // the first producer; the one that joined is still open
        try await channel.send(1)
        channel.finish()
        #expect(!channel.join())
        #expect(await channel.receive() == 1)
        #expect(await channel.receive() == nil)
    }

    @Test func aVersionWithAnotherShapeIsRefusedAndChangesNothing() async throws {
        let log = ReloadLog.shared
        let runtime = runtime(try plan(Self.workflow()))
        async let summary = runtime.run()
        try await waitUntil { log.tags.count == 20 }
        let other = try plan(Self.workflow(sinkTag: "B") + "\n  more: { plugin: tag, from: src, tag: C }")
        await #expect(throws: WorkflowRuntime.ShapeChanged.self) { try await runtime.reload(to: other) }
        log.gate.trigger()
        try await waitUntil { log.tags.count >= 40 }
        runtime.stop()
        #expect(try await summary.succeeded)
        #expect(log.tags.allSatisfy { $0.tag == "A" })
    }
}
