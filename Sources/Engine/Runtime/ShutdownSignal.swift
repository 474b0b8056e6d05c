import Synchronization

/// A one-shot signal: `trigger()` wakes every `wait()`, now and later.
public final class ShutdownSignal: Sendable {
    private struct State {
        var triggered = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }
    private let state = Mutex(State())

    public init() {}

    public var isTriggered: Bool { state.withLock { $0.triggered } }

    public func trigger() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.triggered = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once triggered, or when the waiting task is cancelled.
    public func wait() async {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.triggered || Task.isCancelled { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// Returns once triggered or after `seconds`, whichever comes first (or when the waiting
    /// task is cancelled).
    public func wait(atMost seconds: Double) async {
        await withTaskGroup(of: Void.self) { race in
            race.addTask { try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000))) }
            race.addTask { await self.wait() }
            await race.next()
            race.cancelAll()
        }
    }
}
