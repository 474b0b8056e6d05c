import Foundation
import Testing

/// A retry replays what ran (docs/GUARANTEES.md, "Dead letters"): `hypha dead-letters retry`
/// runs each letter with the `--var`s, `--profile` and `--set`s of the run that made it, so the
/// jobs after the one that failed are rendered as that run rendered them. Tried on the shipped
/// extract-aggregate workflow (copied, so that its default folders are inside the test's), whose
/// extract fails until the test says it is fixed.
@Suite(.serialized, .timeLimit(.minutes(4))) struct RetryReplaysConfigTests {
    /// A copy of workflows/extract-aggregate.yml and its jobstore in `dir` (the defaults then
    /// point at `dir/inbox`, `dir/work` and `dir/scripts`, none of which the tests use), with a
    /// variable whose name looks like a secret's; and two script folders: `wrapped`, whose
    /// extract fails until `wrapped/fixed` exists, and `marked`, whose aggregate leaves a mark.
    static func setUp(_ dir: String) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/workflows", withIntermediateDirectories: true)
        try fm.copyItem(atPath: CLI.shipped("jobstore"), toPath: dir + "/jobstore")
        let shipped = try String(contentsOfFile: CLI.shipped("workflows/extract-aggregate.yml"), encoding: .utf8)
        try shipped.replacingOccurrences(of: "\nvars:\n", with: "\nvars:\n  api_key: none\n")
            .write(toFile: dir + "/workflows/extract-aggregate.yml", atomically: true, encoding: .utf8)
        let real = CLI.shipped("scripts")
        func wrapper(_ script: String, before: String) -> String {
            """
            import os, runpy, sys
            here = os.path.dirname(os.path.abspath(__file__))
            \(before)
            sys.path.insert(0, "\(real)")
            sys.argv[0] = "\(real)/\(script)"
            runpy.run_path(sys.argv[0], run_name="__main__")
            """
        }
        for folder in ["wrapped", "marked"] { try fm.createDirectory(atPath: "\(dir)/\(folder)", withIntermediateDirectories: true) }
        try wrapper("extract.py", before: """
            if not os.path.exists(os.path.join(here, "fixed")): sys.exit("extract: not fixed yet")
            """).write(toFile: dir + "/wrapped/extract.py", atomically: true, encoding: .utf8)
        try wrapper("aggregate.py", before: "").write(toFile: dir + "/wrapped/aggregate.py", atomically: true, encoding: .utf8)
        try wrapper("aggregate.py", before: "open(os.path.join(here, 'aggregated'), 'a').write(sys.argv[1] + '\\n')")
            .write(toFile: dir + "/marked/aggregate.py", atomically: true, encoding: .utf8)
        return dir + "/workflows/extract-aggregate.yml"
    }

    static func objects(_ lines: String) -> [[String: Any]] {
        lines.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The zip in `folder` (one made by `CLI.makeZips`), by its stem.
    static func stem(in folder: String) throws -> String {
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasSuffix(".zip") })
        return String(name.dropLast(4))
    }

    @Test func aRetryWithNoVarRunsEachLetterWithTheConfigurationOfTheRunThatMadeIt() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.setUp(dir)
        let state = ["--state-dir", dir + "/state"]
        // Two runs with different folders, each leaving its zip's extract as a dead letter.
        var stems: [String] = []
        for run in ["a", "b"] {
            try CLI.makeZips(in: "\(dir)/in-\(run)", count: 1, tricky: false)
            stems.append(try Self.stem(in: "\(dir)/in-\(run)"))
            let failed = try CLI.run(["run", workflow, "--once", "--no-progress", "--var", "inbox=\(dir)/in-\(run)",
                                      "--var", "work=\(dir)/work-\(run)", "--var", "scripts=\(dir)/wrapped",
                                      "--var", "api_key=s3cret-value"] + state)
            #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
        }
        let letters = Self.objects(try CLI.run(["dead-letters", "list", workflow, "--json"] + state).stdout)
        #expect(letters.map { $0["node"] as? String } == ["extract", "extract"], "\(letters)")
        #expect(Set(letters.compactMap { $0["run"] as? Int }).count == 2, "each letter names its run: \(letters)")

        // What the runs were given is shown, but not a secret's value, which is kept nowhere.
        let runs = Self.objects(try CLI.run(["jobs", workflow, "--runs", "--json"] + state).stdout)
        #expect(runs.count == 2, "\(runs)")
        #expect((runs.first?["vars"] as? [String: Any])?["work"] as? String == "\(dir)/work-b", "\(runs)")
        #expect((runs.first?["vars"] as? [String: Any])?["api_key"] is NSNull, "\(runs)")
        for file in ["state.db", "state.db-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: "\(dir)/state/\(file)"))) ?? Data()
            #expect(bytes.range(of: Data("s3cret-value".utf8)) == nil, "\(file) holds the secret")
        }
        let jobs = Self.objects(try CLI.run(["jobs", workflow, "--json"] + state).stdout)
        #expect(jobs.allSatisfy { (($0["run"] as? [String: Any])?["vars"] as? [String: Any])?["scripts"] as? String == "\(dir)/wrapped" },
                "\(jobs)")

        // Other values than a run's are an error naming the difference; nothing runs.
        let other = try CLI.run(["dead-letters", "retry", workflow, "--all", "--no-progress", "--var", "scripts=\(dir)/marked"] + state)
        #expect(other.status == 1, "\(other.stdout)\(other.stderr)")
        #expect(other.stderr.contains("--var scripts: '\(dir)/wrapped' → '\(dir)/marked'"), "\(other.stderr)")
        #expect(other.stderr.contains("--with-current-config"), "\(other.stderr)")
        #expect(Self.objects(try CLI.run(["dead-letters", "list", workflow, "--json"] + state).stdout).count == 2)

        // Fixed, and retried with no --var: each letter goes through extract and aggregate into
        // its own run's work folder, and none is left.
        _ = FileManager.default.createFile(atPath: dir + "/wrapped/fixed", contents: Data())
        let retry = try CLI.run(["dead-letters", "retry", workflow, "--all", "--no-progress"] + state)
        #expect(retry.status == 0, "\(retry.stdout)\(retry.stderr)")
        #expect(retry.stdout.contains("with the configuration of run #1"), "\(retry.stdout)")
        #expect(retry.stdout.contains("with the configuration of run #2"), "\(retry.stdout)")
        #expect(retry.stderr.contains("--var api_key, whose value is not kept"), "\(retry.stderr)")
        for (run, stem) in zip(["a", "b"], stems) {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/work-\(run)/\(stem)/report.json"), "\(retry.stdout)\(retry.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/work"), "a retry rendered a job with the workflow's default work")
        #expect(try CLI.run(["dead-letters", "list", workflow] + state).stdout.contains("no dead letters"))
    }

    @Test func withCurrentConfigTheValuesGivenAreUsedAndAChangedTemplateIsSaid() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.setUp(dir)
        let state = ["--state-dir", dir + "/state"]
        try CLI.makeZips(in: dir + "/in", count: 1, tricky: false)
        let stem = try Self.stem(in: dir + "/in")
        let vars = ["--var", "inbox=\(dir)/in", "--var", "work=\(dir)/out"]
        let failed = try CLI.run(["run", workflow, "--once", "--no-progress", "--var", "scripts=\(dir)/wrapped"] + vars + state)
        #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")

        _ = FileManager.default.createFile(atPath: dir + "/wrapped/fixed", contents: Data())
        let template = dir + "/jobstore/aggregate.yml"
        try (try String(contentsOfFile: template, encoding: .utf8) + "# edited\n").write(toFile: template, atomically: true, encoding: .utf8)
        let retry = try CLI.run(["dead-letters", "retry", workflow, "--all", "--no-progress", "--with-current-config",
                                 "--var", "scripts=\(dir)/marked"] + vars + state)
        #expect(retry.status == 0, "\(retry.stdout)\(retry.stderr)")
        #expect(retry.stdout.contains("with the configuration given here"), "\(retry.stdout)")
        #expect(retry.stderr.contains("note: changed since run #1: \(template)"), "\(retry.stderr)")
        // The stored extract job ran as it was rendered; the aggregate after it, with the scripts given.
        let marked = try String(contentsOfFile: dir + "/marked/aggregated", encoding: .utf8)
        #expect(marked == "\(dir)/out/\(stem)/files\n")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/out/\(stem)/report.json"))
        #expect(try CLI.run(["dead-letters", "list", workflow] + state).stdout.contains("no dead letters"))
    }

    /// The web view's retry button runs a letter inside the live run only when the run that made
    /// it was configured alike; otherwise it is refused with the command that replays that run.
    @Test func theLiveRetryOfALetterOfARunConfiguredOtherwiseIsRefusedWithTheCommand() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.setUp(dir)
        let state = ["--state-dir", dir + "/state"]
        try CLI.makeZips(in: dir + "/in", count: 1, tricky: false)
        let vars = ["--var", "inbox=\(dir)/in", "--var", "scripts=\(dir)/wrapped"]
        #expect(try CLI.run(["run", workflow, "--once", "--no-progress", "--var", "work=\(dir)/out"] + vars + state).status == 1)

        let port = ArrowHTTPTests.freePort()
        let log = dir + "/log"
        let live = try ObserveTests.start([workflow, "--http", "\(port)", "--var", "work=\(dir)/other"] + vars + state, log: log)
        defer { if live.isRunning { live.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        var letters: [[String: Any]] = []
        for _ in 0..<600 where letters.isEmpty {  // up to 60 s, until the endpoint answers
            letters = await ObserveTests.deadLetters(base)
            if letters.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        let id = try #require(letters.first?["id"] as? Int, "no dead letter: \(SecurityTests.log(log))")
        let answer = try await ObserveTests.post(base + "/api/v1/dead-letters/\(id)/retry", headers: ["X-Hypha-Request": "retry"])
        #expect(answer.status == 409, "\(answer.body)")
        #expect(answer.body.contains("--var work=\(dir)/out"), "\(answer.body)")
        #expect(answer.body.contains("hypha dead-letters retry \(workflow) \(id) --state-dir \(dir)/state"), "\(answer.body)")
        #expect(ObserveTests.interrupt(live) == 130, "\(SecurityTests.log(log))")
        #expect(!FileManager.default.fileExists(atPath: dir + "/other"), "the letter ran in the live run")
    }

    /// A state folder of the previous schema (2: no runs, no `run` columns) opens and migrates;
    /// its letter, from no known run, is retried with the configuration given, as before.
    @Test func aStateDatabaseOfThePreviousSchemaMigratesAndItsLettersRunWithTheCurrentConfiguration() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.setUp(dir)
        let state = ["--state-dir", dir + "/state"]
        try CLI.makeZips(in: dir + "/in", count: 1, tricky: false)
        let stem = try Self.stem(in: dir + "/in")
        let vars = ["--var", "inbox=\(dir)/in", "--var", "work=\(dir)/out", "--var", "scripts=\(dir)/wrapped"]
        #expect(try CLI.run(["run", workflow, "--once", "--no-progress"] + vars + state).status == 1)
        // Back to schema 2 as that Hypha made it: version 3 only added these.
        let downgrade = try CLI.runPython(["-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.executescript("DROP TABLE runs; ALTER TABLE jobs DROP COLUMN run; ALTER TABLE dead_letters DROP COLUMN run; PRAGMA user_version = 2;")
            db.commit()
            """, dir + "/state/state.db"])
        #expect(downgrade.status == 0, "\(downgrade.stderr)")

        let letters = Self.objects(try CLI.run(["dead-letters", "list", workflow, "--json"] + state).stdout)
        #expect(letters.count == 1 && letters.first?["run"] is NSNull, "\(letters)")
        let jobs = Self.objects(try CLI.run(["jobs", workflow, "--json"] + state).stdout)
        #expect(jobs.count == 1 && jobs.first?["run"] is NSNull, "\(jobs)")
        let version = try CLI.runPython(["-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            print(db.execute("PRAGMA user_version").fetchone()[0], db.execute("SELECT count(*) FROM runs").fetchone()[0])
            """, dir + "/state/state.db"])
        #expect(version.stdout == "3 0\n", "\(version.stdout)\(version.stderr)")

        _ = FileManager.default.createFile(atPath: dir + "/wrapped/fixed", contents: Data())
        let retry = try CLI.run(["dead-letters", "retry", workflow, "--all", "--no-progress"] + vars + state)
        #expect(retry.status == 0, "\(retry.stdout)\(retry.stderr)")
        #expect(retry.stdout.contains("with the configuration given here"), "\(retry.stdout)")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/out/\(stem)/report.json"))
        let runs = Self.objects(try CLI.run(["jobs", workflow, "--runs", "--json"] + state).stdout)
        #expect(runs.count == 1, "the retry is a run, recorded: \(runs)")
    }
}
