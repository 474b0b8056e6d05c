import Synchronization

/// Whether every source of a run is ready: listening (an HTTP source after it has bound its
/// port), watching (a folder watcher once its watch is set up), or, for a source that does not
/// say (`SourcePlugin.announcesReadiness` false), once it has emitted its first message or
/// returned. A service manager is told the run is up when `wait()` returns (sd_notify
/// `READY=1`), so a sender started after it finds the port open.
public final class Readiness: Sendable {
    private struct State {
        var pending: Set<Int>
        var announcing: Set<Int>
    }
    private let state: Mutex<State>
    private let signal = ShutdownSignal()

    /// `sources`: the node indexes of the run's sources, with whether each says when it is
    /// ready itself.
    public init(sources: [(index: Int, announces: Bool)]) {
        state = Mutex(State(pending: Set(sources.map(\.index)),
                            announcing: Set(sources.filter(\.announces).map(\.index))))
        if sources.isEmpty { signal.trigger() }
    }

    /// The sources of `plan`.
    public convenience init(plan: WorkflowPlan) {
        self.init(sources: plan.nodes.enumerated().compactMap { index, node in
            guard let source = node.plugin as? any SourcePlugin.Type else { return nil }
            return (index, source.announcesReadiness)
        })
    }

    /// Whether every source is ready.
    public var isReady: Bool { signal.isTriggered }

    /// Returns once every source is ready (or when the waiting task is cancelled).
    public func wait() async { await signal.wait() }

    /// The source at `index` says it is ready (`SourceOutput.ready()`).
    public func sourceReady(_ index: Int) { settle { $0.pending.remove(index) } }

    /// The source at `index` emitted a message: ready, unless it says so itself.
    public func sourceEmitted(_ index: Int) {
        settle { s in
            if !s.announcing.contains(index) { s.pending.remove(index) }
        }
    }

    /// The source at `index` returned (or failed): nothing more to wait for from it.
    public func sourceReturned(_ index: Int) { sourceReady(index) }

    /// Every source counts as ready (a run whose sources do not run: messages are injected).
    public func all() { settle { $0.pending.removeAll() } }

    private func settle(_ change: (inout State) -> Void) {
        let done = state.withLock { s -> Bool in
            guard !s.pending.isEmpty else { return false }
            change(&s)
            return s.pending.isEmpty
        }
        if done { signal.trigger() }
    }
}
