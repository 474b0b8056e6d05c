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
    let failures = Mutex<(count: Int, first: [String])>((0, []))

    /// The outcome of a run.
    public struct Summary: Sendable {
        public var nodes: [(id: String, plugin: String, stats: NodeStats.Snapshot)]
        /// The first failures, as "node: message" lines.
        public var failures: [String]
        public var failureCount: Int
        public var stoppedEarly: Bool
        public var succeeded: Bool { failureCount == 0 }
    }

    public init(plan: WorkflowPlan, once: Bool, runDirectory: String, runID: String, logger: Logger,
                channelCapacity: Int = 64) {
        self.plan = plan
        self.once = once
        self.runID = runID
        self.runDirectory = runDirectory
        self.logger = logger
        self.channelCapacity = channelCapacity
        stats = plan.nodes.map { NodeStats(node: $0.config.id) }
    }

    /// Stops the sources; messages in flight are still finished.
    public func stop() { stopSignal.trigger() }

    /// Runs until the DAG drains (`once`, or after `stop()`), or until cancelled.
    /// Throws when a node cannot be built from its configuration.
    public func run() async throws -> Summary {
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        let nodes = plan.nodes
        var sources: [(Int, any SourcePlugin)] = []
        var processors: [(Int, any ProcessorPlugin)] = []
        for (index, node) in nodes.enumerated() {
            var nodeLogger = logger
            nodeLogger[metadataKey: "node"] = "\(node.config.id)"
            let context = RunContext(runID: runID, runDirectory: runDirectory, logger: nodeLogger)
            let instance = try node.plugin.init(node: node.config, context: context)
            if let source = instance as? any SourcePlugin {
                sources.append((index, source))
            } else if let processor = instance as? any ProcessorPlugin {
                processors.append((index, processor))
            }
        }
        let indexByID = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1.config.id, $0) })
        let inputs: [Int: BoundedChannel<Message>] = Dictionary(uniqueKeysWithValues: processors.map { index, _ in
            (index, BoundedChannel<Message>(capacity: channelCapacity, producers: nodes[index].config.upstream.count))
        })
        let outputs: [[BoundedChannel<Message>]] = nodes.map { node in
            node.downstream.compactMap { indexByID[$0].flatMap { inputs[$0] } }
        }

        let sourceNodes = sources
        let processorNodes = processors
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.runSources(sourceNodes, outputs: outputs) }
                for (index, processor) in processorNodes {
                    guard let input = inputs[index] else { continue }
                    group.addTask { await self.runProcessor(processor, index: index, input: input, outputs: outputs[index]) }
                }
            }
        } onCancel: {
            for channel in inputs.values { channel.cancel() }
        }
        let (failureCount, failureLines) = failures.withLock { $0 }
        return Summary(
            nodes: nodes.enumerated().map { ($1.config.id, $1.config.plugin, stats[$0].snapshot) },
            failures: failureLines, failureCount: failureCount,
            stoppedEarly: stopSignal.isTriggered || Task.isCancelled)
    }

    // MARK: - Sources

    private enum SourceEvent: Sendable { case finished, stopRequested }

    func runSources(_ sources: [(Int, any SourcePlugin)], outputs: [[BoundedChannel<Message>]]) async {
        await withTaskGroup(of: SourceEvent.self) { group in
            for (index, source) in sources {
                group.addTask {
                    let targets = outputs[index]
                    let output = SourceOutput(once: self.once, hasRoom: { targets.allSatisfy { $0.hasRoom } }) { payload, ack in
                        self.stats[index].update { $0.emitted += 1 }
                        try await self.deliver(payload, ack: ack, to: outputs[index])
                    }
                    do {
                        try await source.run(output)
                    } catch is CancellationError {
                    } catch {
                        self.recordFailure(node: index, "\(error)")
                    }
                    for channel in outputs[index] { channel.finish() }
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

    // MARK: - Processors

    func runProcessor(_ processor: any ProcessorPlugin, index: Int, input: BoundedChannel<Message>,
                      outputs: [BoundedChannel<Message>]) async {
        let limit = max(1, processor.concurrency)
        if limit == 1 {
            // One message at a time: handled in this task.
            await work(on: input, with: processor, index: index, outputs: outputs)
        } else {
            await handleConcurrently(limit, processor: processor, index: index, input: input, outputs: outputs)
        }
        do {
            try await processor.finish()
        } catch {
            recordFailure(node: index, "\(error)")
        }
        for channel in outputs { channel.finish() }
    }

    /// Takes each message from the node's input in turn and handles it, until the input ends.
    func work(on input: BoundedChannel<Message>, with processor: any ProcessorPlugin, index: Int,
              outputs: [BoundedChannel<Message>]) async {
        while let message = await input.receive() {
            await handle(message, with: processor, index: index, outputs: outputs)
        }
    }

    /// Up to `limit` messages at once, each handled by a worker task that takes it straight from
    /// the input channel (no task per message: one hand-off less on the way to a job). Workers
    /// are started as they are needed: one more whenever every worker is busy, up to `limit`;
    /// the spare starts while the others work, off the path of the message at hand.
    func handleConcurrently(_ limit: Int, processor: any ProcessorPlugin, index: Int, input: BoundedChannel<Message>,
                            outputs: [BoundedChannel<Message>]) async {
        let idle = Mutex(0)
        let (spareNeeded, requestSpare) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let worker: @Sendable () async -> Void = {
            while true {
                idle.withLock { $0 += 1 }
                guard let message = await input.receive() else { break }
                let allBusy = idle.withLock { count in
                    count -= 1
                    return count == 0
                }
                if allBusy { requestSpare.yield() }
                await self.handle(message, with: processor, index: index, outputs: outputs)
            }
            requestSpare.finish()  // the input has ended, or the run is cancelled
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask(operation: worker)
            var workers = 1
            for await _ in spareNeeded {
                workers += 1
                group.addTask(operation: worker)
                if workers == limit { break }
            }
        }
    }

    func handle(_ message: Message, with processor: any ProcessorPlugin, index: Int,
                outputs: [BoundedChannel<Message>]) async {
        let stats = self.stats[index]
        stats.update {
            $0.received += 1
            $0.active += 1
        }
        let output = Output { payload in
            message.ack.retain()
            stats.update { $0.emitted += 1 }
            try await self.deliver(payload, ack: message.ack, to: outputs)
        }
        var failure: String?
        do {
            try await Self.process(message.payload, with: processor, output)
        } catch {
            failure = "\(error)"
            recordFailure(node: index, failure ?? "")
        }
        stats.update {
            $0.active -= 1
            $0.done += 1
            if failure != nil { $0.failed += 1 }
        }
        message.ack.release(failure: failure.map { "\(plan.nodes[index].config.id): \($0)" })
    }

    /// Gives `processor` the value it takes out of `payload`.
    static func process<P: ProcessorPlugin>(_ payload: Payload, with processor: P, _ output: Output) async throws {
        guard let input = P.Input(payload) else {
            // The loader checks every edge, so this is a plugin whose `input` and `Input` disagree.
            throw MessageFailure("plugin '\(P.spec.name)' takes \(P.input) but got a \(payload.portType) message")
        }
        try await processor.process(input, output)
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
                for _ in sent..<targets.count { ack.release(failure: "stopped before delivery") }
                throw error
            }
        }
    }

    func recordFailure(node index: Int, _ message: String) {
        let id = plan.nodes[index].config.id
        logger.error("\(message)", metadata: ["node": "\(id)"])
        failures.withLock { f in
            f.count += 1
            if f.first.count < 100 { f.first.append("\(id): \(message)") }
        }
    }
}
