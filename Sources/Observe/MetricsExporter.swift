import CoreMetrics
import Engine
import Foundation
import Prometheus
import Synchronization

/// `/metrics`: the run's counters in the Prometheus text format, through swift-metrics with a
/// swift-prometheus registry that this exporter owns (no global `MetricsSystem`, so two runs in
/// one process, or tests, do not mix).
///
/// Counters are brought up to date when scraped, from the runtime's `NodeStats` and the
/// watcher's per-node job counts: nothing is added on a message's path.
final class MetricsExporter: Sendable {
    static let jobStates = ["completed", "failed", "interrupted"]

    private struct NodeMetrics {
        var received: CoreMetrics.Counter
        var emitted: CoreMetrics.Counter
        var failed: CoreMetrics.Counter
        var depth: CoreMetrics.Gauge?
        var capacity: CoreMetrics.Gauge?
        var jobs: [String: CoreMetrics.Counter]
        var duration: CoreMetrics.Timer?
        var running: CoreMetrics.Gauge?
        var lag: CoreMetrics.Gauge?
    }

    /// The values last exported, to add only the difference to each counter.
    private struct Exported {
        var stats: [NodeStats.Snapshot]
        var jobs: [[String: Int]]
        var cpuSeconds = 0.0
    }

    let registry = PrometheusCollectorRegistry()
    private let watcher: RunWatcher
    private let nodes: [NodeMetrics]
    private let residentMemory: CoreMetrics.Gauge
    private let cpuSeconds: CoreMetrics.FloatingPointCounter
    private let openDescriptors: CoreMetrics.Gauge
    private let startTime: CoreMetrics.Gauge
    private let exported: Mutex<Exported>

    /// Job duration buckets, in seconds: from a trivial local job to a long remote one.
    static let durationBuckets: [Duration] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]
        .map { Duration.nanoseconds(Int64($0 * 1e9)) }

    init(watcher: RunWatcher) {
        self.watcher = watcher
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = ["hypha_job_duration_seconds": Self.durationBuckets]
        nodes = watcher.plan.nodes.map { node in
            let id = [("node", node.config.id)]
            let isSource = node.plugin.isSource
            let isExecutor = node.plugin.isExecutor
            return NodeMetrics(
                received: CoreMetrics.Counter(label: "hypha_messages_received_total", dimensions: id, factory: factory),
                emitted: CoreMetrics.Counter(label: "hypha_messages_emitted_total", dimensions: id, factory: factory),
                failed: CoreMetrics.Counter(label: "hypha_messages_failed_total", dimensions: id, factory: factory),
                depth: isSource ? nil : CoreMetrics.Gauge(label: "hypha_channel_depth", dimensions: id, factory: factory),
                capacity: isSource ? nil : CoreMetrics.Gauge(label: "hypha_channel_capacity", dimensions: id, factory: factory),
                jobs: isExecutor ? Dictionary(uniqueKeysWithValues: Self.jobStates.map { state in
                    (state, CoreMetrics.Counter(label: "hypha_jobs_total", dimensions: id + [("state", state)], factory: factory))
                }) : [:],
                duration: isExecutor ? CoreMetrics.Timer(label: "hypha_job_duration_seconds", dimensions: id, factory: factory) : nil,
                running: isExecutor ? CoreMetrics.Gauge(label: "hypha_jobs_running", dimensions: id, factory: factory) : nil,
                lag: isSource ? CoreMetrics.Gauge(label: "hypha_source_lag_seconds", dimensions: id, factory: factory) : nil)
        }
        residentMemory = CoreMetrics.Gauge(label: "process_resident_memory_bytes", factory: factory)
        cpuSeconds = CoreMetrics.FloatingPointCounter(label: "process_cpu_seconds_total", factory: factory)
        openDescriptors = CoreMetrics.Gauge(label: "process_open_fds", factory: factory)
        startTime = CoreMetrics.Gauge(label: "process_start_time_seconds", factory: factory)
        startTime.record(watcher.startedAt.timeIntervalSince1970)
        exported = Mutex(Exported(stats: Array(repeating: NodeStats(node: "").snapshot, count: nodes.count),
                                  jobs: Array(repeating: [:], count: nodes.count)))
    }

    /// The exposition text, brought up to date.
    func render() -> [UInt8] {
        let readings = watcher.readNodes()
        let process = ProcessMetrics.read()
        exported.withLock { last in
            for (index, reading) in readings.enumerated() {
                let metrics = nodes[index]
                let before = last.stats[index]
                let now = reading.stats
                if now.received > before.received { metrics.received.increment(by: now.received - before.received) }
                if now.emitted > before.emitted { metrics.emitted.increment(by: now.emitted - before.emitted) }
                if now.failed > before.failed { metrics.failed.increment(by: now.failed - before.failed) }
                last.stats[index] = now
                if let depth = reading.queueDepth { metrics.depth?.record(depth) }
                if let capacity = reading.queueCapacity { metrics.capacity?.record(capacity) }
                for (state, counter) in metrics.jobs {
                    let count = reading.jobCounts[state] ?? 0
                    let previous = last.jobs[index][state] ?? 0
                    if count > previous { counter.increment(by: count - previous) }
                    last.jobs[index][state] = count
                }
                if let duration = metrics.duration {
                    for seconds in watcher.nodes[index].durations.take() {
                        duration.recordNanoseconds(Int64(seconds * 1e9))
                    }
                }
                metrics.running?.record(reading.jobsRunning)
                if let lag = reading.sourceLag { metrics.lag?.record(lag) }
            }
            if let process {
                residentMemory.record(process.residentBytes)
                openDescriptors.record(process.openDescriptors)
                if process.cpuSeconds > last.cpuSeconds {
                    cpuSeconds.increment(by: process.cpuSeconds - last.cpuSeconds)
                    last.cpuSeconds = process.cpuSeconds
                }
            }
        }
        return registry.emitToBuffer()
    }
}

/// The process's own figures, from /proc (Linux).
struct ProcessMetrics {
    var residentBytes: Int
    var cpuSeconds: Double
    var openDescriptors: Int

    static func read() -> ProcessMetrics? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"),
              let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        // Fields after the command's closing parenthesis start at field 3 (state); utime and
        // stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        return ProcessMetrics(residentBytes: pages * sysconf(Int32(_SC_PAGESIZE)), cpuSeconds: (user + system) / ticks,
                              openDescriptors: descriptors)
    }
}
