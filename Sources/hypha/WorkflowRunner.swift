import Dispatch
import Engine
import Foundation
import HyphaState
import Logging
import Observe
import Synchronization

/// Runs a checked workflow for the CLI: logging, live progress, signals, the summary and
/// the exit code (0 all succeeded, 1 something failed, 130 interrupted).
struct WorkflowRunner {
    var options: RunOptions

    private static let loggingBootstrapped = Mutex(false)

    init(options: RunOptions) { self.options = options }

    enum Event: Sendable {
        case finished(WorkflowRuntime.Summary)
        case forceStop
        /// A new version of the workflow whose shape changed: it starts once the running one ends.
        case restart(WorkflowPlan)
        case idle
    }

    /// Runs `plan`; with `injections`, runs those messages through the DAG instead of the
    /// sources, and `afterwards` gets the state folder before it is released.
    /// With `reload`, the workflow is loaded again on SIGHUP (and on edits with `--watch`).
    /// `overrides` (those `plan` was loaded with) are recorded in the state as the run's
    /// configuration, which `hypha dead-letters retry` replays.
    func run(_ plan: WorkflowPlan, once: Bool, overrides: RunOverrides,
             injecting injections: [WorkflowRuntime.Injection] = [], reload: LiveReload? = nil,
             afterwards: ((StateFolder) async throws -> Void)? = nil) async throws -> Int32 {
        let showProgress = Console.stderrIsTerminal && !options.noProgress
        let level = options.logLevel ?? (showProgress ? .warning : .info)
        Self.loggingBootstrapped.withLock { done in
            if !done {
                let json = options.logFormat == .json
                LoggingSystem.bootstrap { label in
                    if json { return JSONLogHandler.standardError(label: label) }
                    var handler = StreamLogHandler.standardError(label: label)
                    handler.logLevel = .trace
                    return handler
                }
                done = true
            }
        }
        var logger = Logger(label: "hypha")
        logger.logLevel = level

        let runID = Self.makeRunID()
        let stateFolder = options.noState ? nil : try options.state.open(for: plan.info)
        let runDirectory: String
        do {
            runDirectory = try options.runDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
                ?? stateFolder?.runFolder(for: runID, retention: plan.info.retention)
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("hypha-runs/\(runID)").path
            if options.reprocess, let stateFolder {
                try await stateFolder.store.forgetAll()
                logger.notice("--reprocess: forgot which files were handled and which jobs completed; everything runs again")
            }
            if let stateFolder {
                let run = try await stateFolder.store.runStarted(.of(plan, overrides: overrides, runID: runID))
                logger.debug("run \(runID) is run #\(run) of the state folder")
            }
        } catch let error as StateStoreError {
            Console.error("hypha: \(error.description)")
            return 3
        }
        // Jobs are marked with their state folder, or with this run when there is none. An
        // earlier Hypha's jobs can carry the key only when it is not new: a state folder, or a
        // run folder given with --run-dir (the scan reads every process's environment).
        let guardKey = stateFolder?.path ?? runDirectory
        let keyCanBeOld = stateFolder != nil || options.runDir != nil
        let leftovers = keyCanBeOld ? LocalJobGuard.endLeftoverJobs(of: guardKey, grace: 2) : 0
        if leftovers > 0 {
            logger.warning("ended \(leftovers) job process group(s) left running by an earlier hypha of \(guardKey); their jobs run again")
        }
        let jobGuard = LocalJobGuard(stateFolder: guardKey, grace: 2)
        logger.info("run \(runID) of \(plan.info.name) started; state in \(stateFolder?.path ?? "none (--no-state)"), job logs in \(runDirectory)")

        let started = ContinuousClock.now
        let signals = SignalWatcher(signals: [SIGINT, SIGTERM])
        let grace = options.grace
        let notifier = SystemdNotifier.fromEnvironment()  // sd_notify, under systemd (Type=notify)
        var interrupted = false
        var plan = plan
        var earlier: WorkflowRuntime.Summary?
        var summary: WorkflowRuntime.Summary
        // One runtime per version of the workflow: a reload that changes its shape ends the
        // running one (what is in flight finishes) and starts the next.
        let observe = try await ObserveHook.start(options.http, plan: plan, runID: runID, runDirectory: runDirectory,
                                                  state: stateFolder, logger: logger)
        while true {
            let runtime = WorkflowRuntime(plan: plan, once: once, runDirectory: runDirectory, runID: runID, logger: logger,
                                          state: stateFolder?.store, jobGuard: jobGuard, observer: observe.watcher)
            if let retries = stateFolder.map({ LiveRetries(store: $0.store, folder: $0.path) }) {
                observe.server?.serveRetries { id in await retries.retry(id, in: runtime) }
            }
            let progress = showProgress ? ProgressDisplay(stats: runtime.stats, plan: plan) : nil
            var next: WorkflowPlan?
            let ended: WorkflowRuntime.Summary = try await withThrowingTaskGroup(of: Event.self) { group in
                group.addTask { .finished(try await runtime.run(injecting: injections)) }
                group.addTask {
                    // First signal: stop the sources, let running work finish. Second signal, or
                    // the end of the grace period: stop everything.
                    await signals.first.wait()
                    guard !Task.isCancelled else { return .idle }
                    notifier?.stopping(runtime)
                    runtime.stop()
                    Console.error((Console.stderrIsTerminal ? "\n" : "") + "hypha: \(signals.firstSignal == SIGINT ? "interrupted" : "terminated"); stopping sources, "
                                  + "giving running jobs \(grace) s (Ctrl-C again to stop now)")
                    await signals.second.wait(atMost: grace)
                    return Task.isCancelled ? .idle : .forceStop
                }
                if let progress {
                    group.addTask {
                        await progress.run()
                        return .idle
                    }
                }
                if let notifier {
                    group.addTask {
                        await notifier.run(runtime)
                        return .idle
                    }
                }
                if let reload {
                    group.addTask { await reload.serve(runtime).map(Event.restart) ?? .idle }
                }
                var result: WorkflowRuntime.Summary?
                while let event = try await group.next() {
                    switch event {
                    case .finished(let s):
                        result = s
                        group.cancelAll()
                    case .forceStop:
                        interrupted = true
                        Console.error("hypha: stopping running jobs")
                        group.cancelAll()
                    case .restart(let newPlan):
                        next = newPlan
                        runtime.stop()
                    case .idle:
                        break
                    }
                    if result != nil { break }
                }
                progress?.clear()
                guard let result else { throw CancellationError() }
                return result
            }
            summary = earlier.map { $0.followed(by: ended) } ?? ended
            guard let newPlan = next, !interrupted, signals.firstSignal == nil, ended.stateFailure == nil else {
                notifier?.stopping(runtime)
                break
            }
            earlier = summary
            plan = newPlan
            // The endpoint watches one version of the workflow: the new one gets a new watcher.
            observe.watch(plan, runID: runID, runDirectory: runDirectory)
            Console.error("hypha: the previous version has finished; starting the new one")
        }
        interrupted = interrupted || summary.stoppedEarly
        let elapsed = started.duration(to: .now)
        printSummary(summary, plan: plan, elapsed: elapsed, interrupted: interrupted, runDirectory: runDirectory)
        if summary.deadLetters > 0 {
            Console.out("  \(summary.deadLetters) message\(summary.deadLetters == 1 ? "" : "s") ended in dead letters; "
                        + "see them with: hypha dead-letters list \(plan.info.file)"
                        + (options.state.stateDir.map { " --state-dir \($0)" } ?? ""))
        }
        let signalled = signals.firstSignal != nil  // a signal that ends --http-linger does not make the run interrupted
        await observe.finish(until: signals.first)
        do {
            if let stateFolder { try await afterwards?(stateFolder) }
        } catch let error as StateStoreError {
            Console.error("hypha: \(error.description)")
            return 3
        }
        if let failure = summary.stateFailure {
            Console.error("hypha: \(failure)")
            return 3
        }
        if signalled || interrupted { return 130 }
        return summary.succeeded ? 0 : 1
    }

    func printSummary(_ summary: WorkflowRuntime.Summary, plan: WorkflowPlan, elapsed: Duration, interrupted: Bool,
                      runDirectory: String) {
        let seconds = elapsed.inSeconds
        var completed = 0
        var failed = 0
        Console.out("\(plan.info.name): \(interrupted ? "interrupted" : "done") in \(String(format: "%.2f", seconds)) s")
        for (id, plugin, stats) in summary.nodes {
            let node = plan.node(id)
            if node?.plugin.isExecutor == true {
                completed += stats.emitted
                failed += stats.failed
            }
            var parts: [String] = []
            if node?.plugin.isSource == false { parts.append("in \(stats.received)") }
            if node?.spec.output != nil { parts.append("out \(stats.emitted)") }
            parts.append("failed \(stats.failed)")
            Console.out("  \(id.padding(toLength: 16, withPad: " ", startingAt: 0)) \(plugin.padding(toLength: 13, withPad: " ", startingAt: 0)) \(parts.joined(separator: "  "))")
        }
        let reused = summary.reusedJobs > 0 ? " (\(summary.reusedJobs) of them in an earlier run: their recorded results were used)" : ""
        Console.out("  jobs: \(completed) completed, \(failed) failed\(reused); logs in \(runDirectory)")
        if summary.interrupted > 0 {
            Console.out("  \(summary.interrupted) message\(summary.interrupted == 1 ? "" : "s") interrupted: taken up again on the next start")
        }
        if !summary.failures.isEmpty {
            Console.out("failures (\(summary.failureCount)):")
            for line in summary.failures.prefix(10) { Console.out("  \(line)") }
            if summary.failureCount > 10 { Console.out("  ... and \(summary.failureCount - 10) more") }
        }
    }

    static func makeRunID() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(formatter.string(from: Date()))-\(suffix)"
    }
}

/// Watches SIGINT and SIGTERM (their default handlers are replaced): `first` fires on the
/// first signal, `second` on the next one.
final class SignalWatcher: Sendable {
    let first = ShutdownSignal()
    let second = ShutdownSignal()
    private let received = Mutex<[Int32]>([])
    private nonisolated(unsafe) let sources: [DispatchSourceSignal]

    init(signals: [Int32]) {
        var sources: [DispatchSourceSignal] = []
        for sig in signals {
            signal(sig, SIG_IGN)
            sources.append(DispatchSource.makeSignalSource(signal: sig, queue: .global()))
        }
        self.sources = sources
        for (source, sig) in zip(sources, signals) {
            source.setEventHandler { [weak self] in self?.record(sig) }
            source.resume()
        }
    }

    private func record(_ sig: Int32) {
        let count = received.withLock { list in
            list.append(sig)
            return list.count
        }
        (count == 1 ? first : second).trigger()
    }

    /// The first signal received, if any.
    var firstSignal: Int32? { received.withLock { $0.first } }

    deinit {
        for source in sources { source.cancel() }
    }
}
