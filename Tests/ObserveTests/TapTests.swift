import Engine
import Foundation
import HyphaArrow
@testable import Observe
import Testing

/// The tap of a node (`/api/v1/tap/NODE`): its readers' bounded buffers, which records it
/// passes on, and how each kind of message is printed.
@Suite(.timeLimit(.minutes(1))) struct TapTests {
    static func record(_ n: Int) -> Payload { .record(Record([("n", .int(Int64(n)))])) }

    static func numbers(_ reader: TapReader, count: Int) async -> [Int64] {
        var seen: [Int64] = []
        for await item in reader.items {
            if case .message(.record(let record)) = item, let n = record["n"]?.intValue { seen.append(n) }
            if seen.count == count { break }
        }
        return seen
    }

    @Test func anUntappedNodeTakesNothing() async {
        let tap = NodeTap()
        #expect(!tap.isTapped)
        tap.offer(Self.record(1))
        let reader = tap.attach(capacity: 4)
        #expect(tap.isTapped)
        tap.detach(reader)
        #expect(!tap.isTapped)
        // Neither the message offered before the reader came nor one offered after it left is in
        // its buffer, and the one after is not counted dropped.
        reader.offer(Self.record(2))
        #expect(reader.takeDropped() == 0)
        var held = 0
        for await _ in reader.items { held += 1 }
        #expect(held == 0)
    }

    @Test func aReaderThatDoesNotReadLosesWhatDoesNotFitAndIsToldHowMuch() async {
        let tap = NodeTap()
        let slow = tap.attach(capacity: 4)
        let other = tap.attach(capacity: 100)
        // Nobody reads while these are offered: offering must return at once each time.
        for n in 0..<10 { tap.offer(Self.record(n)) }
        #expect(slow.takeDropped() == 6)
        #expect(slow.takeDropped() == 0, "the count is said once")
        #expect(other.takeDropped() == 0)
        #expect(await Self.numbers(slow, count: 4) == [0, 1, 2, 3], "the oldest are kept, in order")
        #expect(await Self.numbers(other, count: 10) == Array(0..<10))
        // Read, the buffer takes messages again.
        tap.offer(Self.record(10))
        #expect(await Self.numbers(slow, count: 1) == [10])
    }

    @Test func theRunEndingEndsEveryReaderAfterWhatItHolds() async {
        let tap = NodeTap()
        let reader = tap.attach(capacity: 8)
        tap.offer(Self.record(1))
        tap.offer(Self.record(2))
        tap.finishAll()
        #expect(!tap.isTapped)
        var seen = 0
        for await _ in reader.items { seen += 1 }
        #expect(seen == 2)
    }

    @Test func samplingKeepsAnEvenShareAndTheLimitStops() {
        func kept(_ selection: TapSelection, of count: Int) -> [Int] {
            var selection = selection
            return (0..<count).filter { _ in selection.take() }
        }
        #expect(kept(TapSelection(), of: 5) == [0, 1, 2, 3, 4])
        #expect(kept(TapSelection(rate: 0.25), of: 12) == [0, 4, 8])
        #expect(kept(TapSelection(rate: 0.5), of: 6) == [0, 2, 4])
        #expect(kept(TapSelection(rate: 0.1), of: 1000).count == 100)
        #expect(kept(TapSelection(rate: 1, limit: 3), of: 10) == [0, 1, 2])
        #expect(kept(TapSelection(rate: 0.5, limit: 2), of: 10) == [0, 2])
    }

    @Test func arrowRowsPrintAsHyphaArrowDoesOthersAsCaptureWritesThem() throws {
        let schema = ArrowSchema(fields: [ArrowField(name: "path", type: .utf8), ArrowField(name: "size", type: .int64)])
        let batch = try RecordBatch(schema: schema, rows: [[.string("a.zip"), .int(1)], [.string("b\n.zip"), .int(2)]])
        let table = ArrowTable(schema: schema, batches: [batch])
        #expect(TapRecords(.arrow(ArrowData(table: table))).map(\.json) == ArrowJSON.lines(table).split(separator: "\n").map(String.init))
        #expect(TapRecords(.arrow(ArrowData(table: table))).map(\.json) == [#"{"path":"a.zip","size":1}"#, #"{"path":"b\n.zip","size":2}"#])
        #expect(TapRecords(Self.record(7)).map(\.json) == [#"{"n":7}"#])
        let job = Job(name: "j", spec: Record([("Name", .string("j"))]), renderedBy: "spec", input: Record([("path", .string("a.zip"))]))
        let line = try #require(TapRecords(.job(job)).map(\.json).first)
        #expect(line.hasPrefix(#"{"type":"job","value":"#) && line.contains(#""path":"a.zip""#), "\(line)")
        #expect(TapRecords(.arrow(ArrowData(bytes: Data([1, 2, 3])))).map(\.json).first?.contains("tap_error") == true)
    }
}
