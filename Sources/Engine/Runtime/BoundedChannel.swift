import Synchronization

/// A bounded multi-producer, multi-consumer async channel. A full channel suspends its
/// senders, so a slow consumer slows its producers and memory stays bounded. Each element goes
/// to one consumer: the one that has waited longest, when several wait (a node's workers).
///
/// Hand-written because the standard library has no bounded async channel and
/// swift-async-algorithms' `AsyncChannel` is unbuffered (and would add a heavy dependency).
public final class BoundedChannel<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var head = 0
        var waitingSenders: [(Element, CheckedContinuation<Void, any Error>)] = []
        var waitingReceivers: [CheckedContinuation<Element?, Never>] = []
        var openProducers: Int
        var cancelled = false

        var count: Int { buffer.count - head }

        mutating func popFirst() -> Element? {
            guard head < buffer.count else { return nil }
            let element = buffer[head]
            head += 1
            if head > 64 && head * 2 > buffer.count {
                buffer.removeFirst(head)
                head = 0
            }
            return element
        }
    }

    private enum SendAction { case done, resume(CheckedContinuation<Element?, Never>), wait, cancelled }
    private enum ReceiveAction { case element(Element, CheckedContinuation<Void, any Error>?), end, wait }

    public let capacity: Int
    private let state: Mutex<State>

    /// - Parameters:
    ///   - capacity: how many elements wait in the channel before senders suspend.
    ///   - producers: how many producers will call `finish()`; the channel ends after the last.
    public init(capacity: Int, producers: Int = 1) {
        self.capacity = Swift.max(1, capacity)
        state = Mutex(State(openProducers: producers))
    }

    /// Elements waiting to be received.
    public var count: Int { state.withLock { $0.count } }

    /// Consumers waiting for an element.
    public var waitingConsumers: Int { state.withLock { $0.waitingReceivers.count } }

    /// Whether a `send` now would not wait.
    public var hasRoom: Bool { state.withLock { $0.count < capacity && $0.waitingSenders.isEmpty } }

    /// Sends one element, suspending while the channel is full.
    /// Throws `CancellationError` when the channel was cancelled.
    public func send(_ element: Element) async throws {
        // Decided under the lock. The same decision is made again, with the
        // continuation at hand, before waiting: a consumer may have taken everything and begun
        // to wait in between, and a sender that queued itself then would wait for ever.
        switch state.withLock({ s in Self.place(element, in: &s, capacity: capacity) }) {
        case .done: return
        case .cancelled: throw CancellationError()
        case .resume(let receiver): receiver.resume(returning: element)
        case .wait:
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let action: SendAction = state.withLock { s in
                    let action = Self.place(element, in: &s, capacity: capacity)
                    if case .wait = action { s.waitingSenders.append((element, continuation)) }
                    return action
                }
                switch action {
                case .done: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .resume(let receiver):
                    receiver.resume(returning: element)
                    continuation.resume()
                case .wait: break
                }
            }
        }
    }

    /// Where `element` goes now: to a waiting consumer, into the buffer, or nowhere (the sender
    /// must wait; or the channel was cancelled).
    private static func place(_ element: Element, in s: inout State, capacity: Int) -> SendAction {
        if s.cancelled { return .cancelled }
        if !s.waitingReceivers.isEmpty { return .resume(s.waitingReceivers.removeFirst()) }
        if s.count < capacity {
            s.buffer.append(element)
            return .done
        }
        return .wait
    }

    /// Receives the next element, or nil once every producer has finished and the buffer is empty.
    public func receive() async -> Element? {
        // As in `send`, the decision is made again before waiting.
        switch state.withLock({ Self.take(&$0) }) {
        case .element(let element, let sender):
            sender?.resume()
            return element
        case .end:
            return nil
        case .wait:
            return await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let action: ReceiveAction = state.withLock { s in
                    let action = Self.take(&s)
                    if case .wait = action { s.waitingReceivers.append(continuation) }
                    return action
                }
                switch action {
                case .element(let element, let sender):
                    sender?.resume()
                    continuation.resume(returning: element)
                case .end:
                    continuation.resume(returning: nil)
                case .wait:
                    break
                }
            }
        }
    }

    /// What a consumer gets now: the next element (a waiting sender's moving into the room it
    /// leaves, and that sender to resume), the end, or nothing yet (wait).
    private static func take(_ s: inout State) -> ReceiveAction {
        if let element = s.popFirst() {
            var sender: CheckedContinuation<Void, any Error>?
            if !s.waitingSenders.isEmpty {
                let (pending, continuation) = s.waitingSenders.removeFirst()
                s.buffer.append(pending)
                sender = continuation
            }
            return .element(element, sender)
        }
        if !s.waitingSenders.isEmpty {
            let (pending, continuation) = s.waitingSenders.removeFirst()
            return .element(pending, continuation)
        }
        if s.openProducers <= 0 || s.cancelled { return .end }
        return .wait
    }

    /// Adds a producer (which must `finish()` too) if the channel has not ended: some producer
    /// is still open and it was not cancelled. False when it has: what is sent now would never
    /// be received.
    public func join() -> Bool {
        state.withLock { s in
            guard s.openProducers > 0, !s.cancelled else { return false }
            s.openProducers += 1
            return true
        }
    }

    /// One producer is done; after the last one the consumers see the end.
    public func finish() {
        let receivers: [CheckedContinuation<Element?, Never>] = state.withLock { s in
            s.openProducers -= 1
            guard s.openProducers <= 0, s.count == 0, s.waitingSenders.isEmpty else { return [] }
            defer { s.waitingReceivers.removeAll() }
            return s.waitingReceivers
        }
        for receiver in receivers { receiver.resume(returning: nil) }
    }

    /// Ends the channel at once: waiting senders throw `CancellationError`, the consumers see the end.
    public func cancel() {
        let (senders, receivers) = state.withLock { s in
            s.cancelled = true
            s.buffer.removeAll()
            s.head = 0
            defer {
                s.waitingSenders.removeAll()
                s.waitingReceivers.removeAll()
            }
            return (s.waitingSenders.map(\.1), s.waitingReceivers)
        }
        for sender in senders { sender.resume(throwing: CancellationError()) }
        for receiver in receivers { receiver.resume(returning: nil) }
    }
}

extension BoundedChannel: AsyncSequence {
    public struct AsyncIterator: AsyncIteratorProtocol {
        let channel: BoundedChannel
        public mutating func next() async -> Element? { await channel.receive() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: self) }
}
