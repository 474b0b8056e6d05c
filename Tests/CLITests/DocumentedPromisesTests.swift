import Foundation
import Testing

/// Promises README.md and docs/ make that no other test checked, each tried on the built binary
/// (issue 20: "a green run that cannot lie").
@Suite(.timeLimit(.minutes(5))) struct DocumentedPromisesTests {
    // MARK: helpers

    /// `hypha run WORKFLOW --once --no-progress --state-dir DIR/state` and `extra`.
    static func runOnce(_ workflow: String, _ dir: String, _ extra: [String] = []) throws -> CLI.Result {
        try CLI.run(["run", workflow, "--once", "--no-progress", "--state-dir", dir + "/state"] + extra)
    }

    /// The non-empty lines of a file ([] when it does not exist).
    static func lines(_ path: String) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    /// The JSON objects of `--json` output, one a line.
    static func objects(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Sets a path's modification (and access) time.
    static func setModified(_ path: String, to date: Date) {
        let seconds = Int(date.timeIntervalSince1970)
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, 0)
    }

    static func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    // MARK: 1. --reprocess

    /// GUARANTEES "Running everything again on purpose": a second run skips the handled files;
    /// `--reprocess` forgets them and every job runs again.
    @Test func aSecondRunSkipsHandledFilesAndReprocessRunsEveryJobAgain() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "echo {{ name }} >> \(dir)/effects"])
        FileManager.default.createFile(atPath: dir + "/in/two.txt", contents: Data("2".utf8))

        let first = try Self.runOnce(workflow, dir)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(Self.lines(dir + "/effects").sorted() == ["one.txt", "two.txt"])

        let second = try Self.runOnce(workflow, dir)
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(second.stdout.contains("jobs: 0 completed, 0 failed"), "\(second.stdout)")
        #expect(Self.lines(dir + "/effects").count == 2, "the handled files were skipped")

        let again = try Self.runOnce(workflow, dir, ["--reprocess"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(again.stdout.contains("jobs: 2 completed, 0 failed"), "\(again.stdout)")
        #expect(Self.lines(dir + "/effects").sorted() == ["one.txt", "one.txt", "two.txt", "two.txt"])

        // What --reprocess ran is remembered again.
        let after = try Self.runOnce(workflow, dir)
        #expect(after.stdout.contains("jobs: 0 completed, 0 failed"), "\(after.stdout)")
        #expect(Self.lines(dir + "/effects").count == 4)
    }

    // MARK: 2. jobs --file

    /// README: `hypha jobs WORKFLOW --file sales-001.zip`: what happened to this file, and only
    /// it; GUARANTEES: "what ran, for which input, when, how long, how it ended, where its logs are".
    @Test func jobsFileShowsTheJobsOfThatFileOnly() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "echo ran {{ name }}"])
        FileManager.default.createFile(atPath: dir + "/in/two.txt", contents: Data("2".utf8))
        let run = try Self.runOnce(workflow, dir)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")

        let table = try CLI.run(["jobs", workflow, "--state-dir", dir + "/state", "--file", "two.txt"])
        #expect(table.status == 0, "\(table.stderr)")
        let rows = table.stdout.split(separator: "\n").dropFirst()  // the header
        let jobRows = rows.filter { !$0.hasPrefix(" ") }               // not the "    log: PATH" lines
        #expect(jobRows.count == 1, "\(table.stdout)")
        #expect(jobRows.allSatisfy { $0.contains("\(dir)/in/two.txt") && $0.contains("completed") }, "\(table.stdout)")
        #expect(rows.contains { $0.contains("log: \(dir)/state/runs/") && $0.hasSuffix(".stdout.log") }, "where its log is: \(table.stdout)")
        #expect(!table.stdout.contains("one.txt"), "\(table.stdout)")

        for file in ["two.txt", dir + "/in/two.txt"] {  // a file name, or a path
            let json = try CLI.run(["jobs", workflow, "--state-dir", dir + "/state", "--file", file, "--json"])
            #expect(json.status == 0, "\(json.stderr)")
            let objects = Self.objects(json.stdout)
            #expect(objects.count == 1, "\(json.stdout)")
            let job = try #require(objects.first)
            #expect(job["node"] as? String == "run")
            #expect((job["name"] as? String)?.contains("two") == true, "\(job)")
            #expect(job["state"] as? String == "completed")
            #expect(job["file"] as? String == dir + "/in/two.txt")
            #expect(job["exit_code"] as? Int == 0)
            #expect(job["attempts"] as? Int == 1)
            #expect((job["duration"] as? Double).map { $0 >= 0 } == true, "\(job)")
            #expect(job["started"] is String && job["ended"] is String, "\(job)")
            #expect((job["input"] as? [String: Any])?["name"] as? String == "two.txt", "\(job)")
            let stdoutLog = try #require(job["stdout_path"] as? String, "\(job)")
            #expect(Self.contents(stdoutLog) == "ran two.txt\n")
        }
        let none = try CLI.run(["jobs", workflow, "--state-dir", dir + "/state", "--file", "three.txt", "--json"])
        #expect(none.status == 0 && Self.objects(none.stdout).isEmpty, "\(none.stdout)\(none.stderr)")
    }

    // MARK: 3. dead-letters drop

    /// GUARANTEES: `hypha dead-letters list|retry|drop WORKFLOW`.
    @Test func aDroppedDeadLetterIsNoLongerListed() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "case {{ name }} in two.txt) exit 3;; esac"])
        FileManager.default.createFile(atPath: dir + "/in/two.txt", contents: Data("2".utf8))
        let run = try Self.runOnce(workflow, dir)
        #expect(run.status == 1, "a dead letter: \(run.stdout)\(run.stderr)")
        let state = ["--state-dir", dir + "/state"]

        let table = try CLI.run(["dead-letters", "list", workflow] + state)
        #expect(table.status == 0)
        #expect(table.stdout.contains("\(dir)/in/two.txt") && table.stdout.contains("exit code 3"), "\(table.stdout)")
        #expect(!table.stdout.contains("one.txt"), "\(table.stdout)")
        let listed = Self.objects(try CLI.run(["dead-letters", "list", workflow, "--json"] + state).stdout)
        #expect(listed.count == 1, "\(listed)")
        let letter = try #require(listed.first)
        let id = try #require(letter["id"] as? Int, "\(letter)")
        #expect(letter["node"] as? String == "run")
        #expect(letter["file"] as? String == dir + "/in/two.txt")

        let unknown = try CLI.run(["dead-letters", "drop", workflow, "\(id + 100)"] + state)
        #expect(unknown.status == 1, "an unknown id is an error: \(unknown.stdout)\(unknown.stderr)")
        #expect(unknown.stdout.contains("dropped 0 dead letters"), "\(unknown.stdout)")
        #expect(unknown.stderr.contains("no dead letter #\(id + 100)"), "the unknown id is named: \(unknown.stderr)")
        #expect(Self.objects(try CLI.run(["dead-letters", "list", workflow, "--json"] + state).stdout).count == 1, "nothing was dropped")

        let dropped = try CLI.run(["dead-letters", "drop", workflow, "\(id)"] + state)
        #expect(dropped.status == 0, "\(dropped.stdout)\(dropped.stderr)")
        #expect(dropped.stdout.contains("dropped 1 dead letter"), "\(dropped.stdout)")
        let after = try CLI.run(["dead-letters", "list", workflow] + state)
        #expect(after.status == 0)
        #expect(after.stdout.contains("no dead letters") && !after.stdout.contains("two.txt"), "\(after.stdout)")
        #expect(Self.objects(try CLI.run(["dead-letters", "list", workflow, "--json"] + state).stdout).isEmpty)

        let twice = try CLI.run(["dead-letters", "drop", workflow, "\(id)"] + state)
        #expect(twice.status == 1 && twice.stdout.contains("dropped 0 dead letters") && twice.stderr.contains("no dead letter #\(id);"),
                "\(twice.stdout)\(twice.stderr)")
        // Dropped, not run: the file stays recorded as failed and is not taken up by itself.
        let again = try Self.runOnce(workflow, dir)
        #expect(again.status == 0 && again.stdout.contains("jobs: 0 completed, 0 failed"), "\(again.stdout)")
    }

    // MARK: 4. retention

    /// Makes run folders under `STATE/runs` with these names and modification times.
    static func makeRunFolders(_ state: String, _ folders: [(String, Date)]) throws {
        for (name, modified) in folders {
            try FileManager.default.createDirectory(atPath: "\(state)/runs/\(name)/jobs", withIntermediateDirectories: true)
            Self.setModified("\(state)/runs/\(name)", to: modified)
        }
    }

    static func runFolders(_ state: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: state + "/runs")) ?? []).sorted()
    }

    /// README / GUARANTEES: "the newest 20 run folders are kept (`retention: { runs: N, days: D }`)".
    @Test func theNewest20RunFoldersAreKeptByDefault() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "true"])
        let old = (1...25).map { (String(format: "20000101-0000%02d-0", $0), Date()) }
        try Self.makeRunFolders(dir + "/state", old)
        let run = try Self.runOnce(workflow, dir)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let kept = Self.runFolders(dir + "/state")
        #expect(kept.count == 20, "\(kept)")
        #expect(Array(kept.prefix(19)) == old.suffix(19).map(\.0), "the oldest 6 went: \(kept)")
        #expect(run.stdout.contains("logs in \(dir)/state/runs/\(kept.last ?? "-")"), "this run's folder is kept: \(run.stdout)")
    }

    @Test func retentionRunsAndDaysInTheWorkflow() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "true"])
        let text = try String(contentsOfFile: workflow, encoding: .utf8)

        // runs: 3 keeps this run and the 2 newest before it.
        try (text + "\nretention: { runs: 3 }\n").write(toFile: workflow, atomically: true, encoding: .utf8)
        try Self.makeRunFolders(dir + "/state", (1...5).map { ("20000101-00000\($0)-0", Date()) })
        let run = try Self.runOnce(workflow, dir)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let kept = Self.runFolders(dir + "/state")
        #expect(kept.count == 3, "\(kept)")
        #expect(Array(kept.prefix(2)) == ["20000101-000004-0", "20000101-000005-0"], "\(kept)")

        // days: 2 removes folders not modified for 2 days, whatever their names; runs: 50
        // would keep them all.
        try FileManager.default.removeItem(atPath: dir + "/state/runs")
        try (text + "\nretention: { runs: 50, days: 2 }\n").write(toFile: workflow, atomically: true, encoding: .utf8)
        let now = Date()
        try Self.makeRunFolders(dir + "/state", [
            ("10000101-000000-recent", now.addingTimeInterval(-86_400)),       // 1 day old: kept
            ("20000101-000000-recent", now),
            ("29990101-000000-stale", now.addingTimeInterval(-3 * 86_400)),    // 3 days: removed
            ("20000101-000001-stale", now.addingTimeInterval(-30 * 86_400)),
        ])
        let second = try Self.runOnce(workflow, dir)
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        let left = Self.runFolders(dir + "/state")
        #expect(left.count == 3, "\(left)")
        #expect(left.contains("10000101-000000-recent") && left.contains("20000101-000000-recent"), "\(left)")
        #expect(!left.contains { $0.hasSuffix("-stale") }, "\(left)")
    }

    // MARK: 5. where the state folder is

    /// README / GUARANTEES: the state folder is `--state-dir`, or `state_dir:` in the workflow
    /// (a relative one against the workflow's folder), or `.hypha/NAME/` beside the workflow file.
    @Test func theStateFolderIsBesideTheWorkflowOrWhereStateDirSays() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir + "/flows", program: "sh", arguments: ["-c", "true"])
        let text = "name: named-flow\n" + (try String(contentsOfFile: workflow, encoding: .utf8))
        try text.write(toFile: workflow, atomically: true, encoding: .utf8)
        let elsewhere = dir + "/cwd"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let fm = FileManager.default

        // Default: .hypha/NAME beside the workflow file (NAME is the workflow's name), whatever
        // the working directory.
        let first = try CLI.run(["run", workflow, "--once", "--no-progress"], cwd: elsewhere)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(fm.fileExists(atPath: dir + "/flows/.hypha/named-flow/state.db"))
        #expect(first.stdout.contains("logs in \(dir)/flows/.hypha/named-flow/runs/"), "\(first.stdout)")
        #expect(((try? fm.contentsOfDirectory(atPath: elsewhere)) ?? ["?"]).isEmpty, "nothing in the working directory")
        let jobs = try CLI.run(["jobs", workflow, "--json"], cwd: elsewhere)
        #expect(Self.objects(jobs.stdout).count == 1, "jobs reads the same folder: \(jobs.stdout)\(jobs.stderr)")

        // state_dir:, relative: against the workflow's folder, not the working directory.
        try (text + "\nstate_dir: kept/state\n").write(toFile: workflow, atomically: true, encoding: .utf8)
        let second = try CLI.run(["run", workflow, "--once", "--no-progress"], cwd: elsewhere)
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(second.stdout.contains("jobs: 1 completed"), "a new state folder knows nothing yet: \(second.stdout)")
        #expect(fm.fileExists(atPath: dir + "/flows/kept/state/state.db"))
        #expect(!fm.fileExists(atPath: elsewhere + "/kept"))

        // --state-dir wins over state_dir:.
        let third = try CLI.run(["run", workflow, "--once", "--no-progress", "--state-dir", "given"], cwd: elsewhere)
        #expect(third.status == 0, "\(third.stdout)\(third.stderr)")
        #expect(fm.fileExists(atPath: elsewhere + "/given/state.db"), "a relative --state-dir is the working directory's")
        #expect(third.stdout.contains("jobs: 1 completed"), "\(third.stdout)")
    }

    // MARK: 6. a second signal

    /// GUARANTEES, SIGTERM / SIGINT: "A second signal stops at once": with a long --grace, the
    /// second SIGINT ends the run (130) and its job well before the grace is over.
    @Test func aSecondSignalStopsAtOnce() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try DurabilityTests.sleepyWorkflow(dir)
        let log = dir + "/run.log"
        let hypha = try ArrowHTTPTests.start([workflow, "--state-dir", dir + "/state", "--grace", "120"], log: log)
        defer { ArrowHTTPTests.stop(hypha) }
        #expect(ArrowHTTPTests.waitUntil(30) { FileManager.default.fileExists(atPath: dir + "/pid") }, "\(Self.contents(log))")
        let job = try #require(pid_t(Self.contents(dir + "/pid").trimmingCharacters(in: .whitespacesAndNewlines)))

        kill(hypha.processIdentifier, SIGINT)
        #expect(ArrowHTTPTests.waitUntil(30) { Self.contents(log).contains("giving running jobs") }, "\(Self.contents(log))")
        #expect(hypha.isRunning && DurabilityTests.alive(job), "the first signal lets the job run on")
        let second = Date()
        kill(hypha.processIdentifier, SIGINT)
        let stopped = ArrowHTTPTests.waitUntil(30) { !hypha.isRunning }
        let took = Date().timeIntervalSince(second)
        #expect(stopped && took < 30, "stopped at once, not after the 120 s grace (\(took) s): \(Self.contents(log))")
        if !stopped { kill(hypha.processIdentifier, SIGKILL) }  // not the grace's 2 minutes more
        hypha.waitUntilExit()
        #expect(hypha.terminationReason == .exit && hypha.terminationStatus == 130, "\(hypha.terminationStatus)\n\(Self.contents(log))")
        #expect(ArrowHTTPTests.waitUntil(5) { !DurabilityTests.alive(job) }, "no job left running")
        #expect(Self.contents(log).contains("hypha: stopping running jobs"), "\(Self.contents(log))")

        // The state is consistent: the job is recorded as interrupted and the next start takes
        // its file up again.
        let jobs = try CLI.run(["jobs", workflow, "--state-dir", dir + "/state", "--json"])
        #expect(Self.objects(jobs.stdout).map { $0["state"] as? String } == ["interrupted"], "\(jobs.stdout)\(jobs.stderr)")
        let restart = try Self.runOnce(workflow, dir)
        #expect(restart.status == 0 && restart.stdout.contains("jobs: 1 completed, 0 failed"), "\(restart.stdout)\(restart.stderr)")
    }

    // MARK: 7. retry

    /// README: `retry: { attempts: 3, backoff: 2s, max_backoff: 1m }` beside a node's plugin;
    /// GUARANTEES: retried as `retry:` says, then a dead letter. The runtime waits before retry
    /// n a time drawn from [cap/2, cap], cap = min(max_backoff, backoff * 2^(n-1))
    /// (RetryPolicy), and logs it ("retrying in 0.3 s (attempt 3 of 4)"). Four attempts, so
    /// that the waits both grow (0.1-0.2, then 0.2-0.4 s) and meet the cap (0.2-0.4 s, not
    /// 0.4-0.8 s).
    @Test func aFailingJobIsAttemptedAsRetrySaysWithGrowingCappedWaitsThenDeadLettered() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "date +%s.%N >> \(dir)/attempts; exit 1"],
                                                        processOptions: ", retry: { attempts: 4, backoff: 200ms, max_backoff: 400ms }")
        let run = try Self.runOnce(workflow, dir)
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        let times = Self.lines(dir + "/attempts").compactMap(Double.init)
        #expect(times.count == 4, "attempted exactly 4 times: \(times)")
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }

        // The waits as drawn (logged with one decimal, hence ± 0.05).
        let logged: [Double] = run.stderr.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "retrying in ") else { return nil }
            return Double(line[range.upperBound...].prefix { $0 != " " })
        }
        #expect(logged.count == 3, "\(run.stderr)")
        let caps = [0.2, 0.4, 0.4]  // min(max_backoff, backoff * 2^(n-1))
        for (n, wait) in logged.enumerated() where n < caps.count {
            #expect(wait >= caps[n] / 2 - 0.05 && wait <= caps[n] + 0.05, "wait before retry \(n + 1): \(wait) s, cap \(caps[n])")
        }
        #expect(logged.count < 3 || logged[1] >= logged[0], "the waits grow: \(logged)")
        // Measured between the attempts: at least the drawn wait (a lower bound holds under
        // load); at most max_backoff with generous slack for a loaded machine.
        for (n, gap) in gaps.enumerated() where n < caps.count {
            #expect(gap >= caps[n] / 2 - 0.01, "gap \(n + 1): \(gap) s")
            if n < logged.count { #expect(gap >= logged[n] - 0.06, "gap \(n + 1): \(gap) s, wait \(logged[n]) s") }
            #expect(gap <= 0.4 + 3, "gap \(n + 1): \(gap) s, more than max_backoff")
        }
        #expect(run.stderr.contains("(attempt 4 of 4)") && !run.stderr.contains("attempt 5"), "\(run.stderr)")

        let letters = Self.objects(try CLI.run(["dead-letters", "list", workflow, "--json", "--state-dir", dir + "/state"]).stdout)
        #expect(letters.count == 1, "one dead letter after the last attempt: \(letters)")
        #expect(letters.first?["node"] as? String == "run")
        #expect((letters.first?["reason"] as? String)?.contains("exit code 1") == true, "\(letters)")
        #expect(run.stdout.contains("1 message ended in dead letters"), "\(run.stdout)")
    }

    // MARK: 8. a crash between extract and aggregate

    /// GUARANTEES: "a job the journal records as completed is not run again, its recorded
    /// result is used, so the chain goes on (a crash between `extract` and `aggregate` still
    /// ends in one `aggregate`)". The shipped workflow with wrapper scripts (`--var scripts=`)
    /// that count the runs; the first aggregate waits, and Hypha is killed then.
    @Test func aCrashBetweenExtractAndAggregateStillEndsInOneAggregate() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try CLI.makeZips(in: dir + "/in", count: 1, tricky: false)
        let zip = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/in").first)
        let stem = (zip as NSString).deletingPathExtension
        let scripts = dir + "/scripts", real = CLI.shipped("scripts")
        try FileManager.default.createDirectory(atPath: scripts, withIntermediateDirectories: true)
        try """
            import os, sys
            with open(\(String(reflecting: dir + "/extract-runs")), "a") as f:
                f.write(f"{os.getpid()}\\n")
            os.execv(sys.executable, [sys.executable, \(String(reflecting: real + "/extract.py"))] + sys.argv[1:])
            """.write(toFile: scripts + "/extract.py", atomically: true, encoding: .utf8)
        try """
            import os, subprocess, sys, time
            with open(\(String(reflecting: dir + "/aggregate-runs")), "a") as f:
                f.write(f"{os.getpid()}\\n")
            while not os.path.exists(\(String(reflecting: dir + "/go"))):
                time.sleep(0.02)
            code = subprocess.call([sys.executable, \(String(reflecting: real + "/aggregate.py"))] + sys.argv[1:])
            if code == 0:
                with open(\(String(reflecting: dir + "/aggregate-done")), "a") as f:
                    f.write("done\\n")
            sys.exit(code)
            """.write(toFile: scripts + "/aggregate.py", atomically: true, encoding: .utf8)
        let workflow = DurabilityTests.workflow
        let common = ["--var", "inbox=\(dir)/in", "--var", "work=\(dir)/work", "--var", "scripts=\(scripts)", "--state-dir", dir + "/state"]
        let jobs = { try CLI.run(["jobs", workflow, "--json"] + common) }

        let hypha = try ArrowHTTPTests.start([workflow] + common, log: dir + "/1.log")
        defer { ArrowHTTPTests.stop(hypha) }
        let extractCompleted = {
            ((try? jobs()).map { Self.objects($0.stdout) } ?? []).contains { $0["node"] as? String == "extract" && $0["state"] as? String == "completed" }
        }
        #expect(ArrowHTTPTests.waitUntil(60) { !Self.lines(dir + "/aggregate-runs").isEmpty && extractCompleted() },
                "\(Self.contents(dir + "/1.log"))")
        kill(hypha.processIdentifier, SIGKILL)
        hypha.waitUntilExit()
        let waiting = try #require(Self.lines(dir + "/aggregate-runs").first.flatMap { pid_t($0) })
        #expect(ArrowHTTPTests.waitUntil(10) { !DurabilityTests.alive(waiting) }, "the guard ended the waiting aggregate")
        #expect(Self.lines(dir + "/aggregate-done").isEmpty)

        FileManager.default.createFile(atPath: dir + "/go", contents: nil)
        let restart = try CLI.run(["run", workflow, "--once", "--no-progress"] + common)
        #expect(restart.status == 0, "\(restart.stdout)\(restart.stderr)")
        // The extract counts as completed, from the journal: only the aggregate ran.
        #expect(restart.stdout.contains("jobs: 2 completed, 0 failed (1 of them in an earlier run: their recorded results were used)"),
                "\(restart.stdout)")
        #expect(Self.lines(dir + "/extract-runs").count == 1, "extract did not run again")
        #expect(Self.lines(dir + "/aggregate-done").count == 1, "one aggregate")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/work/\(stem)/report.json"))
        let journal = Self.objects(try jobs().stdout)
        let extracts = journal.filter { $0["node"] as? String == "extract" }
        let aggregates = journal.filter { $0["node"] as? String == "aggregate" }
        #expect(extracts.count == 1 && extracts.first?["state"] as? String == "completed" && extracts.first?["attempts"] as? Int == 1, "\(extracts)")
        #expect(aggregates.count == 1 && aggregates.first?["state"] as? String == "completed", "\(aggregates)")

        // And nothing runs after that.
        let again = try CLI.run(["run", workflow, "--once", "--no-progress"] + common)
        #expect(again.stdout.contains("jobs: 0 completed, 0 failed"), "\(again.stdout)")
        #expect(Self.lines(dir + "/aggregate-done").count == 1 && Self.lines(dir + "/extract-runs").count == 1)
    }

    // MARK: 9. jobs and dead-letters while a run holds the lock

    /// GUARANTEES: `jobs` and `dead-letters` "read the state folder without taking its lock, so
    /// they work while a run goes on".
    @Test func jobsAndDeadLettersAnswerWhileARunHoldsTheLock() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try DurabilityTests.sleepyWorkflow(dir)
        let state = ["--state-dir", dir + "/state"]
        let hypha = try ArrowHTTPTests.start([workflow, "--grace", "0"] + state, log: dir + "/run.log")
        defer { ArrowHTTPTests.stop(hypha) }
        #expect(ArrowHTTPTests.waitUntil(30) { FileManager.default.fileExists(atPath: dir + "/pid") }, "\(Self.contents(dir + "/run.log"))")

        var answers: [(status: Int32, seconds: Double, stderr: String)] = []
        let listed = ArrowHTTPTests.waitUntil(20) {
            let started = Date()
            guard let r = try? CLI.run(["jobs", workflow, "--json"] + state, timeout: 20) else { return false }
            answers.append((r.status, Date().timeIntervalSince(started), r.stderr))
            return r.status != 0 || Self.objects(r.stdout).contains { $0["state"] as? String == "running" }
        }
        #expect(listed && answers.allSatisfy { $0.status == 0 && $0.seconds < 8 }, "the running job is listed at once: \(answers)")
        let table = try CLI.run(["jobs", workflow] + state, timeout: 20)
        #expect(table.status == 0 && table.stdout.contains("running"), "\(table.stdout)\(table.stderr)")
        let started = Date()
        let letters = try CLI.run(["dead-letters", "list", workflow] + state, timeout: 20)
        #expect(letters.status == 0 && letters.stdout.contains("no dead letters"), "\(letters.stdout)\(letters.stderr)")
        #expect(Date().timeIntervalSince(started) < 8, "not the 10 s a locked database is waited for")
        #expect(hypha.isRunning, "the run goes on")
        #expect(Self.contents(dir + "/state/lock").trimmingCharacters(in: .whitespacesAndNewlines) == "\(hypha.processIdentifier)",
                "the run holds the lock")
    }

    // MARK: 10. service status and uninstall without systemd

    /// SERVICE.md: "on a machine that does not run systemd, `install` and `uninstall` say so
    /// and change nothing"; `status` too. (This is what such a machine shows; with systemd
    /// running, these would ask systemctl.)
    @Test(.enabled(if: !FileManager.default.fileExists(atPath: "/run/systemd/system")))
    func serviceStatusAndUninstallSaySystemdIsNotRunning() throws {
        let unit = "/etc/systemd/system/hypha-documented-promises.service"
        #expect(!FileManager.default.fileExists(atPath: unit))
        for (command, verb) in [("status", "show"), ("uninstall", "uninstall")] {
            for name in ["documented-promises", "hypha-documented-promises"] {
                let r = try CLI.run(["service", command, name])
                #expect(r.status == 1, "\(command) \(name): \(r.status)")
                #expect(r.stderr.contains("this machine does not run systemd (no /run/systemd/system), so there is no service to \(verb)"),
                        "\(command): \(r.stderr)")
                #expect(r.stderr.contains("--dry-run") && r.stdout.isEmpty, "\(r.stdout)\(r.stderr)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: unit), "nothing written")
        // A name systemd cannot take is refused first, naming it.
        let bad = try CLI.run(["service", "status", "a/b"])
        #expect(bad.status != 0 && bad.stderr.contains("a/b") && bad.stderr.contains("letters, digits"), "\(bad.stderr)")
        // --dry-run (install's) prints the unit and changes nothing, systemd or not.
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "true"])
        let dry = try CLI.run(["service", "install", workflow, "--name", "documented-promises", "--dry-run"])
        #expect(dry.status == 0 && dry.stdout.contains("[Service]") && dry.stdout.contains("ExecStart="), "\(dry.stdout)\(dry.stderr)")
        #expect(!FileManager.default.fileExists(atPath: unit))
    }

    // MARK: 11. the live display

    /// README: "On a terminal a live display shows each node's messages in, out and failed and
    /// the jobs running; elsewhere plain log lines". Run under a pseudo-terminal, the job waits
    /// until the display has shown it running.
    @Test func onATerminalALiveDisplayElsewherePlainLogLines() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "while [ ! -e \(dir)/go ]; do sleep 0.02; done"])
        let terminal = """
            import os, select, subprocess, sys, time
            go, command = sys.argv[1], sys.argv[2:]
            master, slave = os.openpty()
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
            os.close(slave)
            out = bytearray()
            deadline = time.monotonic() + 30  # then the job ends anyway (and the test fails)
            while True:
                if b"jobs running 1" in out or time.monotonic() > deadline:
                    open(go, "w").close()
                if not select.select([master], [], [], 0.1)[0]:
                    continue
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break  # EIO: the terminal's other side closed
                if not data:
                    break
                out.extend(data)
            status = child.wait()
            sys.stdout.write(out.decode("utf-8", "replace"))
            sys.exit(status)
            """
        let shown = try CLI.runPython(["-c", terminal, dir + "/go", CLI.binary, "run", workflow, "--once", "--state-dir", dir + "/state"], timeout: 90)
        #expect(shown.status == 0, "\(shown.stdout)\(shown.stderr)")
        let escape = "\u{1B}["
        let displayed = shown.stdout.components(separatedBy: escape + "2K").dropFirst()  // each drawn line
        #expect(displayed.contains { $0.contains("run") && $0.contains("process") && $0.contains("jobs running 1") }, "\(shown.stdout)")
        #expect(displayed.contains { $0.contains("decode") && $0.contains("in 1") && $0.contains("out 1") && $0.contains("failed 0") }, "\(shown.stdout)")
        #expect(displayed.contains { $0.contains("files") && $0.contains("out 1") }, "\(shown.stdout)")
        #expect(shown.stdout.contains(escape + "4A"), "redrawn in place (4 nodes): \(shown.stdout)")
        #expect(!shown.stdout.contains(" info hypha:"), "no plain log lines under the display: \(shown.stdout)")

        // Not a terminal: plain log lines, no escape sequences.
        try FileManager.default.removeItem(atPath: dir + "/state")
        let plain = try CLI.run(["run", workflow, "--once", "--state-dir", dir + "/state"])
        #expect(plain.status == 0, "\(plain.stdout)\(plain.stderr)")
        #expect(!(plain.stdout + plain.stderr).contains("\u{1B}"), "\(plain.stdout)\(plain.stderr)")
        #expect(plain.stderr.contains("info hypha: [hypha] run ") && plain.stderr.contains("completed in"), "\(plain.stderr)")
    }

    // MARK: 13. arrow-http-sink's ca

    /// SECURITY.md: "A missing or unreadable certificate, key or CA file is a load error naming
    /// the option and the file."
    @Test func aMissingCAFileIsALoadErrorNamingTheOptionAndTheFile() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            name: sink
            nodes:
              files: { plugin: file-watch, path: in }
              post: { plugin: arrow-http-sink, from: files, url: "https://127.0.0.1:9/arrow", ca: certs/missing-ca.pem }
            """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        for command in [["validate", dir + "/wf.yml"], ["run", dir + "/wf.yml", "--once", "--no-progress", "--state-dir", dir + "/state"]] {
            let r = try CLI.run(command)
            #expect(r.status == 1, "\(command[0]): \(r.status) \(r.stdout)\(r.stderr)")
            #expect(r.stderr.contains("wf.yml:4:"), "\(r.stderr)")
            #expect(r.stderr.contains("option 'ca' of node 'post'") && r.stderr.contains("\(dir)/certs/missing-ca.pem"), "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/state/state.db"), "nothing ran")
    }
}
