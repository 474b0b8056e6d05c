import ArgumentParser
import Engine
import Foundation
import Glibc
import Synchronization

/// Keeps local jobs from outliving Hypha. A helper process (`hypha guard-jobs`, this binary)
/// reads "+PGID" and "-PGID" lines on a pipe from Hypha; when the pipe closes, which happens
/// however Hypha ends (even `kill -9`), it ends the process groups still listed: SIGTERM, then
/// SIGKILL after the grace period. Jobs carry `HYPHA_JOB_OF=<state folder>` in their
/// environment, so the next start can also find and end any the guard could not
/// (`endLeftoverJobs`).
final class LocalJobGuard: JobGuard {
    let environmentKey: (name: String, value: String)
    private let grace: Double
    /// The helper and the pipe to it, started with the first job (a run without local jobs
    /// starts none).
    private let helper = Mutex<(process: Process, input: FileHandle)?>(nil)
    private let failedToStart = Mutex(false)

    init(stateFolder: String, grace: Double) {
        environmentKey = ("HYPHA_JOB_OF", stateFolder)
        self.grace = grace
    }

    func started(processGroup: Int32) { send("+\(processGroup)\n") }
    func ended(processGroup: Int32) { send("-\(processGroup)\n") }

    private func send(_ line: String) {
        let fd: Int32? = helper.withLock { helper in
            if helper == nil, !failedToStart.withLock({ $0 }) {
                do {
                    helper = try start()
                } catch {
                    failedToStart.withLock { $0 = true }
                    Console.error("hypha: cannot start the job guard (\(error)); local jobs may outlive a killed hypha")
                }
            }
            return helper?.input.fileDescriptor
        }
        // A line is far below PIPE_BUF, so each write is atomic among the writing tasks.
        if let fd { _ = line.withCString { write(fd, $0, strlen($0)) } }
    }

    private func start() throws -> (process: Process, input: FileHandle) {
        let channel = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["guard-jobs", "--grace", String(grace), "--marker", environmentKey.value]
        // The guard needs no variable; an empty environment keeps Hypha's secrets out of its
        // /proc/PID/environ, which the jobs (same user) could read.
        process.environment = [:]
        process.standardInput = channel
        try process.run()
        let input = channel.fileHandleForWriting
        // Keep the descriptor out of every job (they are spawned with closefrom(3) as well).
        _ = fcntl(input.fileDescriptor, F_SETFD, FD_CLOEXEC)
        signal(SIGPIPE, SIG_IGN)
        return (process, input)
    }

    /// Ends the process groups of jobs that a Hypha of this state folder started and that are
    /// still running (their Hypha died, and its guard too). Returns how many groups were ended.
    static func endLeftoverJobs(of stateFolder: String, grace: Double) -> Int {
        let groups = markedGroups(of: stateFolder)
        guard !groups.isEmpty else { return 0 }
        LocalJobGuard.end(groups, grace: grace)
        return groups.count
    }
}

extension LocalJobGuard {
    /// SIGTERM to each process group, SIGKILL to those still there after `grace` seconds.
    static func end(_ groups: Set<pid_t>, grace: Double) {
        for group in groups { killpg(group, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline, groups.contains(where: { killpg($0, 0) == 0 }) { usleep(20_000) }
        for group in groups { killpg(group, SIGKILL) }
    }

    /// Whether no process holds `folder`'s lock (see `StateFolder`).
    static func stateFolderIsFree(_ folder: String) -> Bool {
        let fd = open(folder + "/lock", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        flock(fd, LOCK_UN)
        return true
    }

    /// The process groups of the processes whose environment carries `HYPHA_JOB_OF=stateFolder`.
    static func markedGroups(of stateFolder: String) -> Set<pid_t> {
        let marker = Array("HYPHA_JOB_OF=\(stateFolder)".utf8)
        var groups = Set<pid_t>()
        let me = getpid()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), pid != me,
                  let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ"),
                  environ.split(separator: 0).contains(where: { Array($0) == marker }) else { continue }
            let group = getpgid(pid)
            if group > 0 { groups.insert(group) }
        }
        return groups
    }
}

/// `hypha guard-jobs`: the helper process of `LocalJobGuard` (not for people to run).
struct GuardJobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard-jobs", abstract: "Internal: ends the jobs of a Hypha that has died.", shouldDisplay: false)

    @Option var grace: Double = 5
    /// The state folder whose jobs (by their `HYPHA_JOB_OF`) it also ends.
    @Option var marker: String?

    func run() throws {
        Self.closeInheritedDescriptors()
        // Out of the terminal's process group: Ctrl-C is for Hypha, which stops its jobs itself.
        setsid()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        var groups = Set<pid_t>()
        while let line = readLine() {
            guard let sign = line.first, let group = pid_t(line.dropFirst()) else { continue }
            if sign == "+" { groups.insert(group) } else { groups.remove(group) }
        }
        // Hypha has ended. Groups still listed were running when it did; so were jobs carrying
        // its marker that it had not reported yet (started in the moment before it died).
        // Only while no other Hypha holds the state folder: a restart's own jobs carry the marker too.
        if let marker, LocalJobGuard.stateFolderIsFree(marker) { groups.formUnion(LocalJobGuard.markedGroups(of: marker)) }
        guard !groups.isEmpty else { return }
        LocalJobGuard.end(groups, grace: grace)
    }

    /// Closes every descriptor above stderr. Foundation's `Process` closes in the child only
    /// the descriptors that were open when it looked; one that another of Hypha's threads
    /// opened in between without close-on-exec (Foundation's own file writes do) would stay
    /// open in this helper for the whole run: a file Hypha wrote would look still open for
    /// writing to a watcher, and a pipe's reader would never see its end.
    static func closeInheritedDescriptors() {
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 { close(fd) }
    }
}
