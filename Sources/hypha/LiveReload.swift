import Dispatch
import Engine
import Foundation
import Synchronization

/// Live reload for `hypha run`: on SIGHUP, and with `--watch` when the workflow file, a file in
/// its jobstore or a file a node reads (an exec script) changes, loads the workflow again and hands it to the running runtime,
/// which replaces only the nodes that changed. A version with errors is reported, with
/// positions, and the running one goes on. A version whose shape changed (nodes added or
/// removed, edges moved) is returned to the runner, which lets the running version finish what
/// is in flight and starts the new one.
final class LiveReload: Sendable {
    /// Loads and checks the workflow as the command line says (the same file, profile, vars).
    let load: @Sendable () throws(Diagnostics) -> WorkflowPlan
    /// Whether files are watched (`--watch`); SIGHUP always reloads.
    let watch: Bool
    let file: String
    let requests = ReloadRequests()
    private nonisolated(unsafe) let hangup: DispatchSourceSignal
    /// How often watched files are looked at.
    static let pollInterval: Duration = .milliseconds(300)

    init(file: String, watch: Bool, load: @escaping @Sendable () throws(Diagnostics) -> WorkflowPlan) {
        self.file = file
        self.watch = watch
        self.load = load
        signal(SIGHUP, SIG_IGN)
        hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler { [requests] in requests.request("SIGHUP received") }
        hangup.resume()
    }

    deinit { hangup.cancel() }

    /// Serves reload requests for `runtime` until cancelled; returns the new version of the
    /// workflow when it must replace the running one as a whole.
    func serve(_ runtime: WorkflowRuntime) async -> WorkflowPlan? {
        var watched = watch ? FileSignature(paths: Self.watchedPaths(of: runtime.plan)) : nil
        while !Task.isCancelled {
            guard let reason = await nextReason(watched: &watched) else { continue }
            Console.error("hypha: \(reason); reloading \(file)")
            let plan: WorkflowPlan
            do {
                plan = try load()
            } catch {
                for diagnostic in error.all { Console.error(diagnostic.description) }
                let n = error.all.count
                Console.error("hypha: not reloaded: \(n) error\(n == 1 ? "" : "s") in \(file); the running version goes on")
                continue
            }
            if watch { watched = FileSignature(paths: Self.watchedPaths(of: plan)) }
            do {
                let replaced = try await runtime.reload(to: plan)
                Console.error(replaced.isEmpty
                    ? "hypha: reloaded \(file): no node changed"
                    : "hypha: reloaded \(file): restarted \(replaced.joined(separator: ", ")); the other nodes kept running")
            } catch let change as WorkflowRuntime.ShapeChanged {
                Console.error("hypha: reloading \(file): \(change); finishing what is in flight, then starting the new version")
                return plan
            } catch {
                Console.error("hypha: not reloaded: \(error); the running version goes on")
            }
        }
        return nil
    }

    /// Waits for SIGHUP or, with `--watch`, for a watched file to change and then stay
    /// unchanged for one poll (an editor writes in steps). Nil when cancelled.
    private func nextReason(watched: inout FileSignature?) async -> String? {
        guard let before = watched else { return await requests.next() }
        while !Task.isCancelled {
            if let reason = await requests.next(within: Self.pollInterval) { return reason }
            var settled = FileSignature(paths: before.paths)
            guard settled != before else { continue }
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.pollInterval)
                let again = FileSignature(paths: before.paths)
                if again == settled { break }
                settled = again
            }
            watched = settled
            return "\(settled.changed(since: before).first ?? "a watched file") changed"
        }
        return nil
    }

    /// The workflow file, every jobstore folder its nodes read templates from, and the files
    /// its nodes say they read (`Plugin.filesRead`: an exec program's script).
    static func watchedPaths(of plan: WorkflowPlan) -> [String] {
        var paths = [plan.info.file]
        if let jobstore = plan.info.jobstore { paths.append(jobstore) }
        for node in plan.nodes {
            if case .string(let folder)? = node.config.value("jobstore") { paths.append(folder) }
            paths += node.plugin.filesRead(by: node.config)
        }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }
}

/// What was seen of some files and folders (a folder: each entry's, but hidden and backup
/// files): identity, size and modification time.
struct FileSignature: Equatable {
    let paths: [String]
    private var entries: [String: String] = [:]

    init(paths: [String]) {
        self.paths = paths
        for path in paths {
            entries[path] = Self.stamp(path)
            if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
                // An editor's swap and backup files (.x.swp, x~) are not templates.
                for name in names where !name.hasPrefix(".") && !name.hasSuffix("~") {
                    entries[path + "/" + name] = Self.stamp(path + "/" + name)
                }
            }
        }
    }

    /// The paths whose stamp differs from `other`'s.
    func changed(since other: FileSignature) -> [String] {
        Set(entries.keys).union(other.entries.keys).filter { entries[$0] != other.entries[$0] }.sorted()
    }

    private static func stamp(_ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "missing" }
        return "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }
}

/// Reload requests (SIGHUP), coalesced: several before one is taken count once.
final class ReloadRequests: Sendable {
    private let state = Mutex<(pending: String?, waiter: CheckedContinuation<String?, Never>?)>((nil, nil))

    func request(_ reason: String) {
        let waiter = state.withLock { s -> CheckedContinuation<String?, Never>? in
            guard let waiter = s.waiter else {
                s.pending = s.pending ?? reason
                return nil
            }
            s.waiter = nil
            return waiter
        }
        waiter?.resume(returning: reason)
    }

    /// The next request; nil when the waiting task is cancelled.
    func next() async -> String? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
                let ready = state.withLock { s -> String?? in
                    if let pending = s.pending {
                        s.pending = nil
                        return .some(pending)
                    }
                    if Task.isCancelled { return .some(nil) }
                    s.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<String?, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// The next request if one comes within `timeout`, else nil.
    func next(within timeout: Duration) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask { await self.next() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            // A request taken by the losing task is not dropped.
            var late: String?
            while let other = await group.next() { late = late ?? other }
            if first == nil, let late { return late }
            if let late, first != nil { request(late) }
            return first
        }
    }
}

extension WorkflowRuntime.Summary {
    /// This run's outcome followed by the next version's (a reload that restarted the run):
    /// counters added per node, in the order the nodes last had.
    func followed(by later: WorkflowRuntime.Summary) -> WorkflowRuntime.Summary {
        var result = later
        var nodes = later.nodes
        for (id, plugin, stats) in self.nodes {
            guard let i = nodes.firstIndex(where: { $0.id == id }) else {
                nodes.append((id, plugin, stats))
                continue
            }
            nodes[i].stats.received += stats.received
            nodes[i].stats.emitted += stats.emitted
            nodes[i].stats.failed += stats.failed
            nodes[i].stats.done += stats.done
        }
        result.nodes = nodes
        result.failures = Array((failures + later.failures).prefix(100))
        result.failureCount = failureCount + later.failureCount
        result.deadLetters = deadLetters + later.deadLetters
        result.interrupted = interrupted + later.interrupted
        result.reusedJobs = reusedJobs + later.reusedJobs
        result.stateFailure = stateFailure ?? later.stateFailure
        return result
    }
}
