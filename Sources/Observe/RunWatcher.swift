import Engine
import Foundation
import Synchronization

/// Watches one run (a `RuntimeObserver`): jobs running and finished per executor node, each
/// source's messages in flight (for its lag), failures, and the events the web view follows.
///
/// Everything the runtime calls per message takes only that node's own lock, and only at the
/// nodes that need it (executors, sources): counters come from the runtime's `NodeStats` when
/// the watcher is read, not on the message's path.
public final class RunWatcher: RuntimeObserver, Sendable {
    public let plan: WorkflowPlan
    public let runID: String
    public let runDirectory: String
    public let startedAt: Date
    /// How many finished jobs each executor node keeps in memory (what `/api/v1/jobs` lists
    /// without state).
    public let keptJobs: Int
    let events = EventHub()
    let nodes: [NodeWatch]
    private let attached = Mutex<(stats: [NodeStats], queues: [Int: any QueueGauge])>(([], [:]))
    private let runFinished = Atomic<Bool>(false)
    private let failures = Mutex<[FailureEntry]>([])

    public init(plan: WorkflowPlan, runID: String, runDirectory: String, keptJobs: Int = 500) {
        self.plan = plan
        self.runID = runID
        self.runDirectory = runDirectory
        self.keptJobs = keptJobs
        startedAt = Date()
        nodes = plan.nodes.map { NodeWatch(isExecutor: $0.plugin.isExecutor, isSource: $0.plugin.isSource) }
    }

    /// The run is over: nothing runs any more (the endpoint may stay up a little longer).
    public func finish() {
        runFinished.store(true, ordering: .relaxed)
        events.publish("run", ["finished": .bool(true)])
        endTaps()
    }

    /// Ends every tap's stream: its reader gets what its buffer holds, then the end.
    func endTaps() {
        for watch in nodes { watch.tap.finishAll() }
    }

    public var isFinished: Bool { runFinished.load(ordering: .relaxed) }

    // MARK: RuntimeObserver

    public func runStarted(queues: [Int: any QueueGauge], stats: [NodeStats]) {
        attached.withLock { $0 = (stats, queues) }
    }

    public func messageStarted(node: Int, payload: Payload) {
        let watch = nodes[node]
        guard watch.isExecutor, case .job(let job) = payload else { return }
        let entry = JobEntry(node: plan.nodes[node].config.id, name: job.name, state: "running",
                             file: job.input.sourceFile, input: .map(job.input), started: Date().timeIntervalSince1970)
        watch.state.withLock { $0.running[job.name] = (entry, .now) }
        if events.hasSubscribers { events.publish("job", entry.value) }
    }

    public func messageEmitted(node: Int, output: Payload) {
        let watch = nodes[node]
        watch.tap.offer(output)
        guard watch.isExecutor, case .result(let result) = output else { return }
        let details = result.details
        watch.state.withLock { s in
            guard var running = s.running[result.job.name] else { return }
            running.entry.exitCode = details["exit_code"]?.intValue
            running.entry.stdoutPath = details["stdout_path"]?.stringValue
            running.entry.stderrPath = details["stderr_path"]?.stringValue
            s.running[result.job.name] = running
        }
    }

    public func messageFinished(node: Int, payload: Payload, failure: (any Error)?, interrupted: Bool) {
        let watch = nodes[node]
        guard watch.isExecutor, case .job(let job) = payload else { return }
        let state = failure == nil ? "completed" : interrupted ? "interrupted" : "failed"
        let finished: JobEntry? = watch.state.withLock { s in
            guard let (started, clock) = s.running.removeValue(forKey: job.name) else { return nil }
            var entry = started
            entry.state = state
            entry.duration = clock.duration(to: .now).inSeconds
            entry.ended = Date().timeIntervalSince1970
            if let failure {
                entry.reason = "\(failure)"
                if let logs = (failure as? MessageFailure)?.logs {
                    entry.stdoutPath = entry.stdoutPath ?? logs.first { $0.hasSuffix(".stdout.log") }
                    entry.stderrPath = entry.stderrPath ?? logs.first { $0.hasSuffix(".stderr.log") }
                }
            }
            s.counts[state, default: 0] += 1
            s.finished.append(entry)
            if s.finished.count > keptJobs * 2 { s.finished.removeFirst(s.finished.count - keptJobs) }
            return entry
        }
        guard let finished else { return }
        watch.durations.record(finished.duration ?? 0)
        if events.hasSubscribers { events.publish("job", finished.value) }
    }

    public func failureRecorded(node: Int, message: String) {
        let entry = FailureEntry(node: plan.nodes[node].config.id, message: message, time: Date().timeIntervalSince1970)
        failures.withLock { list in
            list.append(entry)
            if list.count > 200 { list.removeFirst(list.count - 100) }
        }
        if events.hasSubscribers {
            events.publish("failure", .map(Record([("node", .string(entry.node)), ("message", .string(message)),
                                                   ("time", .float(entry.time))])))
        }
    }

    public func sourceEmitted(node: Int, payload: Payload, ack: Acknowledgement) -> Acknowledgement {
        let watch = nodes[node]
        watch.tap.offer(payload)
        let id = watch.state.withLock { s in
            s.nextID += 1
            s.inFlight[s.nextID] = .now
            return s.nextID
        }
        return ack.relayed { _ in
            _ = watch.state.withLock { $0.inFlight.removeValue(forKey: id) }
        }
    }

    // MARK: Reading

    /// One node's state now.
    struct NodeReading {
        var stats: NodeStats.Snapshot
        var queueDepth: Int?
        var queueCapacity: Int?
        var jobsRunning: Int
        var jobCounts: [String: Int]
        var sourceLag: Double?
    }

    func readNodes() -> [NodeReading] {
        let (stats, queues) = attached.withLock { ($0.stats, $0.queues) }
        let now = ContinuousClock.now
        return nodes.enumerated().map { index, watch in
            let (running, counts, oldest) = watch.state.withLock { s in
                (s.running.count, s.counts, watch.isSource ? s.inFlight.values.min() : nil)
            }
            let queue = queues[index]
            return NodeReading(
                stats: index < stats.count ? stats[index].snapshot : NodeStats(node: "").snapshot,
                queueDepth: queue?.count, queueCapacity: queue?.capacity, jobsRunning: running, jobCounts: counts,
                sourceLag: watch.isSource ? oldest.map { $0.duration(to: now).inSeconds } ?? 0 : nil)
        }
    }

    /// Jobs running now, oldest first.
    func runningJobs() -> [JobEntry] {
        nodes.flatMap { watch in watch.state.withLock { s in s.running.values.map(\.entry) } }
            .sorted { ($0.started ?? 0) < ($1.started ?? 0) }
    }

    /// Jobs of this run, running and finished, newest first.
    func recentJobs(limit: Int) -> [JobEntry] {
        let all = nodes.flatMap { watch in
            watch.state.withLock { s in s.running.values.map(\.entry) + s.finished.suffix(limit) }
        }
        return Array(all.sorted { ($0.started ?? 0) > ($1.started ?? 0) }.prefix(limit))
    }

    /// Whether `name` is running now at any node.
    func isRunning(job name: String) -> Bool {
        nodes.contains { watch in watch.state.withLock { $0.running[name] != nil } }
    }

    /// The job of this run called `name`, if any.
    func job(named name: String) -> JobEntry? {
        for watch in nodes {
            if let entry = watch.state.withLock({ s in s.running[name]?.entry ?? s.finished.last { $0.name == name } }) {
                return entry
            }
        }
        return nil
    }

    func recentFailures() -> [FailureEntry] { failures.withLock { $0 } }

    /// The tap of the node called `id`, and the kind of payload it emits; nil for a node that
    /// does not exist or emits nothing (a sink).
    func tap(node id: String) -> (tap: NodeTap, output: PortType)? {
        guard let index = plan.nodes.firstIndex(where: { $0.config.id == id }), let output = plan.nodes[index].spec.output else {
            return nil
        }
        return (nodes[index].tap, output)
    }
}

/// One node's watched state, behind its own lock.
final class NodeWatch: Sendable {
    struct State {
        var running: [String: (entry: JobEntry, clock: ContinuousClock.Instant)] = [:]
        var finished: [JobEntry] = []
        var counts: [String: Int] = [:]
        var nextID: UInt64 = 0
        var inFlight: [UInt64: ContinuousClock.Instant] = [:]
    }

    let isExecutor: Bool
    let isSource: Bool
    let state = Mutex(State())
    let durations = DurationRecorder()
    /// What leaves the node, for `/api/v1/tap/NODE`.
    let tap = NodeTap()

    init(isExecutor: Bool, isSource: Bool) {
        self.isExecutor = isExecutor
        self.isSource = isSource
    }
}

/// Job durations, kept until the metrics are next read (then recorded in the histogram).
final class DurationRecorder: Sendable {
    private let pending = Mutex<[Double]>([])
    func record(_ seconds: Double) { pending.withLock { $0.append(seconds) } }
    func take() -> [Double] { pending.withLock { list in defer { list.removeAll() }; return list } }
}

/// A job as the endpoint shows it (from memory or from the journal).
struct JobEntry: Sendable {
    var node: String
    var name: String
    var state: String
    var file: String?
    /// The input record (turned into JSON text only when shown: off the job's path).
    var input: Value
    var exitCode: Int64?
    var duration: Double?
    var stdoutPath: String?
    var stderrPath: String?
    var reason: String?
    var started: Double?
    var ended: Double?

    init(node: String, name: String, state: String, file: String?, input: Value, started: Double?) {
        self.node = node
        self.name = name
        self.state = state
        self.file = file
        self.input = input
        self.started = started
    }

    init(_ job: JournalJob) {
        self.init(node: job.node, name: job.name, state: job.state, file: job.file, input: .string(job.input), started: job.started)
        exitCode = job.exitCode
        duration = job.duration
        stdoutPath = job.stdoutPath
        stderrPath = job.stderrPath
        reason = job.reason
        ended = job.ended
    }

    var value: Value {
        func opt<T>(_ v: T?, _ f: (T) -> Value) -> Value { v.map(f) ?? .null }
        return .map(Record([
            ("node", .string(node)), ("name", .string(name)), ("state", .string(state)), ("file", opt(file, Value.string)),
            ("input", .string(input.stringValue ?? input.json)), ("exit_code", opt(exitCode, Value.int)), ("duration", opt(duration, Value.float)),
            ("stdout_path", opt(stdoutPath, Value.string)), ("stderr_path", opt(stderrPath, Value.string)),
            ("reason", opt(reason, Value.string)), ("started", opt(started, Value.float)), ("ended", opt(ended, Value.float)),
        ]))
    }
}

struct FailureEntry: Sendable {
    var node: String
    var message: String
    var time: Double
}

/// Fans events out to every subscriber (the `/api/v1/events` streams).
final class EventHub: Sendable {
    private let subscribers = Mutex<[UInt64: AsyncStream<String>.Continuation]>([:])
    private let nextID = Atomic<UInt64>(0)
    private let count = Atomic<Int>(0)

    /// Cheap to ask on every job: publishing does nothing without subscribers.
    var hasSubscribers: Bool { count.load(ordering: .relaxed) > 0 }

    /// A stream of SSE frames (`event: TYPE\ndata: JSON\n\n`) until `cancel` or the hub's end.
    func subscribe() -> (id: UInt64, stream: AsyncStream<String>) {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        subscribers.withLock { $0[id] = continuation }
        count.add(1, ordering: .relaxed)
        return (id, stream)
    }

    func cancel(_ id: UInt64) {
        let removed = subscribers.withLock { $0.removeValue(forKey: id) }
        if let removed {
            count.subtract(1, ordering: .relaxed)
            removed.finish()
        }
    }

    func publish(_ type: String, _ data: Value) {
        let frame = "event: \(type)\ndata: \(data.json)\n\n"
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(frame) }
    }

    func publish(_ type: String, _ fields: [String: Value]) {
        publish(type, .map(Record(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })))
    }

    func finishAll() {
        let all = subscribers.withLock { s in defer { s.removeAll() }; return Array(s.values) }
        count.store(0, ordering: .relaxed)
        for continuation in all { continuation.finish() }
    }
}
