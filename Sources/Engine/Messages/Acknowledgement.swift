import Synchronization

/// How a message ended once every node downstream was done with it.
public enum Delivery: Sendable, Equatable {
    /// Every sink downstream finished with it.
    case delivered
    /// At least one node failed on it (or on something derived from it) for good.
    case failed(String)
    /// Hypha stopped before every node had finished with it: it is to be emitted again on the
    /// next start (what was finished is in the job journal and is not done again).
    case interrupted
}

/// Tracks one source message through the DAG. Every copy and every derived message holds
/// a reference; when the last one is released, the source's completion runs once with the
/// outcome. Sources commit checkpoints only from that completion.
public final class Acknowledgement: Sendable {
    private struct State {
        var holds = 1
        var failure: String?
        var interrupted = false
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

    /// Drops a hold; a failure marks the whole message failed, an interruption marks it
    /// unfinished (which wins: an unfinished message is emitted again, and fails again if it must).
    public func release(failure: String? = nil, interrupted: Bool = false) {
        let fire: ((@Sendable (Delivery) -> Void), Delivery)? = state.withLock { s in
            if let failure, s.failure == nil { s.failure = failure }
            if interrupted { s.interrupted = true }
            s.holds -= 1
            guard s.holds == 0, let completion = s.completion else { return nil }
            s.completion = nil
            if s.interrupted { return (completion, .interrupted) }
            return (completion, s.failure.map(Delivery.failed) ?? .delivered)
        }
        if let (completion, outcome) = fire { completion(outcome) }
    }
}
