import Foundation
import Glibc
import Testing

/// `hypha why`: each answer it gives, read from a real run's state.
@Suite(.serialized, .timeLimit(.minutes(5))) struct WhyCommandTests {
    static let workflow = CLI.shipped("workflows/extract-aggregate.yml")

    /// An inbox with a good zip, a broken one (its extract fails: a dead letter), a file the
    /// pattern refuses and a hidden zip; `ran` after one `--once` run.
    struct Setup {
        let dir: String
        var inbox: String { dir + "/in" }
        var state: String { dir + "/state" }

        init(run: Bool) throws {
            dir = try CLI.temporaryFolder()
            try CLI.makeZips(in: dir + "/in", count: 1, tricky: false)
            let good = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/in").first)
            try FileManager.default.moveItem(atPath: dir + "/in/" + good, toPath: dir + "/in/good.zip")
            try Data("not a zip".utf8).write(to: URL(fileURLWithPath: dir + "/in/broken.zip"))
            try Data("notes".utf8).write(to: URL(fileURLWithPath: dir + "/in/notes.txt"))
            try FileManager.default.copyItem(atPath: dir + "/in/good.zip", toPath: dir + "/in/.hidden.zip")
            if run {
                let r = try CLI.run(["run", WhyCommandTests.workflow, "--once", "--no-progress"] + arguments, cwd: dir)
                #expect(r.status == 1, "the broken zip fails: \(r.stdout)\n\(r.stderr)")
            }
        }

        var arguments: [String] {
            ["--var", "inbox=\(inbox)", "--var", "work=\(dir)/work", "--state-dir", state]
        }

        func why(_ target: String, json: Bool = false) throws -> CLI.Result {
            try CLI.run(["why", WhyCommandTests.workflow, target] + arguments + (json ? ["--json"] : []), cwd: dir)
        }

        func whyJSON(_ target: String) throws -> [String: Any] {
            let r = try why(target, json: true)
            #expect(r.status == 0, "\(r.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        }
    }

    @Test func aHandledFileItsJobsTheirLogsAndWhatWouldRunItAgain() throws {
        let s = try Setup(run: true)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let r = try s.why("good.zip")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("good.zip: the file \(s.inbox)/good.zip\n"), "\(r.stdout)")
        #expect(r.stdout.contains("seen: by downloads (file-watch), last recorded at "), "\(r.stdout)")
        #expect(r.stdout.contains("so runs skip it; a rewrite (a new size or modification time) or `hypha run \(Self.workflow) --reprocess`"), "\(r.stdout)")
        #expect(r.stdout.contains("  completed  "), "\(r.stdout)")
        #expect(r.stdout.contains("log: \(s.state)/runs/"), "\(r.stdout)")
        #expect(!r.stdout.contains("never seen"), "\(r.stdout)")

        // Named by another path to it: the same answer, with the path as the source records it.
        let json = try s.whyJSON(s.inbox + "/../in/./good.zip")
        #expect(json["path"] as? String == s.inbox + "/good.zip")
        #expect(json["kind"] as? String == "file" && json["seen"] as? Bool == true)
        let source = try #require((json["sources"] as? [[String: Any]])?.first)
        #expect(source["decision"] as? String == "handled" && source["taken"] as? Bool == false)
        let jobs = try #require(json["jobs"] as? [[String: Any]])
        #expect(Set(jobs.compactMap { $0["node"] as? String }) == ["extract", "aggregate"])
        #expect(jobs.allSatisfy { $0["state"] as? String == "completed" })
        #expect((json["dead_letters"] as? [Any])?.isEmpty == true)

        // Asked by one of its jobs' names: the same file and jobs.
        let name = try #require(jobs.first { $0["node"] as? String == "extract" }?["name"] as? String)
        let byJob = try s.whyJSON(name)
        #expect(byJob["kind"] as? String == "job" && byJob["path"] as? String == s.inbox + "/good.zip")
        #expect((byJob["jobs"] as? [Any])?.count == 2)
    }

    @Test func aFailedFileItsDeadLetterAndTheCommandThatRetriesIt() throws {
        let s = try Setup(run: true)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let json = try s.whyJSON("broken.zip")
        let letter = try #require((json["dead_letters"] as? [[String: Any]])?.first, "\(json)")
        #expect(letter["node"] as? String == "extract")
        #expect((letter["reason"] as? String)?.contains("not a zip") == true, "\(letter)")
        let retry = try #require(letter["retry"] as? String)
        #expect(retry.hasPrefix("hypha dead-letters retry \(Self.workflow) \(letter["id"] ?? "")"), "\(retry)")
        let text = try s.why("broken.zip")
        #expect(text.stdout.contains("dead letters:\n  #\(letter["id"] ?? "")"), "\(text.stdout)")
        #expect(text.stdout.contains("retry: \(retry)"), "\(text.stdout)")
        #expect(text.stdout.contains("it failed for good, so runs skip it; retrying its dead letter"), "\(text.stdout)")
        // The command it gives works as given (here the zip is still broken: it fails again).
        let again = try CLI.run(Array(retry.split(separator: " ").dropFirst().map(String.init)) + ["--no-progress"], cwd: s.dir)
        #expect(again.stdout.contains("retried 1 dead letter"), "\(again.stdout)\n\(again.stderr)")
    }

    @Test func skippedFilesSayWhyTheyWereNeverSeen() throws {
        let s = try Setup(run: true)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let pattern = try s.why("notes.txt")
        #expect(pattern.status == 0, "\(pattern.stderr)")
        #expect(pattern.stdout.contains("never seen here"), "\(pattern.stdout)")
        #expect(pattern.stdout.contains("likely cause: downloads: its name does not match *.zip"), "\(pattern.stdout)")
        let hidden = try s.whyJSON(".hidden.zip")
        #expect(hidden["seen"] as? Bool == false)
        #expect((hidden["sources"] as? [[String: Any]])?.first?["decision"] as? String == "hidden")
        #expect((hidden["causes"] as? [String])?.first?.contains("starts with a dot") == true, "\(hidden)")
        let outside = try s.why(s.dir + "/elsewhere/x.zip")
        #expect(outside.stdout.contains("likely cause: downloads: it is not under \(s.inbox) (pattern *.zip)"), "\(outside.stdout)")
        let missing = try s.why("gone.zip")
        #expect(missing.stdout.contains("there is no file at \(s.inbox)/gone.zip"), "\(missing.stdout)")
        let url = try s.whyJSON("https://example.org/a.zip")
        #expect(url["kind"] as? String == "url" && url["seen"] as? Bool == false)
    }

    @Test func aDownloadedURLItsLedgerAndItsJobs() throws {
        let s = try Setup(run: false)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        // The shipped download workflow, fetching one local zip (a file:// URL the workflow lists).
        let url = "file://\(s.inbox)/good.zip"
        var text = try String(contentsOfFile: CLI.shipped("workflows/download-extract-aggregate.yml"), encoding: .utf8)
        text = text.replacingOccurrences(of: "feed: \"{{ vars.feed }}\"", with: "urls: [\"\(url)\"]")
            .replacingOccurrences(of: "jobstore: ../jobstore", with: "jobstore: \(CLI.shipped("jobstore"))")
            .replacingOccurrences(of: "\"{{ workflow.dir }}/../scripts\"", with: "\"\(CLI.shipped("scripts"))\"")
        let workflow = s.dir + "/download.yml"
        try text.write(toFile: workflow, atomically: true, encoding: .utf8)
        let arguments = ["--var", "downloads=\(s.dir)/downloads", "--var", "work=\(s.dir)/work", "--state-dir", s.state]
        let run = try CLI.run(["run", workflow, "--once", "--no-progress"] + arguments, cwd: s.dir)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let why = try CLI.run(["why", workflow, url] + arguments, cwd: s.dir)
        #expect(why.stdout.contains("downloaded by downloads: done, \(s.dir)/downloads/good.zip"), "\(why.stdout)\n\(why.stderr)")
        let json = try CLI.run(["why", workflow, url, "--json"] + arguments, cwd: s.dir)
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        #expect(answer["kind"] as? String == "url" && answer["path"] as? String == s.dir + "/downloads/good.zip")
        #expect((answer["jobs"] as? [[String: Any]])?.count == 2, "\(answer)")
    }

    @Test func aFileOpenForWritingAndANewFileBeforeAnyRun() throws {
        let s = try Setup(run: false)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let fresh = try s.why("good.zip")
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(fresh.stdout.contains("state: none in \(s.state)"), "\(fresh.stdout)")
        #expect(fresh.stdout.contains("never seen here"), "\(fresh.stdout)")
        #expect(fresh.stdout.contains("and new: a run would take it; no run has looked at \(s.inbox) since it arrived"), "\(fresh.stdout)")
        #expect(!FileManager.default.fileExists(atPath: s.state), "why made the state folder")

        let copying = s.inbox + "/copying.zip"
        let fd = open(copying, O_CREAT | O_WRONLY, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        let open = try s.whyJSON("copying.zip")
        let source = try #require((open["sources"] as? [[String: Any]])?.first)
        #expect(source["decision"] as? String == "open_for_writing", "\(open)")
        #expect(source["pid"] as? Int == Int(getpid()))
        #expect((source["now"] as? String)?.contains("has it open for writing") == true)
    }
}
