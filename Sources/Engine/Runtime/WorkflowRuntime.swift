import Foundation
import Logging
import Synchronization

/// Runs a checked workflow: one task per node, joined by bounded channels.
///
/// Sources emit messages with an acknowledgement; the runtime copies each message to every
/// consumer (fan-out), merges inputs (fan-in), and releases the acknowledgement as each
/// node finishes with it. With `once`, sources emit what is present and return, and the
/// run ends when the whole DAG has drained. `stop()` stops the sources and lets what is in
/// flight finish; cancelling the task that runs `run()` ends everything at once.
public final class WorkflowRuntime: Sendable {
    public let plan: WorkflowPlan
    public let once: Bool
    public let runID: String
    public let runDirectory: String
    /// One counter set per node, in topological order.
    public let stats: [NodeStats]
    let logger: Logger
    let channelCapacity: Int
    let stopSignal = ShutdownSignal()
    /// Fires once every source listens or watches (Readiness.swift).
    public let ready: Readiness
    let failures = Mutex<(count: Int, first: [String])>((0, []))
    /// Durable state: the job journal and dead letters here, checkpoints in the sources.
    let state: (any StateStore)?
    let jobGuard: (any JobGuard)?
    /// Messages that failed for good (dead letters, when there is state).
    let deadLetters = Mutex(0)
    /// Messages left unfinished by a shutdown (emitted again on the next start).
    let interruptions = Mutex(0)
    /// Jobs not run because the journal had them completed (their recorded results were used).
    let reusedJobs = Mutex(0)
    /// A failure of the state store: the run stops, since nothing more can be promised.
    let stateFailure = Mutex<String?>(nil)
    /// The running nodes' instances, while `run` runs (live reload swaps them).
    let slots = Mutex<Slots?>(nil)
    /// What each running node was built from (`behaviour(of:)`), by index: a reload compares it.
    let runningBehaviour = Mutex<[Int: String]>([:])
    /// One reload at a time.
    let reloading = Mutex(false)
    /// Whatever watches the run (the observability endpoint), if anything.
    public let observer: (any RuntimeObserver)?

    /// The outcome of a run.
    public struct Summary: Sendable {
        public var nodes: [(id: String, plugin: String, stats: NodeStats.Snapshot)]
        /// The first failures, as "node: message" lines.
        public var failures: [String]
        public var failureCount: Int
        public var stoppedEarly: Bool
        /// Messages that failed for good and were kept as dead letters.
        public var deadLetters: Int
        /// Messages a shutdown left unfinished; the next start takes them up again.
        public var interrupted: Int
        /// Jobs completed in an earlier run whose recorded results were used instead.
        public var reusedJobs: Int
        /// Why the state store stopped the run, if it did.
        public var stateFailure: String?
        public var succeeded: Bool { failureCount == 0 && stateFailure == nil }
    }

    public init(plan: WorkflowPlan, once: Bool, runDirectory: String, runID: String, logger: Logger,
                channelCapacity: Int = 64, state: (any StateStore)? = nil, jobGuard: (any JobGuard)? = nil,
                observer: (any RuntimeObserver)? = nil) {
        self.observer = observer
        self.state = state
        self.jobGuard = jobGuard
        self.plan = plan
        self.once = once
        self.runID = runID
        self.runDirectory = runDirectory
        self.logger = logger
        self.channelCapacity = channelCapacity
        stats = plan.nodes.map { NodeStats(node: $0.config.id) }
        ready = Readiness(plan: plan)
    }

    /// Stops the sources; messages in flight are still finished.
    public func stop() { stopSignal.trigger() }

    /// A message put straight into a node's input (a dead letter run again).
    public struct Injection: Sendable {
        public var node: String
        public var payload: Payload
        public var onComplete: @Sendable (Delivery) -> Void

        public init(node: String, payload: Payload, onComplete: @escaping @Sendable (Delivery) -> Void) {
            self.node = node
            self.payload = payload
            self.onComplete = onComplete
        }
    }

    /// Runs until the DAG drains (`once`, or after `stop()`), or until cancelled.
    /// With `injections`, the sources do not run: those messages enter at their nodes and flow
    /// through the rest of the DAG. Throws when a node cannot be built from its configuration.
    public func run(injecting injections: [Injection] = []) async throws -> Summary {
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        let nodes = plan.nodes
        var sources: [(Int, SourceSlot, any SourcePlugin)] = []
        var processors: [(Int, ProcessorSlot)] = []
        runningBehaviour.withLock { $0 = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($0, Self.behaviour(of: $1)) }) }
        for (index, node) in nodes.enumerated() {
            let instance = try makeInstance(of: node)
            if let source = instance as? any SourcePlugin {
                sources.append((index, SourceSlot(), source))
            } else if let processor = instance as? any ProcessorPlugin {
                processors.append((index, ProcessorSlot(node: node, processor: processor)))
            }
        }
        slots.withLock { $0 = Slots(sources: Dictionary(uniqueKeysWithValues: sources.map { ($0.0, $0.1) }),
                                    processors: Dictionary(uniqueKeysWithValues: processors)) }
        defer { slots.withLock { $0 = nil } }
        let indexByID = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1.config.id, $0) })
        let injected = Dictionary(grouping: injections, by: { indexByID[$0.node] ?? -1 })
        let inputs: [Int: BoundedChannel<Message>] = Dictionary(uniqueKeysWithValues: processors.map { index, _ in
            (index, BoundedChannel<Message>(capacity: channelCapacity,
                                            producers: nodes[index].config.upstream.count + (injected[index] == nil ? 0 : 1)))
        })
        let outputs: [[BoundedChannel<Message>]] = nodes.map { node in
            node.downstream.compactMap { indexByID[$0].flatMap { inputs[$0] } }
        }
        slots.withLock { $0?.inputs = inputs }

        observer?.runStarted(queues: inputs, stats: stats)
        let sourceNodes = injections.isEmpty ? sources : []
        if !injections.isEmpty || sources.isEmpty { ready.all() }
        // Dead letters of a source (a failed download) go back to the source itself.
        var sourceRetries: [(Int, any SourcePlugin, [Injection])] = []
        if !injections.isEmpty {
            for (index, slot, source) in sources {
                slot.end()
                if let items = injected[index] {
                    sourceRetries.append((index, source, items))
                } else {
                    for channel in outputs[index] { channel.finish() }
                }
            }
        }
        let processorNodes = processors, retries = sourceRetries
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.runSources(sourceNodes, outputs: outputs) }
                for (index, source, items) in retries {
                    group.addTask {
                        await self.retry(items, at: index, source, outputs: outputs[index])
                        for channel in outputs[index] { channel.finish() }
                    }
                }
                for (index, items) in injected {
                    guard let input = inputs[index] else { continue }
                    group.addTask {
                        for item in items {
                            let ack = Acknowledgement(onComplete: item.onComplete)
                            do { try await input.send(Message(item.payload, ack: ack)) } catch { ack.release(interrupted: true) }
                        }
                        input.finish()
                    }
                }
                for (index, slot) in processorNodes {
                    guard let input = inputs[index] else { continue }
                    group.addTask { await self.runProcessor(slot, index: index, input: input, outputs: outputs[index]) }
                }
            }
        } onCancel: {
            for channel in inputs.values { channel.cancel() }
        }
        // Queued writes (journal entries, finished messages) commit before the run ends.
        await flushState()
        if let stateError = state?.failure { failStateStore(stateError) }
        let (failureCount, failureLines) = failures.withLock { $0 }
        return Summary(
            nodes: nodes.enumerated().map { ($1.config.id, $1.config.plugin, stats[$0].snapshot) },
            failures: failureLines, failureCount: failureCount,
            stoppedEarly: stopSignal.isTriggered || Task.isCancelled,
            deadLetters: deadLetters.withLock { $0 }, interrupted: interruptions.withLock { $0 },
            reusedJobs: reusedJobs.withLock { $0 },
            stateFailure: stateFailure.withLock { $0 })
    }

    // MARK: - Sources

    private enum SourceEvent: Sendable { case finished, stopRequested }

    func runSources(_ sources: [(Int, SourceSlot, any SourcePlugin)], outputs: [[BoundedChannel<Message>]]) async {
        await withTaskGroup(of: SourceEvent.self) { group in
            for (index, slot, source) in sources {
                group.addTask {
                    await self.runSource(source, slot: slot, index: index, outputs: outputs[index])
                    return .finished
                }
            }
            group.addTask {
                await self.stopSignal.wait()
                return .stopRequested
            }
            var running = sources.count
            while running > 0, let event = await group.next() {
                switch event {
                case .finished: running -= 1
                case .stopRequested: group.cancelAll()
                }
            }
            group.cancelAll()
        }
    }

    /// What source node `index` emits into (`targets`) and reports through.
    func sourceOutput(index: Int, targets: [BoundedChannel<Message>], inFlight: InFlightCount?,
                      onComplete: (@Sendable (Delivery) -> Void)? = nil) -> SourceOutput {
        let id = plan.nodes[index].config.id
        return SourceOutput(
            once: once, hasRoom: { targets.allSatisfy { $0.hasRoom } },
            onReady: { self.ready.sourceReady(index) },
            onFailure: { failure in
                self.stats[index].update { $0.failed += 1 }
                self.recordFailure(node: index, failure.reason)
                if let item = failure.item, let key = failure.key {
                    await self.keepDeadLetter(DeadLetter(node: id, reason: failure.reason, payload: item, file: key, logPaths: [],
                                                         replacesEarlier: true))
                }
                onComplete?(.failed(failure.reason))
            },
            onRecovered: { key in await self.resolveDeadLetters(at: id, file: key) },
            received: { bytes in self.stats[index].update { $0.bytes += bytes } },
            inFlight: inFlight
        ) { payload, ack in
            self.ready.sourceEmitted(index)
            self.stats[index].update { $0.emitted += 1 }
            var ack = self.observer?.sourceEmitted(node: index, payload: payload, ack: ack) ?? ack
            if let onComplete { ack = ack.relayed(then: onComplete) }
            try await self.deliver(payload, ack: ack, to: targets)
        }
    }

    /// Runs the dead letters `items` of source node `index` again through the source's
    /// `retry` (a source has no input to put them in).
    func retry(_ items: [Injection], at index: Int, _ source: any SourcePlugin, outputs targets: [BoundedChannel<Message>]) async {
        let node = plan.nodes[index].config
        guard let retrying = source as? any RetryingSource else {
            let reason = "node '\(node.id)' (\(node.plugin)) cannot run its dead letters again; drop them with `hypha dead-letters drop`"
            recordFailure(node: index, reason)
            for item in items { item.onComplete(.failed(reason)) }
            return
        }
        do {
            try await retrying.retry(items.map {
                ($0.payload, sourceOutput(index: index, targets: targets, inFlight: nil, onComplete: $0.onComplete))
            })
        } catch {
            // Those that ended already say so twice; whoever counts them counts each once.
            recordFailure(node: index, "\(error)")
            for item in items { item.onComplete(.failed("\(error)")) }
        }
    }

    private enum SourceRound: Sendable {
        case ended
        case replace(SourceSlot.Replacement?)
    }

    /// Runs one source node until it ends or the run stops. Live reload replaces its instance:
    /// the running one is stopped, every message it emitted ends and what it records about them
    /// is written, and then the new one starts (and reads those records).
    func runSource(_ first: any SourcePlugin, slot: SourceSlot, index: Int, outputs targets: [BoundedChannel<Message>]) async {
        var source = first
        while true {
            let inFlight = InFlightCount()
            let output = sourceOutput(index: index, targets: targets, inFlight: inFlight)
            let running = source
            let replacement: SourceSlot.Replacement? = await withTaskGroup(of: SourceRound.self) { group in
                group.addTask {
                    do {
                        try await running.run(output)
                    } catch is CancellationError {
                    } catch let error as StateStoreError {
                        self.failStateStore(error)
                    } catch {
                        if !Task.isCancelled { self.recordFailure(node: index, "\(error)") }
                    }
                    return .ended
                }
                group.addTask { .replace(await slot.nextReplacement()) }
                var replacement: SourceSlot.Replacement?
                while let round = await group.next() {
                    if case .replace(let r) = round { replacement = r }
                    group.cancelAll()
                }
                return replacement
            }
            guard let replacement else { break }
            if Task.isCancelled {
                replacement.started.resume(returning: false)
                break
            }
            await inFlight.drained()
            await running.settle()
            await flushState()
            source = replacement.source
            replacement.started.resume(returning: true)
        }
        slot.end()
        ready.sourceReturned(index)
        for channel in targets { channel.finish() }
    }

    // MARK: - Processors

    func runProcessor(_ slot: ProcessorSlot, index: Int, input: BoundedChannel<Message>,
                      outputs: [BoundedChannel<Message>]) async {
        // One message at a time is handled in this task; a node that handles more (from the
        // start, or after a reload raised its concurrency) gets worker tasks.
        let inputEnded = await work(on: input, with: slot, index: index, outputs: outputs)
        if !inputEnded {
            await handleConcurrently(processor: slot, index: index, input: input, outputs: outputs)
        }
        do {
            try await slot.retire().finish()
        } catch {
            recordFailure(node: index, "\(error)")
        }
        for channel in outputs { channel.finish() }
    }

    /// Takes each message from the node's input in turn and handles it, until the input ends
    /// or the node handles more than one message at a time. Returns whether the input ended.
    func work(on input: BoundedChannel<Message>, with slot: ProcessorSlot, index: Int,
              outputs: [BoundedChannel<Message>]) async -> Bool {
        while slot.concurrency == 1 {
            guard let message = await input.receive() else { return true }
            await handle(message, with: slot, index: index, outputs: outputs)
        }
        return false
    }

    /// Up to the node's concurrency of messages at once, each handled by a worker task that
    /// takes it straight from the input channel (no task per message: one hand-off less on the
    /// way to a job). Workers are started as they are needed: one more whenever every worker is
    /// busy, up to the limit; the spare starts while the others work, off the path of the
    /// message at hand. A worker above a lowered limit stops after its message.
    func handleConcurrently(processor slot: ProcessorSlot, index: Int, input: BoundedChannel<Message>,
                            outputs: [BoundedChannel<Message>]) async {
        let workers = Mutex((idle: 0, running: 0))
        let (spareNeeded, requestSpare) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let worker: @Sendable () async -> Void = {
            while true {
                workers.withLock { $0.idle += 1 }
                guard let message = await input.receive() else { break }
                let allBusy = workers.withLock { w in
                    w.idle -= 1
                    return w.idle == 0
                }
                if allBusy { requestSpare.yield() }
                await self.handle(message, with: slot, index: index, outputs: outputs)
                let surplus = workers.withLock { w in
                    guard w.running > slot.concurrency else { return false }
                    w.running -= 1
                    return true
                }
                if surplus { return }
            }
            requestSpare.finish()  // the input has ended, or the run is cancelled
        }
        await withTaskGroup(of: Void.self) { group in
            workers.withLock { $0.running = 1 }
            group.addTask(operation: worker)
            for await _ in spareNeeded {
                let start = workers.withLock { w in
                    guard w.running < slot.concurrency else { return false }
                    w.running += 1
                    return true
                }
                if start { group.addTask(operation: worker) }
            }
        }
    }

    func handle(_ message: Message, with slot: ProcessorSlot, index: Int,
                outputs: [BoundedChannel<Message>]) async {
        let lease = slot.acquire()
        defer { slot.release(lease) }
        let processor = lease.processor
        let node = lease.node
        let stats = self.stats[index]
        stats.update {
            $0.received += 1
            $0.active += 1
        }
        observer?.messageStarted(node: index, payload: message.payload)
        let emitted = Mutex(0)
        let output = Output { payload in
            message.ack.retain()
            emitted.withLock { $0 += 1 }
            stats.update { $0.emitted += 1 }
            self.observer?.messageEmitted(node: index, output: payload)
            try await self.deliver(payload, ack: message.ack, to: outputs)
        }
        var failure: (any Error)?
        let retry = node.config.retry
        var attempt = 1
        while true {
            do {
                try await process(message.payload, with: processor, node: node, output)
                failure = nil
                break
            } catch {
                failure = error
                // Retried only when nothing was emitted: a retry must not emit anything twice.
                guard let retry, attempt < retry.attempts, emitted.withLock({ $0 }) == 0, !Self.isInterruption(error),
                      !(error is StateStoreError), !stopSignal.isTriggered else { break }
                let wait = retry.policy.delay(beforeRetry: attempt)
                logger.warning("\(error); retrying in \(String(format: "%.1f", wait)) s (attempt \(attempt + 1) of \(retry.attempts))",
                               metadata: ["node": "\(node.config.id)"])
                attempt += 1
                stats.update { $0.retries += 1 }
                do { try await Task.sleep(for: .seconds(wait)) } catch { break }
            }
        }
        let interrupted = failure.map(Self.isInterruption) ?? false
        stats.update {
            $0.active -= 1
            $0.done += 1
            if failure != nil && !interrupted { $0.failed += 1 }
        }
        observer?.messageFinished(node: index, payload: message.payload, failure: failure, interrupted: interrupted)
        if let stateError = state?.failure { failStateStore(stateError) }
        guard let failure else {
            message.ack.release()
            return
        }
        if let stateError = failure as? StateStoreError {
            failStateStore(stateError)
            message.ack.release(interrupted: true)
        } else if interrupted {
            interruptions.withLock { $0 += 1 }
            logger.notice("\(failure); it is taken up again on the next start", metadata: ["node": "\(node.config.id)"])
            message.ack.release(interrupted: true)
        } else {
            recordFailure(node: index, "\(failure)")
            await keepDeadLetter(message.payload, at: node.config.id, failure)
            message.ack.release(failure: "\(node.config.id): \(failure)")
        }
    }

    /// Whether `error` means the message was left unfinished by a shutdown.
    static func isInterruption(_ error: any Error) -> Bool {
        error is CancellationError || (error as? MessageFailure)?.interrupted == true || Task.isCancelled
    }

    /// Gives `processor` the value it takes out of `payload`. For an executor with state, the
    /// job journal comes first: a job recorded as completed (with the same spec) is not run
    /// again, its recorded result is emitted instead; otherwise its intent is written before
    /// the job starts and how it ended after (queued writes: see `StateStore`).
    func process<P: ProcessorPlugin>(_ payload: Payload, with processor: P, node: WorkflowPlan.Node,
                                     _ output: Output) async throws {
        guard let input = P.Input(payload) else {
            // The loader checks every edge, so this is a plugin whose `input` and `Input` disagree.
            throw MessageFailure("plugin '\(P.spec.name)' takes \(P.input) but got a \(payload.portType) message")
        }
        guard P.isExecutor, let state, case .job(let job) = payload else {
            try await processor.process(input, output)
            return
        }
        let id = node.config.id
        let fingerprint = SpecFingerprint.of(.map(job.spec))
        if let completed = try await state.completedJob(node: id, name: job.name), completed.fingerprint == fingerprint {
            logger.info("job \(job.name) completed in an earlier run; using its recorded result", metadata: ["node": "\(id)"])
            reusedJobs.withLock { $0 += 1 }
            try await output.emit(.result(JobResult(job: job, state: .completed, details: completed.details)))
            return
        }
        try await state.jobIntent(node: id, job: job, fingerprint: fingerprint)
        let journaled = Output { emitted in
            if case .result(let result) = emitted {
                try await state.jobFinished(node: id, name: job.name, outcome: .completed(details: result.details))
            }
            try await output.emit(emitted)
        }
        do {
            try await processor.process(input, journaled)
        } catch let error as StateStoreError {
            throw error
        } catch {
            let outcome: JobOutcome = Self.isInterruption(error) ? .interrupted : .failed(reason: "\(error)")
            try await state.jobFinished(node: id, name: job.name, outcome: outcome)
            throw error
        }
    }

    /// Keeps a message that failed for good, with what to look at.
    func keepDeadLetter(_ payload: Payload, at node: String, _ failure: any Error) async {
        await keepDeadLetter(DeadLetter(node: node, reason: "\(failure)", payload: payload, file: payload.sourceFile,
                                        logPaths: (failure as? MessageFailure)?.logs ?? []))
    }

    func keepDeadLetter(_ letter: DeadLetter) async {
        deadLetters.withLock { $0 += 1 }
        await writeState { try await $0.deadLetter(letter) }
    }

    /// A source's failure that `file` names succeeded after all: its dead letters go.
    func resolveDeadLetters(at node: String, file: String) async {
        await writeState { try await $0.deadLettersResolved(node: node, file: file) }
    }

    /// Runs `write` on the state store, if there is one; a failure stops the run.
    func writeState(_ write: (any StateStore) async throws -> Void) async {
        guard let state else { return }
        do {
            try await write(state)
        } catch let error as StateStoreError {
            failStateStore(error)
        } catch {
            failStateStore(StateStoreError("\(error)"))
        }
    }

    /// Commits what is queued in the state store; a failure stops the run.
    func flushState() async {
        await writeState { try await $0.flush() }
    }

    /// The state store failed: nothing more can be promised, so the run stops.
    func failStateStore(_ error: StateStoreError) {
        let first = stateFailure.withLock { current -> Bool in
            guard current == nil else { return false }
            current = error.description
            return true
        }
        if first {
            logger.critical("\(error.description); stopping")
            stop()
        }
    }

    /// Hands one hold of `ack` to each consumer (fan-out), or releases it at a leaf.
    func deliver(_ payload: Payload, ack: Acknowledgement, to targets: [BoundedChannel<Message>]) async throws {
        guard !targets.isEmpty else {
            ack.release()
            return
        }
        if targets.count > 1 { ack.retain(targets.count - 1) }
        for (sent, target) in targets.enumerated() {
            do {
                try await target.send(Message(payload, ack: ack))
            } catch {
                for _ in sent..<targets.count { ack.release(interrupted: true) }
                throw error
            }
        }
    }

    func recordFailure(node index: Int, _ message: String) {
        let id = plan.nodes[index].config.id
        logger.error("\(message)", metadata: ["node": "\(id)"])
        observer?.failureRecorded(node: index, message: message)
        failures.withLock { f in
            f.count += 1
            if f.first.count < 100 { f.first.append("\(id): \(message)") }
        }
    }
}
