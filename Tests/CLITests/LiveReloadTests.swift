import Foundation
import Testing

/// `hypha run --watch`: edits to a running workflow are picked up; broken ones change nothing.
@Suite(.timeLimit(.minutes(5))) struct LiveReloadTests {
    /// file-watch → template → process; each job appends "TAG NAME" to out/log.txt, TAG from `vars.tag`.
    static func workflow(_ dir: String, tag: String) -> String {
        """
        jobstore: jobstore
        vars:
          tag: \(tag)
          out: \(dir)/out
        nodes:
          files: { plugin: file-watch, path: in }
          decode: { plugin: arrow-decode, from: files }
          spec: { plugin: template, from: decode, job: job }
          run: { plugin: process, from: spec }
        """
    }

    /// A running `hypha run` of `workflow(dir, tag: "A")`, its stderr and the jobs' log file.
    struct Running {
        let dir: String
        let process = Process()
        var workflow: String { "\(dir)/wf.yml" }
        var log: String { "\(dir)/out/log.txt" }
        var errors: String { "\(dir)/stderr.txt" }
        var stderr: String { (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "" }

        init(_ dir: String, watch: Bool) throws {
            self.dir = dir
            for folder in ["jobstore", "in", "out"] {
                try FileManager.default.createDirectory(atPath: "\(dir)/\(folder)", withIntermediateDirectories: true)
            }
            try """
                Type: batch
                Count: 1
                Tasks:
                  - Name: t
                    Engine: {Type: process, Params: {Name: sh, Arguments: ["-c", "echo {{ vars.tag }} {{ name }} >> {{ vars.out }}/log.txt"]}}
                """.write(toFile: "\(dir)/jobstore/job.yml", atomically: true, encoding: .utf8)
            try LiveReloadTests.workflow(dir, tag: "A").write(toFile: "\(dir)/wf.yml", atomically: true, encoding: .utf8)
            FileManager.default.createFile(atPath: "\(dir)/stderr.txt", contents: nil)
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["run", "\(dir)/wf.yml", "--state-dir", "\(dir)/state", "--no-progress"] + (watch ? ["--watch"] : [])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dir)/stderr.txt"))
            try process.run()
        }

        func edit(tag: String) throws {
            try LiveReloadTests.workflow(dir, tag: tag).write(toFile: workflow, atomically: true, encoding: .utf8)
        }

        /// Signals hypha and waits for it to end.
        func stop() {
            kill(process.processIdentifier, SIGINT)
            process.waitUntilExit()
        }
    }

    static func lines(_ file: String) -> [String] {
        ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func anEditedVarIsPickedUpAndNoFileIsLostOrRunTwice() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hypha = try Running(dir, watch: true)
        defer { if hypha.process.isRunning { hypha.process.terminate() } }
        let log = hypha.log, workflow = hypha.workflow
        let stderr = { hypha.stderr }
        @Sendable func drop(_ range: ClosedRange<Int>) {
            for i in range { FileManager.default.createFile(atPath: "\(dir)/in/f\(i).txt", contents: Data("\(i)".utf8)) }
        }
        #expect(ArrowHTTPTests.waitUntil(60) { stderr().contains("started") }, "hypha did not start: \(stderr())")

        drop(1...5)
        #expect(ArrowHTTPTests.waitUntil(60) { Self.lines(log).count == 5 })
        // Files dropped while the edit is saved and picked up: each runs once, with A or B.
        let around = Thread { drop(6...10) }
        around.start()
        try hypha.edit(tag: "B")
        #expect(ArrowHTTPTests.waitUntil(60) { stderr().contains("reloaded") }, "no reload: \(stderr())")
        #expect(stderr().contains("restarted spec; the other nodes kept running"))
        #expect(ArrowHTTPTests.waitUntil(60) { Self.lines(log).count == 10 })
        drop(11...15)
        #expect(ArrowHTTPTests.waitUntil(60) { Self.lines(log).count == 15 })

        // A broken edit is reported with its position and changes nothing.
        let broken = Self.workflow(dir, tag: "C").replacingOccurrences(of: "plugin: process", with: "plugin: proces")
        try broken.write(toFile: workflow, atomically: true, encoding: .utf8)
        #expect(ArrowHTTPTests.waitUntil(60) { stderr().contains("not reloaded") }, "broken edit not reported: \(stderr())")
        #expect(stderr().contains("wf.yml:9:") && stderr().contains("'proces'"), "the error names file:line:col and the value: \(stderr())")
        drop(16...16)
        #expect(ArrowHTTPTests.waitUntil(60) { Self.lines(log).count == 16 })

        hypha.stop()
        let entries = Self.lines(log).map { $0.split(separator: " ").map(String.init) }
        let names = entries.compactMap(\.last)
        #expect(names.count == 16 && Set(names).count == 16, "every file ran exactly once: \(names)")
        let tagOf = Dictionary(entries.map { ($0.last ?? "", $0.first ?? "") }, uniquingKeysWith: { a, b in a + b })
        for i in 1...5 { #expect(tagOf["f\(i).txt"] == "A", "f\(i) ran before the edit") }
        for i in 6...10 { #expect(["A", "B"].contains(tagOf["f\(i).txt"]), "f\(i) ran once, with either version") }
        for i in 11...16 { #expect(tagOf["f\(i).txt"] == "B", "f\(i) was dropped after the edit") }
    }

    @Test func withoutWatchAnEditWaitsForSIGHUP() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hypha = try Running(dir, watch: false)
        defer { if hypha.process.isRunning { hypha.process.terminate() } }
        let log = hypha.log
        let stderr = { hypha.stderr }
        #expect(ArrowHTTPTests.waitUntil(60) { stderr().contains("started") }, "hypha did not start: \(stderr())")

        try hypha.edit(tag: "B")
        FileManager.default.createFile(atPath: "\(dir)/in/f1.txt", contents: Data("1".utf8))
        #expect(ArrowHTTPTests.waitUntil(60) { Self.lines(log).count == 1 })
        kill(hypha.process.processIdentifier, SIGHUP)
        #expect(ArrowHTTPTests.waitUntil(60) { stderr().contains("restarted spec") }, "SIGHUP did not reload: \(stderr())")
        FileManager.default.createFile(atPath: "\(dir)/in/f2.txt", contents: Data("2".utf8))
        #expect(ArrowHTTPTests.waitUntil(60) { Self.lines(log).count == 2 })
        hypha.stop()
        #expect(Self.lines(log) == ["A f1.txt", "B f2.txt"], "the edit took effect on SIGHUP, not before")
    }

    @Test func anEditedExecScriptRestartsItsNode() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        func script(_ tag: String) -> String {
            "import json, sys\nfor line in sys.stdin:\n    r = json.loads(line)\n    r['tag'] = '\(tag)'\n    print(json.dumps([r]), flush=True)\n"
        }
        try script("one").write(toFile: dir + "/tag.py", atomically: true, encoding: .utf8)
        try """
            nodes:
              files: { plugin: file-watch, path: in }
              decode: { plugin: arrow-decode, from: files }
              tag: { plugin: exec, from: decode, command: [python3, tag.py] }
              out: { plugin: capture, from: tag, path: out.jsonl }
            """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        let errors = dir + "/stderr.txt"
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["run", dir + "/wf.yml", "--watch", "--state-dir", dir + "/state", "--no-progress"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let stderr = { (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "" }
        let captured = { Self.lines(dir + "/out.jsonl") }
        #expect(ArrowHTTPTests.waitUntil(60) { stderr().contains("started") }, "hypha did not start: \(stderr())")
        FileManager.default.createFile(atPath: dir + "/in/a.txt", contents: Data("a".utf8))
        #expect(ArrowHTTPTests.waitUntil(60) { captured().count == 1 })
        try script("two").write(toFile: dir + "/tag.py", atomically: true, encoding: .utf8)
        #expect(ArrowHTTPTests.waitUntil(60) { stderr().contains("restarted tag;") }, "no reload: \(stderr())")
        FileManager.default.createFile(atPath: dir + "/in/b.txt", contents: Data("b".utf8))
        #expect(ArrowHTTPTests.waitUntil(60) { captured().count == 2 })
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let lines = captured()
        #expect(lines.first?.contains("\"tag\":\"one\"") == true && lines.last?.contains("\"tag\":\"two\"") == true, "\(lines)")
    }
}
