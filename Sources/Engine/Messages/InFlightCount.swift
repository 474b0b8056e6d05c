import Synchronization

/// Counts messages begun and not yet ended, and lets someone wait until there are none (a
/// source's messages in flight, or their ends not yet recorded).
public final class InFlightCount: Sendable {
    private let state = Mutex<(count: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))

    public init() {}

    public func begin() { state.withLock { $0.count += 1 } }

    public func end() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.count -= 1
            guard s.count == 0 else { return [] }
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Ends one once `record` has run, in a task of its own, so whoever calls this (an
    /// acknowledgement's completion) does not wait for the write; a failure of `record` goes to
    /// `onFailure`, and the end counts all the same.
    public func end(after record: @escaping @Sendable () async throws -> Void, onFailure: @escaping @Sendable (any Error) -> Void) {
        Task {
            do {
                try await record()
            } catch {
                onFailure(error)
            }
            self.end()
        }
    }

    /// Returns once nothing is in flight.
    public func drained() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.count == 0 { return true }
                s.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}
