import Foundation
import Testing

/// What the state folder promises (docs/GUARANTEES.md), tried on the built binary: nothing run
/// twice after a restart, nothing lost after a kill, failures kept and run again, bad state
/// reported rather than reset.
@Suite(.serialized, .timeLimit(.minutes(5))) struct DurabilityTests {
    static let workflow = CLI.shipped("workflows/extract-aggregate.yml")

    func runOnce(_ dir: String, extra: [String] = []) throws -> CLI.Result {
        try CLI.run(["run", Self.workflow, "--once", "--no-progress", "--var", "inbox=\(dir)/in", "--var", "work=\(dir)/work",
                     "--state-dir", dir + "/state"] + extra)
    }

    @Test func aRestartRunsNoJobARenameIsTheSameFileARewriteRunsItsTwoJobsAgain() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try CLI.makeZips(in: dir + "/in", count: 3, tricky: false)
        let first = try runOnce(dir)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("jobs: 6 completed, 0 failed"), "\(first.stdout)")

        let again = try runOnce(dir)
        #expect(again.status == 0)
        #expect(again.stdout.contains("jobs: 0 completed, 0 failed"), "\(again.stdout)")

        // A rename is the same file.
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/in").sorted()
        try FileManager.default.moveItem(atPath: "\(dir)/in/\(names[0])", toPath: "\(dir)/in/renamed.zip")
        let renamed = try runOnce(dir)
        #expect(renamed.stdout.contains("jobs: 0 completed, 0 failed"), "\(renamed.stdout)")

        // Rewritten in place (same inode, new content): its two jobs, and only those, run again.
        let path = "\(dir)/in/\(names[1])"
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: original)
        try handle.close()
        var st = stat()
        stat(path, &st)
        var times = [timespec(tv_sec: st.st_mtim.tv_sec + 5, tv_nsec: 0), timespec(tv_sec: st.st_mtim.tv_sec + 5, tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, 0)
        let rewritten = try runOnce(dir)
        #expect(rewritten.status == 0)
        #expect(rewritten.stdout.contains("jobs: 2 completed, 0 failed"), "\(rewritten.stdout)")
        let history = try CLI.run(["jobs", Self.workflow, "--state-dir", dir + "/state", "--json", "--var", "inbox=\(dir)/in"])
        #expect(history.stdout.split(separator: "\n").count == 8, "\(history.stdout)")  // 6 + the rewritten file's 2
    }

    /// The job of a test workflow: writes its pid where the test can see it, then sleeps, the
    /// first time; exits 0 at once after that.
    static func sleepyWorkflow(_ dir: String) throws -> String {
        let script = "if [ -e \(dir)/ran ]; then exit 0; fi; touch \(dir)/ran; echo $$ > \(dir)/pid.tmp; mv \(dir)/pid.tmp \(dir)/pid; exec sleep 300"
        return try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", script])
    }

    static func alive(_ pid: pid_t) -> Bool {
        // A zombie is as good as gone: read the state from /proc.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true)
    }

    /// The pid of `hypha guard-jobs` started by `parent`.
    static func guardProcess(of parent: pid_t) -> pid_t? {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  String(decoding: cmdline, as: UTF8.self).contains("guard-jobs"),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 2,
                  pid_t(fields[1]) == parent else { continue }
            return pid
        }
        return nil
    }

    /// `kill -9` of hypha: its guard ends the running job at once; the restart runs it again
    /// and finishes. And when the guard is killed too, the restart itself ends the leftover job
    /// before running it again.
    @Test(arguments: [false, true])
    func aKilledHyphaLeavesNoJobRunningAndTheRestartFinishes(killGuardToo: Bool) throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.sleepyWorkflow(dir)
        let hypha = try ArrowHTTPTests.start([workflow, "--run-dir", dir + "/run1", "--state-dir", dir + "/state"], log: dir + "/1.log")
        defer { ArrowHTTPTests.stop(hypha) }
        #expect(ArrowHTTPTests.waitUntil(20) { FileManager.default.fileExists(atPath: dir + "/pid") })
        let job = try #require(pid_t(try String(contentsOfFile: dir + "/pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(Self.alive(job))
        let guardPID = Self.guardProcess(of: hypha.processIdentifier)
        #expect(guardPID != nil)
        if killGuardToo, let guardPID { kill(guardPID, SIGKILL) }
        kill(hypha.processIdentifier, SIGKILL)
        hypha.waitUntilExit()

        if killGuardToo {
            #expect(Self.alive(job), "nothing ended the job yet")
        } else {
            #expect(ArrowHTTPTests.waitUntil(10) { !Self.alive(job) }, "the guard ended the job")
        }
        let restart = try CLI.run(["run", workflow, "--once", "--no-progress", "--run-dir", dir + "/run2", "--state-dir", dir + "/state"])
        #expect(!Self.alive(job))
        #expect(restart.status == 0, "\(restart.stdout)\(restart.stderr)")
        #expect(restart.stdout.contains("jobs: 1 completed, 0 failed"), "\(restart.stdout)")
        if killGuardToo { #expect(restart.stderr.contains("left running by an earlier hypha"), "\(restart.stderr)") }
        let history = try CLI.run(["jobs", workflow, "--state-dir", dir + "/state", "--json"])
        // Completed by the restart. (`attempts` counts committed intents: the killed run's may
        // not have committed in the milliseconds before the kill, so it is not asserted.)
        #expect(history.stdout.contains("\"state\":\"completed\""), "\(history.stdout)")
    }

    /// The guard lives as long as the run: a descriptor it inherited by accident (a file Hypha
    /// was writing while it started the guard) must not stay open in it, or a watcher would
    /// see that file as still being written. Started here with one such descriptor passed on.
    @Test func theJobGuardClosesWhatItInherits() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let program = """
            import os, subprocess, sys, time
            fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT)
            guard = subprocess.Popen([sys.argv[1], "guard-jobs"], stdin=subprocess.PIPE, pass_fds=[fd])
            os.close(fd)
            fds = lambda: sorted(int(n) for n in os.listdir(f"/proc/{guard.pid}/fd"))
            deadline = time.monotonic() + 10
            while fds() != [0, 1, 2] and time.monotonic() < deadline:
                time.sleep(0.01)
            print(fds())
            guard.stdin.close()
            guard.wait()
            """
        let result = try CLI.runPython(["-c", program, CLI.binary, dir + "/being-written.zip"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[0, 1, 2]", "\(result.stdout)")
    }

    @Test func aFailedMessageIsRetriedKeptAsADeadLetterAndRunAgainFromItsNode() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "echo try >> \(dir)/tries; test -e \(dir)/fixed"],
                                                        processOptions: ", retry: { attempts: 3, backoff: 10ms }")
        let state = ["--state-dir", dir + "/state"]
        let first = try CLI.run(["run", workflow, "--once", "--no-progress"] + state)
        #expect(first.status == 1)
        #expect(first.stdout.contains("1 message ended in dead letters"), "\(first.stdout)")
        #expect(first.stdout.contains("hypha dead-letters list"), "\(first.stdout)")
        #expect(try String(contentsOfFile: dir + "/tries", encoding: .utf8).split(separator: "\n").count == 3)

        let list = try CLI.run(["dead-letters", "list", workflow, "--json"] + state)
        let letters = list.stdout.split(separator: "\n")
        #expect(letters.count == 1, "\(list.stdout)\(list.stderr)")
        #expect(letters.first?.contains("\"node\":\"run\"") == true && letters.first?.contains("exit code 1") == true)
        #expect(letters.first?.contains("\"file\":\"\(dir)/in/one.txt\"") == true, "\(letters)")

        // The next run does not take the file up again: it failed for good.
        let again = try CLI.run(["run", workflow, "--once", "--no-progress"] + state)
        #expect(again.stdout.contains("jobs: 0 completed, 0 failed"), "\(again.stdout)")

        // A retry that fails again keeps one letter, not two.
        let early = try CLI.run(["dead-letters", "retry", workflow, "--all", "--no-progress"] + state)
        #expect(early.status == 1, "\(early.stdout)\(early.stderr)")
        #expect(early.stdout.contains("0 succeeded and were removed; 1 failed again and is kept with the new reason"), "\(early.stdout)")
        let kept = try CLI.run(["dead-letters", "list", workflow, "--json"] + state).stdout.split(separator: "\n")
        #expect(kept.count == 1 && kept.first?.contains("exit code 1") == true, "\(kept)")

        FileManager.default.createFile(atPath: dir + "/fixed", contents: Data())
        let retry = try CLI.run(["dead-letters", "retry", workflow, "--all", "--no-progress"] + state)
        #expect(retry.status == 0, "\(retry.stdout)\(retry.stderr)")
        #expect(retry.stdout.contains("1 succeeded and were removed"), "\(retry.stdout)")
        #expect(try CLI.run(["dead-letters", "list", workflow] + state).stdout.contains("no dead letters"))
        let jobs = try CLI.run(["jobs", workflow, "--state", "completed", "--json"] + state)
        #expect(jobs.stdout.split(separator: "\n").count == 1, "\(jobs.stdout)")
    }

    @Test func badStateIsAClearErrorAndNeverASilentReset() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.sleepyWorkflow(dir)
        FileManager.default.createFile(atPath: dir + "/ran", contents: Data())  // jobs end at once
        let state = ["--state-dir", dir + "/state"]

        // A second hypha on the same state folder.
        let running = try ArrowHTTPTests.start([workflow, "--run-dir", dir + "/run1"] + state, log: dir + "/1.log")
        #expect(ArrowHTTPTests.waitUntil(20) { FileManager.default.fileExists(atPath: dir + "/state/lock") })
        #expect(ArrowHTTPTests.waitUntil(20) {
            (try? String(contentsOfFile: dir + "/state/lock", encoding: .utf8))?.contains("\(running.processIdentifier)") == true
        })
        let second = try CLI.run(["run", workflow, "--once", "--no-progress"] + state)
        #expect(second.status == 3)
        #expect(second.stderr.contains("is in use by another hypha (pid \(running.processIdentifier))"), "\(second.stderr)")
        ArrowHTTPTests.stop(running)

        // A database from a newer Hypha.
        let bump = ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version=99'); c.commit()",
                    dir + "/state/state.db"]
        _ = try CLI.runPython(bump)
        let newer = try CLI.run(["run", workflow, "--once", "--no-progress"] + state)
        #expect(newer.status == 3)
        #expect(newer.stderr.contains("schema version 99, from a newer Hypha"), "\(newer.stderr)")

        // A damaged database: reported, never replaced.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dir + "/state/state.db" + suffix) }
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: dir + "/state/state.db"))
        let damaged = try CLI.run(["run", workflow, "--once", "--no-progress"] + state)
        #expect(damaged.status == 3)
        #expect(damaged.stderr.contains("is damaged") && damaged.stderr.contains("state.db aside"), "\(damaged.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/state/state.db")) == Data(repeating: 0x5A, count: 8192))

        // A truncated database (SQLite would take it for a new, empty one): exit 3, left as it is.
        try Data().write(to: URL(fileURLWithPath: dir + "/state/state.db"))
        let empty = try CLI.run(["run", workflow, "--once", "--no-progress"] + state)
        #expect(empty.status == 3, "\(empty.stderr)")
        #expect(empty.stderr.contains("is empty (0 bytes)") && empty.stderr.contains("restore it from a backup"), "\(empty.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/state/state.db")).isEmpty)
        let emptyJobs = try CLI.run(["jobs", workflow] + state)
        #expect(emptyJobs.status == 3 && emptyJobs.stderr.contains("is empty (0 bytes)"), "\(emptyJobs.stderr)")

        // Something that is not a file where the database should be.
        try FileManager.default.removeItem(atPath: dir + "/state/state.db")
        try FileManager.default.createDirectory(atPath: dir + "/state/state.db", withIntermediateDirectories: false)
        let folder = try CLI.run(["run", workflow, "--once", "--no-progress"] + state)
        #expect(folder.status == 3 && folder.stderr.contains("state.db is not a file"), "\(folder.stderr)")
    }

    /// A database another process keeps locked (here a sqlite3 client in a transaction) is an
    /// error naming that process once the wait for it runs out, not a bare "database is locked".
    @Test func aLockedDatabaseNamesTheProcessHoldingIt() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.sleepyWorkflow(dir)
        FileManager.default.createFile(atPath: dir + "/ran", contents: Data())
        let state = ["--state-dir", dir + "/state"]
        let first = try CLI.run(["run", workflow, "--once", "--no-progress", "--run-dir", dir + "/run0"] + state, timeout: 60)
        try #require(first.status == 0, "\(first.stderr)")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: CLI.python)
        holder.arguments = CLI.pythonArguments(["-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute('BEGIN EXCLUSIVE')
            open(sys.argv[2], 'w').close()
            time.sleep(120)
            """, dir + "/state/state.db", dir + "/holding"])
        try holder.run()
        // SIGKILL: a signal the test runner blocks stays blocked in what it starts.
        defer { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
        #expect(ArrowHTTPTests.waitUntil(20) { FileManager.default.fileExists(atPath: dir + "/holding") })
        let blocked = try CLI.run(["run", workflow, "--once", "--no-progress", "--run-dir", dir + "/run1"] + state, timeout: 60)
        #expect(blocked.status == 3, "\(blocked.stderr)")
        #expect(blocked.stderr.contains("stayed locked by pid \(holder.processIdentifier)"), "\(blocked.stderr)")
    }

    /// arrow-http answers 200 only once a message is kept in the state folder: a message
    /// answered 200 whose job was running when hypha was killed is processed by the next start.
    @Test func aMessageAnswered200SurvivesAKill() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/js", withIntermediateDirectories: true)
        let script = "if [ -e \(dir)/ran ]; then echo done > \(dir)/finished; exit 0; fi; touch \(dir)/ran; echo $$ > \(dir)/pid.tmp; mv \(dir)/pid.tmp \(dir)/pid; exec sleep 300"
        try """
            Type: batch
            Count: 1
            Tasks:
              - Name: t
                Engine: {Type: process, Params: {Name: sh, Arguments: ["-c", "\(script)"]}}
            """.write(toFile: dir + "/js/sleepy.yml", atomically: true, encoding: .utf8)
        let port = ArrowHTTPTests.freePort()
        try """
            jobstore: js
            nodes:
              incoming: { plugin: arrow-http, port: \(port) }
              decode: { plugin: arrow-decode, from: incoming }
              spec: { plugin: template, from: decode, job: sleepy }
              run: { plugin: process, from: spec }
            """.write(toFile: dir + "/w.yml", atomically: true, encoding: .utf8)
        let state = ["--state-dir", dir + "/state"]
        let node = try ArrowHTTPTests.start([dir + "/w.yml", "--run-dir", dir + "/run1"] + state, log: dir + "/1.log")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)
        let (status, _) = await SecurityTests.post(try SecurityTests.fileRecords([("/x/a.zip", "a.zip")]), port: port)
        #expect(status == 200)
        #expect(ArrowHTTPTests.waitUntil(20) { FileManager.default.fileExists(atPath: dir + "/pid") })
        kill(node.processIdentifier, SIGKILL)
        node.waitUntilExit()

        let restart = try CLI.run(["run", dir + "/w.yml", "--once", "--no-progress", "--run-dir", dir + "/run2"] + state)
        #expect(restart.status == 0, "\(restart.stdout)\(restart.stderr)")
        #expect(restart.stdout.contains("jobs: 1 completed, 0 failed"), "\(restart.stdout)")
        #expect(FileManager.default.fileExists(atPath: dir + "/finished"))
        // Done with: a further start has nothing to emit again.
        let third = try CLI.run(["run", dir + "/w.yml", "--once", "--no-progress", "--run-dir", dir + "/run3"] + state)
        #expect(third.stdout.contains("jobs: 0 completed, 0 failed"), "\(third.stdout)")
    }

    /// A full disk under the state folder stops the run with a clear error and exit 3; once
    /// there is room again, the next run finishes the work. Needs root (a small tmpfs is
    /// mounted for the state folder); shown as skipped elsewhere.
    @Test(.enabled(if: getuid() == 0, "needs root to mount a small tmpfs"))
    func aFullDiskStopsTheRunClearlyAndTheNextRunFinishes() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tiny = dir + "/tiny"
        try FileManager.default.createDirectory(atPath: tiny, withIntermediateDirectories: true)
        let mounted = try CLI.spawn("/bin/mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", tiny])
        try #require(mounted.status == 0, "cannot mount a tmpfs: \(mounted.stderr)")
        defer { _ = try? CLI.spawn("/bin/umount", [tiny]) }
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        let long = String(repeating: "n", count: 180)
        for i in 0..<6000 { FileManager.default.createFile(atPath: "\(dir)/in/\(long)-\(i).txt", contents: nil) }
        try """
            nodes:
              files: { plugin: file-watch, path: in }
              decode: { plugin: arrow-decode, from: files }
              out: { plugin: capture, from: decode, path: seen.jsonl }
            """.write(toFile: dir + "/w.yml", atomically: true, encoding: .utf8)
        let arguments = ["run", dir + "/w.yml", "--once", "--no-progress", "--run-dir", dir + "/run", "--state-dir", tiny + "/state"]
        let full = try CLI.run(arguments)
        #expect(full.status == 3, "\(full.stdout)\(full.stderr)")
        #expect(full.stderr.contains("the disk holding the state folder \(tiny)/state is full"), "\(full.stderr)")

        _ = try CLI.spawn("/bin/mount", ["-o", "remount,size=64m", tiny])
        let again = try CLI.run(arguments)
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        let seen = try String(contentsOfFile: dir + "/seen.jsonl", encoding: .utf8)
        let names = Set(seen.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "\"name\":\"") else { return nil }
            return String(line[range.upperBound...].prefix { $0 != "\"" })
        })
        #expect(names.count == 6000, "every file reached the sink at least once")
    }
}
