import Foundation
import Glibc
import Synchronization

/// Starts a program with `posix_spawn` in a session of its own, its stdout and stderr going to
/// the given descriptors, and waits for it without blocking Swift's cooperative threads.
///
/// Hand-written rather than swift-subprocess: Subprocess cost several times more of Hypha's own
/// CPU per job than `posix_spawn` + `waitpid`, and the executor must keep up with a file per
/// millisecond on 2 cores (docs/BENCHMARKS.md has the measurements).
enum ProcessLauncher {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// How a process ended.
    enum Exit: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)

        /// From a `waitpid` status.
        init(status: Int32) {
            let signal = status & 0x7f
            self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
        }
    }

    /// glibc's `POSIX_SPAWN_SETSID` (a GNU extension Swift's Glibc module doesn't import).
    static let spawnSetSID: Int32 = 0x80

    typealias FileActionChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias FileActionClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `_np` file actions (2.29 and 2.34), looked up at run time for the same reason.
    static let addChdir: FileActionChdir? = {
        dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: FileActionChdir.self) }
    }()
    static let addClosefrom: FileActionClosefrom? = {
        dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: FileActionClosefrom.self) }
    }()

    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    /// glibc's `pipe2` (a GNU extension Swift's Glibc module doesn't import).
    static let pipe2: Pipe2? = dlsym(dlopen(nil, RTLD_NOW), "pipe2").map { unsafeBitCast($0, to: Pipe2.self) }

    /// A pipe whose ends are close-on-exec from the start (in one call where `pipe2` exists), so
    /// no other child inherits them.
    static func pipe() throws(Failure) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        if let pipe2 {
            guard pipe2(&ends, O_CLOEXEC) == 0 else { throw Failure(description: "cannot make a pipe: \(String(cString: strerror(errno)))") }
        } else {
            guard Glibc.pipe(&ends) == 0 else { throw Failure(description: "cannot make a pipe: \(String(cString: strerror(errno)))") }
            _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        }
        return (ends[0], ends[1])
    }

    /// `/dev/null`, opened once: every job's stdin (a `dup2` in the child instead of a path lookup).
    static let devNull: Int32 = open("/dev/null", O_RDONLY | O_CLOEXEC)

    /// Spawns `program` (an absolute path) with `arguments`; returns its pid.
    /// `stdin` is /dev/null unless a descriptor is given. Descriptors from 3 up are closed in the
    /// child, so a program never holds Hypha's files, pipes or database open.
    static func spawn(program: String, arguments: [String], environment: JobEnvironment, adding overrides: [String: String],
                      workingDirectory: String?, stdin: Int32? = nil, stdout: Int32, stderr: Int32) throws(Failure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else if devNull > 2 {  // (a process started without stdin may get 0, 1 or 2 for it)
            posix_spawn_file_actions_adddup2(&actions, devNull, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        if let closefrom = addClosefrom { _ = closefrom(&actions, 3) }
        if let workingDirectory {
            guard let chdir = addChdir else { throw Failure(description: "this C library cannot set a working directory for a spawned process") }
            _ = chdir(&actions, workingDirectory)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(spawnSetSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let result = environment.withEnvp(adding: overrides) { posix_spawn(&pid, program, &actions, &attributes, argv, $0) }
        guard result == 0 else {
            throw Failure(description: "cannot start \(program): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// Waits for `pid` to end. Cancelling the waiting task sends SIGTERM to the process's
    /// group and, `grace` later, SIGKILL; the wait still returns only once it has ended.
    static func wait(for pid: pid_t, grace: Duration, outputs: [JobOutput]) async -> Exit {
        let exited = ExitFlag()
        return await withTaskCancellationHandler {
            if let reaper = ChildReaper.shared, let exit = await reaper.wait(for: pid, exited: exited, outputs: outputs) {
                return exit
            }
            return await withCheckedContinuation { (continuation: CheckedContinuation<Exit, Never>) in
                // Without pidfds: a blocking waitpid on a thread of its own, off Swift's cooperative pool.
                let thread = Thread {
                    var status: Int32 = 0
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                    exited.set()
                    continuation.resume(returning: Exit(status: status))
                }
                thread.stackSize = 64 * 1024
                thread.start()
            }
        } onCancel: {
            stop(pid, grace: grace, exited: exited)
        }
    }

    /// SIGTERM to the process group now, SIGKILL after `grace` unless it has ended.
    static func stop(_ pid: pid_t, grace: Duration, exited: ExitFlag) {
        killpg(pid, SIGTERM)
        let thread = Thread {
            let deadline = ContinuousClock.now + grace
            while ContinuousClock.now < deadline {
                if exited.isSet { return }
                usleep(10_000)
            }
            // Only while the leader lives: once it is reaped its pid (the group id) may be reused.
            if !exited.isSet { killpg(pid, SIGKILL) }
        }
        thread.start()
    }

    /// Set once the process has been reaped.
    final class ExitFlag: Sendable {
        private let flag = Mutex(false)
        var isSet: Bool { flag.withLock { $0 } }
        func set() { flag.withLock { $0 = true } }
    }
}
