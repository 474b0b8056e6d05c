import Synchronization

/// A processor node's current configuration and plugin instance. Live reload swaps them: each
/// message is handled by the instance current when it was taken from the node's input, new
/// messages go to the new instance at once, and the old one is finished once it holds none.
/// Messages waiting in the node's input stay there; nothing is lost by a swap.
final class ProcessorSlot: Sendable {
    /// The instance a message is handled by, and the configuration it was built from.
    struct Lease: Sendable {
        let generation: Int
        let node: WorkflowPlan.Node
        let processor: any ProcessorPlugin
    }

    private struct State {
        var current: Lease
        /// Messages in hand per generation.
        var busy: [Int: Int] = [:]
        /// Who waits for a generation to hold no message.
        var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// The node's input has ended and its instance is finished: nothing is swapped in any more.
        var ended = false
    }
    private let state: Mutex<State>

    init(node: WorkflowPlan.Node, processor: any ProcessorPlugin) {
        state = Mutex(State(current: Lease(generation: 0, node: node, processor: processor)))
    }

    /// The current instance, for one message; give it back with `release`.
    func acquire() -> Lease {
        state.withLock { s in
            s.busy[s.current.generation, default: 0] += 1
            return s.current
        }
    }

    func release(_ lease: Lease) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            let left = (s.busy[lease.generation] ?? 1) - 1
            s.busy[lease.generation] = left == 0 ? nil : left
            guard left == 0, lease.generation != s.current.generation else { return nil }
            return s.idleWaiters.removeValue(forKey: lease.generation)
        }
        waiter?.resume()
    }

    var current: Lease { state.withLock { $0.current } }

    /// How many messages the current instance handles at once.
    var concurrency: Int { max(1, current.processor.concurrency) }

    /// The node's input has ended: returns the instance to finish; later swaps do nothing.
    func retire() -> any ProcessorPlugin {
        state.withLock { s in
            s.ended = true
            return s.current.processor
        }
    }

    /// Makes `processor` current and returns the one it replaces once that holds no message;
    /// nil when the node has ended (then `processor` is not used).
    func swap(to node: WorkflowPlan.Node, processor: any ProcessorPlugin) async -> (any ProcessorPlugin)? {
        let swapped = state.withLock { s -> Lease? in
            guard !s.ended else { return nil }
            let old = s.current
            s.current = Lease(generation: old.generation + 1, node: node, processor: processor)
            return old
        }
        guard let old = swapped else { return nil }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { s -> Bool in
                if s.busy[old.generation] == nil { return true }
                s.idleWaiters[old.generation] = continuation
                return false
            }
            if idle { continuation.resume() }
        }
        return old.processor
    }
}

/// How live reload hands a running source node its replacement.
final class SourceSlot: Sendable {
    /// A replacement instance, and who waits for it to have started.
    struct Replacement: Sendable {
        let source: any SourcePlugin
        let started: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var ended = false
        var pending: [Replacement] = []
        var waiter: CheckedContinuation<Replacement?, Never>?
    }
    private let state: Mutex<State>

    init() {
        state = Mutex(State())
    }

    /// Stops the running instance once its messages have ended and starts `source`. Returns
    /// whether it was started (false: the source had already ended).
    func replace(with source: any SourcePlugin) async -> Bool {
        await withCheckedContinuation { (started: CheckedContinuation<Bool, Never>) in
            let replacement = Replacement(source: source, started: started)
            let (refused, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Replacement?, Never>?) in
                if s.ended { return (true, nil) }
                if let waiter = s.waiter {
                    s.waiter = nil
                    return (false, waiter)
                }
                s.pending.append(replacement)
                return (false, nil)
            }
            if refused { started.resume(returning: false) }
            waiter?.resume(returning: replacement)
        }
    }

    /// The next replacement asked for; nil once the waiting task is cancelled.
    func nextReplacement() async -> Replacement? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Replacement?, Never>) in
                let ready = state.withLock { s -> Replacement?? in
                    if !s.pending.isEmpty { return .some(s.pending.removeFirst()) }
                    if s.ended || Task.isCancelled { return .some(nil) }
                    s.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Replacement?, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// The source has ended for good: replacements asked for and not taken, and later ones,
    /// are refused.
    func end() {
        let refused = state.withLock { s -> [Replacement] in
            s.ended = true
            defer { s.pending = [] }
            return s.pending
        }
        for replacement in refused { replacement.started.resume(returning: false) }
    }
}
