import Engine
import Foundation
import Glibc
import Synchronization

/// The sd_notify protocol, spoken when systemd (or anything else) sets `NOTIFY_SOCKET`: a
/// `Type=notify` unit is started once `READY=1` arrives, shows `STATUS=` in `systemctl
/// status`, knows a stop is under way from `STOPPING=1`, and restarts a Hypha that stops
/// sending `WATCHDOG=1` when `WatchdogSec=` is set. Each message is one datagram on an
/// AF_UNIX socket (a path, or `@name` in the abstract namespace).
final class SystemdNotifier: Sendable {
    private let fd: Int32
    /// The socket address's path bytes (a leading 0 for the abstract namespace).
    private let path: [UInt8]
    /// How often to send `WATCHDOG=1`, when systemd asks for it.
    let watchdogInterval: Duration?
    /// How often `STATUS=` is sent.
    let statusInterval: Duration
    /// Whether READY=1 and STOPPING=1 have been sent; sent under this lock, so in order.
    private let sent = Mutex<(ready: Bool, stopping: Bool)>((false, false))

    /// A notifier for `NOTIFY_SOCKET`, or nil when it is not set (not run by systemd) or not
    /// usable (then a warning says why).
    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment,
                                statusInterval: Duration = .seconds(2)) -> SystemdNotifier? {
        guard let socketPath = environment["NOTIFY_SOCKET"], !socketPath.isEmpty else { return nil }
        var bytes = Array(socketPath.utf8)
        if bytes.first == UInt8(ascii: "@") {
            bytes[0] = 0
        } else if bytes.first != UInt8(ascii: "/") {
            Console.error("hypha: NOTIFY_SOCKET '\(socketPath)' is neither a path nor @name; not notifying the service manager")
            return nil
        }
        guard bytes.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            Console.error("hypha: NOTIFY_SOCKET '\(socketPath)' is too long for a socket address; not notifying the service manager")
            return nil
        }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            Console.error("hypha: cannot open a socket for NOTIFY_SOCKET: \(String(cString: strerror(errno)))")
            return nil
        }
        var watchdog: Duration?
        if let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdog = .microseconds(usec / 2)
        }
        return SystemdNotifier(fd: fd, path: bytes, watchdogInterval: watchdog, statusInterval: statusInterval)
    }

    private init(fd: Int32, path: [UInt8], watchdogInterval: Duration?, statusInterval: Duration) {
        self.fd = fd
        self.path = path
        self.watchdogInterval = watchdogInterval
        self.statusInterval = statusInterval
    }

    deinit { close(fd) }

    /// Sends one notification (`KEY=VALUE` lines); false when it could not be sent.
    @discardableResult
    func send(_ text: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.enumerated() { raw[i] = byte }
        }
        // An abstract address is exactly its bytes; a path ends with its NUL.
        let pathLength = path.first == 0 ? path.count : path.count + 1
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathLength)
        let bytes = Array(text.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                sendto(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, length)
            }
        }
        return sent == bytes.count
    }

    /// Sends `READY=1` (once, and never after `STOPPING=1`) with a first `STATUS=`.
    func ready(_ runtime: WorkflowRuntime) {
        sent.withLock { s in
            guard !s.ready, !s.stopping else { return }
            s.ready = true
            send("READY=1\nSTATUS=\(Self.status(of: runtime))")
        }
    }

    /// Sends `STOPPING=1` (once); `READY=1` first when the run got ready and it was not sent
    /// yet (a `--once` run that ends at once), so the two arrive in order.
    func stopping(_ runtime: WorkflowRuntime) {
        if runtime.ready.isReady { ready(runtime) }
        sent.withLock { s in
            guard !s.stopping else { return }
            s.stopping = true
            send("STOPPING=1\nSTATUS=stopping: finishing the work in flight")
        }
    }

    /// Until cancelled: `WATCHDOG=1` at the asked interval; `READY=1` once every source of
    /// `runtime` listens or watches; then `STATUS=` every `statusInterval`.
    func run(_ runtime: WorkflowRuntime) async {
        await withTaskGroup(of: Void.self) { group in
            if let interval = watchdogInterval {
                group.addTask {
                    while !Task.isCancelled {
                        self.send("WATCHDOG=1")
                        try? await Task.sleep(for: interval)
                    }
                }
            }
            group.addTask {
                await runtime.ready.wait()
                guard runtime.ready.isReady else { return }  // cancelled before
                self.ready(runtime)
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.statusInterval)
                    if Task.isCancelled || self.sent.withLock({ $0.stopping }) { break }
                    self.send("STATUS=\(Self.status(of: runtime))")
                }
            }
        }
    }

    /// One line: what the sources emitted and how the jobs (or, without executors, the sinks)
    /// are doing.
    static func status(of runtime: WorkflowRuntime) -> String {
        var emitted = 0, running = 0, done = 0, failed = 0
        let nodes = runtime.plan.nodes
        let executors = Set(nodes.indices.filter { nodes[$0].plugin.isExecutor })
        let counted = executors.isEmpty ? Set(nodes.indices.filter { nodes[$0].spec.output == nil }) : executors
        for (index, stats) in runtime.stats.enumerated() {
            let snapshot = stats.snapshot
            if nodes[index].plugin.isSource { emitted += snapshot.emitted }
            if counted.contains(index) {
                running += snapshot.active
                done += snapshot.done - snapshot.failed
                failed += snapshot.failed
            }
        }
        let what = executors.isEmpty ? "messages" : "jobs"
        return "\(runtime.plan.info.name): \(emitted) message\(emitted == 1 ? "" : "s") in; "
            + "\(what) \(running) running, \(done) done, \(failed) failed"
    }
}
