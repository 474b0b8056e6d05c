import Engine
import Observe
import HyphaState
import Synchronization

/// Runs dead letters again inside the running workflow: the web view's retry button
/// (`POST /api/v1/dead-letters/ID/retry`). The message goes back into the node where it failed
/// and through the rest of the DAG; its letter is dropped when it ends, delivered or failed
/// again (the run then keeps the new failure, with its reason), and kept when interrupted. The
/// same rules as `hypha dead-letters retry`, which needs the state folder to itself: a letter
/// made by a run given another configuration (`--var`, `--profile`, `--set`) than this one is
/// refused, with the command that replays that run's configuration, rather than run through
/// a plan that would render its later jobs differently.
final class LiveRetries: Sendable {
    let store: SQLiteStateStore
    /// The state folder's path, for the command it suggests.
    let folder: String
    /// Letters being retried now: a second click waits for the first to end.
    private let underway = Mutex<Set<Int64>>([])

    init(store: SQLiteStateStore, folder: String) {
        self.store = store
        self.folder = folder
    }

    func retry(_ id: Int64, in runtime: WorkflowRuntime) async -> DeadLetterRetry {
        guard underway.withLock({ $0.insert(id).inserted }) else { return .refused("dead letter #\(id) is being retried already") }
        let done: @Sendable () -> Void = { _ = self.underway.withLock { $0.remove(id) } }
        guard let letter = try? await store.deadLetters(ids: [id]).first else {
            done()
            return .notFound
        }
        if let refusal = await otherConfiguration(of: letter, workflow: runtime.plan.info.file) {
            done()
            return .refused(refusal)
        }
        let store = store
        guard let injection = letter.injection(ended: { delivery in
            guard delivery != .interrupted else { return done() }
            Task {
                _ = try? await store.dropDeadLetters([id])
                done()
            }
        }) else {
            done()
            return .refused("dead letter #\(id) cannot be read back; drop it with `hypha dead-letters drop`")
        }
        do {
            try await runtime.inject(injection)
            return .started
        } catch {
            done()
            return .refused(error.description)
        }
    }

    /// Why `letter` cannot run in this run: the run that made it was given another configuration.
    /// Nil when it can: the same configuration, or one that is not known (a letter kept before
    /// runs were recorded runs with this run's, as `hypha dead-letters retry` would run it).
    func otherConfiguration(of letter: StoredDeadLetter, workflow: String) async -> String? {
        guard let made = letter.run, let live = store.currentRun, made != live,
              let madeConfiguration = try? await store.run(id: made),
              let liveConfiguration = try? await store.run(id: live),
              !madeConfiguration.sameOverrides(as: liveConfiguration)
        else { return nil }
        return "dead letter #\(letter.id) was made by run #\(made), configured otherwise (\(madeConfiguration.flags)) than "
            + "this one (\(liveConfiguration.flags)); once this run has stopped, retry it with its own configuration: "
            + "hypha dead-letters retry \(workflow) \(letter.id) --state-dir \(folder)"
    }
}

extension StoredDeadLetter {
    /// The letter's message, to put back into its node; `ended` is told how it ended. Nil when
    /// the payload cannot be read back. Whoever retries drops the letter unless it ended
    /// `.interrupted`: a message that failed again is kept anew by the run, with the new reason.
    func injection(ended: @escaping @Sendable (Delivery) -> Void) -> WorkflowRuntime.Injection? {
        StoredPayload.decode(port: port, payload).map { WorkflowRuntime.Injection(node: node, payload: $0, onComplete: ended) }
    }
}
