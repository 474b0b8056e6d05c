import Engine
import Foundation
import HTTPTypes
import Hummingbird
import HyphaArrow
import NIOCore

/// `GET /api/v1/tap/NODE?sample=RATE&limit=N`: what leaves a node, live, as server-sent events
/// (docs/OBSERVE.md, "Tap"). `hypha tap` reads it.
extension ObserveServer {
    /// The time between keep-alive comments: they show a proxy an idle stream is alive, and a
    /// write to a reader that has gone ends the tap even while the node emits nothing.
    static let tapKeepAlive: Duration = .seconds(15)

    func tap(node id: String, request: Request) -> Response {
        let parameters = request.uri.queryParameters
        var selection = TapSelection()
        if let asked = parameters.get("sample") {
            guard let rate = Double(asked), rate > 0, rate <= 1 else {
                return Self.error(.badRequest, "sample must be a fraction above 0 and at most 1 (0.1 keeps about one record in ten), got '\(asked)'")
            }
            selection = TapSelection(rate: rate)
        }
        if let asked = parameters.get("limit") {
            guard let limit = Int(asked), limit >= 1 else {
                return Self.error(.badRequest, "limit must be a number of records from 1, got '\(asked)'")
            }
            selection.limit = limit
        }
        let asked = selection
        let watcher = self.watcher
        guard let (tap, output) = watcher.tap(node: id) else {
            let emitting = watcher.plan.nodes.filter { $0.spec.output != nil }.map(\.config.id)
            if let sink = watcher.plan.nodes.first(where: { $0.config.id == id }) {
                return Self.error(.badRequest, "node '\(id)' (\(sink.config.plugin)) is a sink: nothing leaves it; "
                                  + "tap one of the nodes that emit: \(emitting.joined(separator: ", "))")
            }
            return Self.error(.notFound, "no node '\(id)' in workflow '\(watcher.plan.info.name)'; its nodes that emit: "
                              + emitting.joined(separator: ", "))
        }
        guard !watcher.isFinished else {
            return Self.error(.conflict, "the run has ended: nothing leaves '\(id)' any more")
        }
        let reader = tap.attach()
        let hello = Value.map(Record([("node", .string(id)), ("type", .string(output.rawValue)),
                                      ("workflow", .string(watcher.plan.info.name)), ("run_id", .string(watcher.runID))]))
        openTaps.add(1, ordering: .relaxed)
        let body = ResponseBody { writer in
            defer {
                tap.detach(reader)
                self.openTaps.subtract(1, ordering: .relaxed)
            }
            try await writer.write(ByteBuffer(string: ": hypha tap\nevent: tap\ndata: \(hello.json)\n\n"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while true {
                        try await Task.sleep(for: Self.tapKeepAlive)
                        reader.keepAlive()
                    }
                }
                var selection = asked
                var reason = "finished"
                for await item in reader.items {
                    var frames = Self.droppedFrame(reader.takeDropped())
                    switch item {
                    case .keepAlive: frames += ": keep-alive\n\n"
                    case .message(let payload):
                        for record in TapRecords(payload) where selection.take() {
                            frames += "data: \(record.json)\n\n"
                            if selection.isDone { break }
                        }
                    }
                    if !frames.isEmpty { try await writer.write(ByteBuffer(string: frames)) }
                    if selection.isDone {
                        reason = "limit"
                        break
                    }
                }
                group.cancelAll()
                let end = Value.map(Record([("reason", .string(reason))]))
                try await writer.write(ByteBuffer(string: Self.droppedFrame(reader.takeDropped()) + "event: end\ndata: \(end.json)\n\n"))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    /// The `dropped` event for `count` messages, or nothing.
    static func droppedFrame(_ count: Int) -> String {
        count == 0 ? "" : "event: dropped\ndata: {\"dropped\":\(count)}\n\n"
    }
}

/// Which records a tap passes on: about `rate` of them, evenly spread and deterministic (1 in
/// 1/rate, the first one kept), and at most `limit`.
struct TapSelection: Sendable {
    var rate = 1.0
    var limit: Int?
    private(set) var taken = 0
    /// Credit toward the next record kept; starts full so the first record is kept.
    private var credit = 1.0

    init(rate: Double = 1.0, limit: Int? = nil) {
        self.rate = rate
        self.limit = limit
    }

    /// Whether to pass on the next record (counted when it is).
    mutating func take() -> Bool {
        guard !isDone else { return false }
        guard credit >= 1 - 1e-9 else {
            credit += rate
            return false
        }
        credit -= 1
        credit += rate
        taken += 1
        return true
    }

    var isDone: Bool { limit.map { taken >= $0 } ?? false }
}

/// The records a tapped message stands for, each turned into JSON only when asked: a row of
/// Arrow data each (as `hypha arrow` prints them), a record as itself, a job or a result as
/// the capture sink writes it (`{"type": ..., "value": ...}`).
struct TapRecords: Sequence {
    struct Line {
        fileprivate let make: () -> String
        var json: String { make() }
    }

    let payload: Payload

    init(_ payload: Payload) { self.payload = payload }

    func makeIterator() -> AnyIterator<Line> {
        switch payload {
        case .arrow(let data):
            let batches: [RecordBatch]
            do {
                batches = try data.table().batches
            } catch {
                let failure = Value.map(Record([("tap_error", .string("the Arrow data could not be read: \(error)"))])).json
                return AnyIterator([Line { failure }].makeIterator())
            }
            var rows = batches.lazy.flatMap { batch in (0..<batch.rowCount).lazy.map { row in (batch, row) } }.makeIterator()
            return AnyIterator { rows.next().map { batch, row in Line { ArrowJSON.line(batch: batch, row: row) } } }
        case .record(let record):
            return AnyIterator([Line { Value.map(record).json }].makeIterator())
        case .job, .result:
            return AnyIterator([Line { payload.typedJSON }].makeIterator())
        }
    }
}
