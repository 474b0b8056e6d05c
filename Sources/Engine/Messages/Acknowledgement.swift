import Synchronization

/// How a message ended once every node downstream was done with it.
public enum Delivery: Sendable, Equatable {
    /// Every sink downstream finished with it.
    case delivered
    /// At least one node failed on it (or on something derived from it).
    case failed(String)
}

/// Tracks one source message through the DAG. Every copy and every derived message holds
/// a reference; when the last one is released, the source's completion runs once with the
/// outcome. Sources commit checkpoints only from that completion.
public final class Acknowledgement: Sendable {
    private struct State {
        var holds = 1
        var failure: String?
        var completion: (@Sendable (Delivery) -> Void)?
    }
    private let state: Mutex<State>

    /// A new acknowledgement with one hold, owned by whoever emits the message.
    public init(onComplete: @escaping @Sendable (Delivery) -> Void = { _ in }) {
        state = Mutex(State(completion: onComplete))
    }

    /// Adds a hold: a copy for another consumer, or a message derived from this one.
    public func retain(_ count: Int = 1) {
        state.withLock { $0.holds += count }
    }

    /// Drops a hold; a failure marks the whole message failed.
    public func release(failure: String? = nil) {
        let fire: ((@Sendable (Delivery) -> Void), Delivery)? = state.withLock { s in
            if let failure, s.failure == nil { s.failure = failure }
            s.holds -= 1
            guard s.holds == 0, let completion = s.completion else { return nil }
            s.completion = nil
            return (completion, s.failure.map(Delivery.failed) ?? .delivered)
        }
        if let (completion, outcome) = fire { completion(outcome) }
    }
}
