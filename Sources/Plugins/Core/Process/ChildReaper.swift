import Foundation
import Glibc
import Synchronization

/// Waits for spawned processes with one thread for all of them: each child's pidfd (Linux 5.3+)
/// is polled, and the child is reaped with `waitpid` once its pidfd says it has ended. The same
/// thread copies the children's output from their pipes into their log files (`JobOutput`).
///
/// One thread rather than one per running job, whose creation and end would cost a share of
/// Hypha's CPU per job (docs/BENCHMARKS.md). Where `pidfd_open` is missing
/// (glibc before 2.36 or an older kernel), `shared` is nil and callers wait on a thread.
final class ChildReaper: Sendable {
    static let shared: ChildReaper? = ChildReaper()

    private struct Waiter {
        let pid: pid_t
        let exited: ProcessLauncher.ExitFlag
        let outputs: [JobOutput]
        let continuation: CheckedContinuation<ProcessLauncher.Exit, Never>
    }

    private struct Watched {
        /// Waiters by pidfd.
        var waiters: [Int32: Waiter] = [:]
        /// Output pipes (read ends) still open.
        var pipes: [Int32: JobOutput] = [:]
    }

    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private static let pidfdOpen: PidfdOpen? = {
        dlsym(dlopen(nil, RTLD_NOW), "pidfd_open").map { unsafeBitCast($0, to: PidfdOpen.self) }
    }()

    private let watched = Mutex(Watched())
    /// A pipe that wakes the polling thread when a waiter is added.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private init?() {
        guard let open = Self.pidfdOpen else { return nil }
        // A probe: our own pid (never reaped here) tells whether the kernel has pidfds.
        let probe = open(getpid(), 0)
        guard probe >= 0 else { return nil }
        close(probe)
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return nil }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        (wakeRead, wakeWrite) = (ends[0], ends[1])
        let thread = Thread { [self] in pollLoop() }
        thread.name = "hypha-reaper"
        thread.start()
    }

    /// Waits for `pid` (a child of this process) to end and reaps it, copying its `outputs`
    /// into their log files meanwhile; when it returns, everything the child wrote is copied
    /// (what its own children write later still is, until they close the pipe). `exited` is
    /// set before the wait returns. Nil when no pidfd could be opened for it (wait another way).
    func wait(for pid: pid_t, exited: ProcessLauncher.ExitFlag, outputs: [JobOutput]) async -> ProcessLauncher.Exit? {
        guard let open = Self.pidfdOpen else { return nil }
        let fd = open(pid, 0)
        guard fd >= 0 else {
            // (Out of descriptors, say.) The caller waits on a thread; the output is still
            // copied here until its pipes end, though the result may miss its last bytes.
            watched.withLock { w in
                for output in outputs {
                    if let pipe = output.readEnd { w.pipes[pipe] = output }
                }
            }
            wake()
            return nil
        }
        return await withCheckedContinuation { continuation in
            watched.withLock { w in
                w.waiters[fd] = Waiter(pid: pid, exited: exited, outputs: outputs, continuation: continuation)
                for output in outputs {
                    if let pipe = output.readEnd { w.pipes[pipe] = output }
                }
            }
            wake()
        }
    }

    /// Makes the polling thread take up the new set of descriptors.
    private func wake() {
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWrite, &byte, 1)
    }

    private func pollLoop() {
        var polled: [pollfd] = []
        var drain = [UInt8](repeating: 0, count: 256)
        while true {
            polled.removeAll(keepingCapacity: true)
            polled.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
            let (pidfds, pipes) = watched.withLock { (Array($0.waiters.keys), Array($0.pipes.keys)) }
            for fd in pipes + pidfds {
                polled.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            }
            guard poll(&polled, nfds_t(polled.count), -1) > 0 else { continue }
            if polled[0].revents != 0 {
                while read(wakeRead, &drain, drain.count) > 0 {}
            }
            // Output first, so that a child's last words are copied before it is reported ended.
            for entry in polled.dropFirst() where entry.revents != 0 {
                if pipes.contains(entry.fd) { copyOutput(pipe: entry.fd) } else { reapIfEnded(pidfd: entry.fd) }
            }
        }
    }

    /// A read buffer for `copyOutput`, used by the polling thread alone.
    private nonisolated(unsafe) let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)

    /// Copies what is waiting in an output pipe into its log; at the pipe's end, closes it.
    private func copyOutput(pipe: Int32) {
        guard let output = watched.withLock({ $0.pipes[pipe] }) else { return }
        while true {
            let n = read(pipe, buffer.baseAddress, buffer.count)
            if n > 0 {
                output.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                watched.withLock { _ = $0.pipes.removeValue(forKey: pipe) }
                close(pipe)
                output.ended()
            }
            return
        }
    }

    private func reapIfEnded(pidfd: Int32) {
        guard let waiter = watched.withLock({ $0.waiters[pidfd] }) else { return }
        var status: Int32 = 0
        var result = waitpid(waiter.pid, &status, WNOHANG)
        while result < 0 && errno == EINTR { result = waitpid(waiter.pid, &status, WNOHANG) }
        guard result != 0 else { return }  // not ended yet
        watched.withLock { _ = $0.waiters.removeValue(forKey: pidfd) }
        close(pidfd)
        // Everything the child wrote is in its pipes by now.
        for pipe in waiter.outputs.compactMap(\.readEnd) where watched.withLock({ $0.pipes[pipe] != nil }) {
            copyOutput(pipe: pipe)
        }
        waiter.exited.set()
        // result < 0: someone else reaped it (ECHILD); its status is lost.
        waiter.continuation.resume(returning: result < 0 ? .exited(255) : ProcessLauncher.Exit(status: status))
    }
}
