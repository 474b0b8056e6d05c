import Engine
import Foundation
import Logging
import Synchronization
import Testing

@Suite(.serialized, .timeLimit(.minutes(5))) struct RuntimeTests {
    func run(_ yaml: String, capacity: Int = 4) async throws -> WorkflowRuntime.Summary {
        let plan = try WorkflowLoader(registry: testRegistry).load(text: yaml, path: "w.yml")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-rt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let runtime = WorkflowRuntime(plan: plan, once: true, runDirectory: dir, runID: "t", logger: logger, channelCapacity: capacity)
        return try await runtime.run()
    }

    @Test func fanOutAndFanInDeliverEveryMessageToEveryConsumer() async throws {
        _ = AckLog.shared.take()
        let summary = try await run("""
            nodes:
              src: { plugin: numbers, count: 50 }
              a: { plugin: double, from: src, parallel: 3 }
              b: { plugin: double, from: src }
              both: { plugin: collect, from: [a, b] }
              direct: { plugin: collect, from: src }
            """)
        #expect(summary.succeeded)
        let expectedBoth: [Int64] = (0..<50).flatMap { n -> [Int64] in [Int64(n * 2), Int64(n * 2)] }.sorted()
        let expectedDirect: [Int64] = (0..<50).map { Int64($0) }
        #expect(Collected.shared.take("both").sorted() == expectedBoth)
        #expect(Collected.shared.take("direct").sorted() == expectedDirect)
        let acks = AckLog.shared.take()
        #expect(acks.count == 50)
        #expect(acks.values.allSatisfy { $0 == .delivered })
    }

    @Test func aFailureIsCountedAndReachesTheSourceAcknowledgement() async throws {
        _ = AckLog.shared.take()
        let summary = try await run("""
            nodes:
              src: { plugin: numbers, count: 10 }
              a: { plugin: double, from: src, fail_on: 3 }
              s: { plugin: collect, from: a }
            """)
        #expect(!summary.succeeded)
        #expect(summary.failureCount == 1)
        #expect(Collected.shared.take("s").count == 9)
        let acks = AckLog.shared.take()
        #expect(acks.count == 10)
        if case .failed(let reason)? = acks[3] { #expect(reason.contains("a:")) } else { Issue.record("n=3 not failed") }
        #expect(acks.filter { $0.value == .delivered }.count == 9)
    }

    @Test func aConcurrentNodeRunsUpToItsLimitAtOnceAndNoMore() async throws {
        for limit in [1, 3] {
            Gauge.shared.reset()
            let summary = try await run("""
                nodes:
                  src: { plugin: numbers, count: 30 }
                  slow: { plugin: gauge, from: src, parallel: \(limit), delay_ms: 5 }
                """, capacity: 8)
            #expect(summary.succeeded)
            #expect(Gauge.shared.handled == 30)
            #expect(Gauge.shared.most == limit, "\(Gauge.shared.most) messages at once with parallel: \(limit)")
        }
    }

    @Test func aSlowSinkKeepsChannelsBounded() async throws {
        // 40 messages through a capacity-2 channel into a sink that takes 2 ms each: the
        // source never runs more than the channel (plus the one in hand) ahead; all arrive.
        Lag.shared.reset()
        let summary = try await run("""
            nodes:
              src: { plugin: numbers, count: 40 }
              s: { plugin: collect, from: src, delay_ms: 2 }
            """, capacity: 2)
        #expect(summary.succeeded)
        #expect(Collected.shared.take("s").count == 40)
        #expect(Lag.shared.most <= 4, "the source ran \(Lag.shared.most) messages ahead of a capacity-2 channel")
    }
}

@Suite(.timeLimit(.minutes(5))) struct BoundedChannelTests {
    @Test func sendersWaitWhileFull() async throws {
        let channel = BoundedChannel<Int>(capacity: 2)
        try await channel.send(1)
        try await channel.send(2)
        #expect(channel.count == 2)
        let third = Task { try await channel.send(3) }
        try await Task.sleep(for: .milliseconds(20))
        #expect(channel.count == 2)  // the third send is waiting, not buffered
        #expect(await channel.receive() == 1)
        try await third.value
        channel.finish()
        var rest: [Int] = []
        for await x in channel { rest.append(x) }
        #expect(rest == [2, 3])
    }

    @Test func endsAfterEveryProducerFinishes() async throws {
        let channel = BoundedChannel<Int>(capacity: 4, producers: 2)
        channel.finish()
        let returned = Atomic<Bool>(false)
        let receiver = Task {
            let element = await channel.receive()
            returned.store(true, ordering: .releasing)
            return element
        }
        // The receiver either waits (the channel is open to the second producer) or has
        // already been told the end (a channel that ended after the first finish).
        while channel.waitingConsumers == 0 && !returned.load(ordering: .acquiring) { await Task.yield() }
        try await channel.send(7)
        #expect(await receiver.value == 7, "one producer is left, so the channel has not ended")
        channel.finish()
        #expect(await channel.receive() == nil, "both producers finished: the end")
    }

    @Test func severalConsumersShareTheElementsEachOnceAndAllSeeTheEnd() async throws {
        let channel = BoundedChannel<Int>(capacity: 3)
        let consumers = (0..<4).map { _ in
            Task {
                var got: [Int] = []
                while let x = await channel.receive() { got.append(x) }
                return got
            }
        }
        for x in 0..<200 { try await channel.send(x) }
        channel.finish()
        var all: [Int] = []
        for consumer in consumers { all += await consumer.value }
        #expect(all.sorted() == Array(0..<200))  // every element once, none lost or doubled
    }

    /// Many senders and consumers on a one-place channel, every element through: a sender that
    /// finds the channel full while its consumers are about to wait must not wait for ever (a
    /// lost wake-up). The run is bounded, so a hang fails instead of hanging the suite.
    @Test func aOnePlaceChannelUnderManySendersAndConsumersNeverStalls() async throws {
        for round in 0..<20 {
            let channel = BoundedChannel<Int>(capacity: 1, producers: 4)
            let received = Tally()
            let finished = await withTaskGroup(of: Bool.self) { group -> Bool in
                group.addTask {
                    await withTaskGroup(of: Void.self) { work in
                        for p in 0..<4 {
                            work.addTask {
                                for x in 0..<2_000 { try? await channel.send(p * 2_000 + x) }
                                channel.finish()
                            }
                        }
                        for _ in 0..<4 {
                            work.addTask { while await channel.receive() != nil { received.add() } }
                        }
                    }
                    return true
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(60))
                    return false
                }
                let first = await group.next() ?? false
                if !first { channel.cancel() }
                group.cancelAll()
                return first
            }
            #expect(finished, "round \(round) stalled with \(received.value) of 8,000 received")
            #expect(received.value == 8_000)
            if !finished { return }
        }
    }

    @Test func waitingConsumersAreServedInTurn() async throws {
        let channel = BoundedChannel<Int>(capacity: 1)
        let first = Task { await channel.receive() }
        while channel.waitingConsumers < 1 { try await Task.sleep(for: .milliseconds(1)) }
        let second = Task { await channel.receive() }
        while channel.waitingConsumers < 2 { try await Task.sleep(for: .milliseconds(1)) }
        try await channel.send(1)
        try await channel.send(2)
        #expect(await first.value == 1)
        #expect(await second.value == 2)
    }

    @Test func cancelWakesWaitingSenders() async throws {
        let channel = BoundedChannel<Int>(capacity: 1)
        try await channel.send(1)
        let blocked = Task { try await channel.send(2) }
        try await Task.sleep(for: .milliseconds(10))
        channel.cancel()
        await #expect(throws: CancellationError.self) { try await blocked.value }
    }
}

/// A count shared by a test's tasks.
final class Tally: Sendable {
    private let count = Atomic(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
