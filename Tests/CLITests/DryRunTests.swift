import Foundation
import Testing

/// `hypha run --dry-run`: what it lists, that it runs and records nothing, and that a real run
/// then does what it listed.
@Suite(.serialized, .timeLimit(.minutes(5))) struct DryRunTests {
    static let workflow = CLI.shipped("workflows/extract-aggregate.yml")

    /// A temporary inbox with zips (tricky names), a file the pattern refuses and a hidden zip.
    struct Setup {
        let dir: String
        var inbox: String { dir + "/in" }
        var state: String { dir + "/state" }
        var zips: [String] = []

        init() throws {
            dir = try CLI.temporaryFolder()
            try CLI.makeZips(in: dir + "/in", count: 4, tricky: true)
            zips = try FileManager.default.contentsOfDirectory(atPath: dir + "/in").sorted().map { dir + "/in/" + $0 }
            try Data("not for us".utf8).write(to: URL(fileURLWithPath: inbox + "/notes.txt"))
            try FileManager.default.copyItem(atPath: zips[0], toPath: inbox + "/.hidden.zip")
        }

        func run(_ extra: [String]) throws -> CLI.Result {
            try CLI.run(["run", DryRunTests.workflow, "--var", "inbox=\(inbox)", "--var", "work=\(dir)/work",
                         "--state-dir", state, "--run-dir", dir + "/run", "--no-progress"] + extra, cwd: dir)
        }

        /// The job names a dry run lists at `node`.
        static func jobs(in output: String, at node: String) -> [String] {
            output.split(separator: "\n").compactMap { line in
                let words = line.split(separator: " ")
                guard words.count >= 4, words[0] == "job", words[2] == "at", words[3].hasPrefix(node) else { return nil }
                return String(words[1])
            }
        }

        /// The state database's content, table by table (SQL text, by Python's sqlite3). Its
        /// bytes are not compared: opening it at all (GRDB's pool, as every command that reads
        /// state does) bumps counters in the file's header.
        func stateContent() throws -> String {
            let r = try CLI.runPython(["-c", """
                import sqlite3, sys
                db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
                print("\\n".join(db.iterdump()))
                """, state + "/state.db"])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout
        }
    }

    @Test func aDryRunListsTakesAndSkipsRunsNothingAndTheRealRunMatches() throws {
        let s = try Setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let dry = try s.run(["--dry-run"])
        #expect(dry.status == 0, "\(dry.stdout)\n\(dry.stderr)")
        for zip in s.zips { #expect(dry.stdout.contains("  take  \(zip): new\n"), "\(zip)\n\(dry.stdout)") }
        #expect(dry.stdout.contains("  skip  \(s.inbox)/notes.txt: does not match the pattern\n"), "\(dry.stdout)")
        #expect(dry.stdout.contains("  skip  \(s.inbox)/.hidden.zip: hidden name"), "\(dry.stdout)")
        #expect(dry.stdout.contains("after extract: aggregate-spec"), "\(dry.stdout)")
        #expect(dry.stdout.contains("extract: python3 "), "the rendered command line: \(dry.stdout)")
        let listed = Setup.jobs(in: dry.stdout, at: "extract")
        #expect(listed.count == 4, "\(dry.stdout)")
        // Nothing ran and nothing was recorded: no state folder, no job logs, no reports.
        for made in ["/state", "/run", "/work"] {
            #expect(!FileManager.default.fileExists(atPath: s.dir + made), "\(made) was made by a dry run")
        }

        let real = try s.run(["--once"])
        #expect(real.status == 0, "\(real.stdout)\n\(real.stderr)")
        let jobs = try CLI.run(["jobs", Self.workflow, "--var", "inbox=\(s.inbox)", "--state-dir", s.state, "--json"])
        let rows = try jobs.stdout.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        let extracts = rows.filter { $0["node"] as? String == "extract" }
        #expect(Set(extracts.compactMap { $0["name"] as? String }) == Set(listed), "the real run's jobs are the ones listed")
        #expect(Set(extracts.compactMap { $0["file"] as? String }) == Set(s.zips), "the real run took the inputs listed")

        // Again: everything handled; a dry run changes nothing in the state.
        let before = try s.stateContent()
        #expect(before.contains("INSERT INTO \"jobs\""), "\(before)")
        let again = try s.run(["--dry-run"])
        #expect(again.status == 0, "\(again.stderr)")
        for zip in s.zips { #expect(again.stdout.contains("  skip  \(zip): already handled (done)\n"), "\(again.stdout)") }
        #expect(Setup.jobs(in: again.stdout, at: "extract").isEmpty)
        let reprocess = try s.run(["--dry-run", "--reprocess"])
        for zip in s.zips { #expect(reprocess.stdout.contains("  take  \(zip): new\n"), "\(reprocess.stdout)") }
        #expect(Setup.jobs(in: reprocess.stdout, at: "extract").sorted() == listed.sorted())
        #expect(try s.stateContent() == before, "a dry run changed the state database")

        // A rewritten zip is taken again, and said to be.
        let later = Date().addingTimeInterval(5)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: s.zips[1])
        let rewritten = try s.run(["--dry-run"])
        #expect(rewritten.stdout.contains("  take  \(s.zips[1]): rewritten since an earlier run handled it (done)\n"), "\(rewritten.stdout)")
        #expect(Setup.jobs(in: rewritten.stdout, at: "extract").count == 1)
    }

    @Test func aDryRunWithSetAndVarRendersWithThem() throws {
        let s = try Setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let dry = try s.run(["--dry-run", "--var", "scripts=/opt/my scripts", "--set", "downloads.pattern=*.txt"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("  take  \(s.inbox)/notes.txt: new\n"), "\(dry.stdout)")
        #expect(dry.stdout.contains("'/opt/my scripts/extract.py'"), "\(dry.stdout)")
        #expect(dry.stdout.contains("1 input would be taken"), "\(dry.stdout)")
        let watching = try s.run(["--dry-run", "--watch"])
        #expect(watching.status != 0 && watching.stderr.contains("drop --watch"), "\(watching.stderr)")
    }
}
