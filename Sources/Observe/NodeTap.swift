import Engine
import Synchronization

/// What leaves one node, for the readers tapping it (`/api/v1/tap/NODE`, `hypha tap`).
///
/// The runtime offers every message the node emits. Without readers that costs one relaxed
/// atomic load: no lock, no allocation, no formatting. With readers, each gets the message in
/// its own small bounded buffer; a reader that does not keep up loses what does not fit (counted,
/// and told to it), so a slow reader never holds the run back.
final class NodeTap: Sendable {
    private let readerCount = Atomic<Int>(0)
    private let readers = Mutex<[UInt64: TapReader]>([:])
    private let nextID = Atomic<UInt64>(0)

    /// Whether anyone reads this tap now.
    var isTapped: Bool { readerCount.load(ordering: .relaxed) > 0 }

    /// Hands `payload` to every reader (never waits: a full buffer drops it).
    @inline(__always)
    func offer(_ payload: Payload) {
        guard isTapped else { return }
        for reader in readers.withLock({ Array($0.values) }) { reader.offer(payload) }
    }

    /// A new reader with a buffer of `capacity` messages, until `detach` or `finishAll`.
    func attach(capacity: Int = TapReader.defaultCapacity) -> TapReader {
        let reader = TapReader(id: nextID.wrappingAdd(1, ordering: .relaxed).newValue, capacity: capacity)
        readers.withLock { $0[reader.id] = reader }
        readerCount.add(1, ordering: .relaxed)
        return reader
    }

    func detach(_ reader: TapReader) {
        guard readers.withLock({ $0.removeValue(forKey: reader.id) }) != nil else { return }
        readerCount.subtract(1, ordering: .relaxed)
        reader.finish()
    }

    /// Ends every reader's stream (the run is over): each reads what its buffer holds, then ends.
    func finishAll() {
        let all = readers.withLock { r in defer { r.removeAll() }; return Array(r.values) }
        readerCount.store(0, ordering: .relaxed)
        for reader in all { reader.finish() }
    }
}

/// One tap reader's bounded buffer of messages.
final class TapReader: Sendable {
    /// Messages one reader's buffer holds: enough for a burst, small enough that a stalled reader
    /// keeps little of the run's data alive.
    static let defaultCapacity = 256

    enum Item: Sendable {
        case message(Payload)
        /// Time to show the reader that the stream is alive (and to find out it has gone).
        case keepAlive
    }

    let id: UInt64
    let items: AsyncStream<Item>
    private let continuation: AsyncStream<Item>.Continuation
    private let dropped = Atomic<Int>(0)

    init(id: UInt64, capacity: Int) {
        self.id = id
        (items, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingOldest(max(1, capacity)))
    }

    /// Buffers `payload`, or counts it dropped when the buffer is full.
    func offer(_ payload: Payload) {
        if case .dropped = continuation.yield(.message(payload)) { dropped.add(1, ordering: .relaxed) }
    }

    func keepAlive() { continuation.yield(.keepAlive) }

    /// The messages dropped since the last call.
    func takeDropped() -> Int { dropped.exchange(0, ordering: .relaxed) }

    func finish() { continuation.finish() }
}
