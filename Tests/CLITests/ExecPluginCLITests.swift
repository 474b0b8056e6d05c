import Foundation
import Testing

/// The `exec` plugins through the built binary: a Python program (standard library only) as a
/// node of a real workflow, file-watch → arrow-decode → exec → capture.
@Suite(.timeLimit(.minutes(5))) struct ExecPluginCLITests {
    /// A folder with `in/` holding `names` (empty files), the workflow `w.yml` and `scripts`.
    func setUp(names: [String], workflow: String, scripts: [String: String] = [:]) throws -> String {
        let dir = try CLI.temporaryFolder()
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        for name in names { _ = FileManager.default.createFile(atPath: "\(dir)/in/\(name)", contents: nil) }
        for (name, text) in scripts { try text.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8) }
        try workflow.write(toFile: dir + "/w.yml", atomically: true, encoding: .utf8)
        return dir
    }

    func run(_ dir: String, _ extra: [String] = []) throws -> CLI.Result {
        try CLI.run(["run", dir + "/w.yml", "--once", "--no-progress", "--run-dir", dir + "/run", "--state-dir", dir + "/state"] + extra,
                    timeout: 90)
    }

    /// The `name` values that reached the capture sink.
    func captured(_ dir: String, file: String = "out.jsonl") throws -> [String] {
        let text = (try? String(contentsOfFile: "\(dir)/\(file)", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let value = object["value"] as? [String: Any] else { return nil }
            return value["name"] as? String
        }.sorted()
    }

    static let crashy = """
        import json, sys
        for line in sys.stdin:
            r = json.loads(line)
            if "crash" in r["name"]:
                print("dying on " + r["name"], file=sys.stderr, flush=True)
                sys.exit(3)
            if "slow" in r["name"]:
                import time; time.sleep(30)
            if "bad" in r["name"]:
                print(json.dumps({"error": "no bad names: " + r["name"]}), flush=True)
                continue
            two = "two" in r["name"]
            r["name"] = r["name"].upper()
            r["pid"] = __import__("os").getpid()
            print(json.dumps([r, {"name": "extra-" + r["name"]}] if two else [r]), flush=True)
        """

    @Test func aPythonExecTransformRunsEndToEnd() throws {
        let names = (0..<30).map { "file-\($0).txt" }
        let dir = try setUp(names: names, workflow: """
            nodes:
              files:  { plugin: file-watch, path: in, batch_size: 7 }
              decode: { plugin: arrow-decode, from: files }
              upper:  { plugin: exec, from: decode, command: [python3, \(CLI.shipped("scripts/examples/upper.py")), name] }
              out:    { plugin: capture, from: upper, path: out.jsonl }
            """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try run(dir)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(try captured(dir) == names.map { $0.uppercased() }.sorted())
    }

    @Test func anErrorAnswerFailsThatMessageOnlyAndAnArrayMayHoldSeveralRecords() throws {
        let dir = try setUp(names: ["a.txt", "bad.txt", "two.txt"], workflow: """
            nodes:
              files:  { plugin: file-watch, path: in, batch_size: 1 }
              decode: { plugin: arrow-decode, from: files }
              upper:  { plugin: exec, from: decode, command: [python3, crashy.py] }
              out:    { plugin: capture, from: upper, path: out.jsonl }
            """, scripts: ["crashy.py": Self.crashy])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try run(dir)
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(try captured(dir) == ["A.TXT", "TWO.TXT", "extra-TWO.TXT"])
        #expect(r.stdout.contains("failures (1):"), "\(r.stdout)")
        #expect(r.stdout.contains("upper: exec 'python3': no bad names: bad.txt"), "\(r.stdout)")
        #expect(!r.stderr.contains("restarts in"), "an error answer does not restart the program: \(r.stderr)")
    }

    @Test func aProgramThatDiesFailsOneMessageIsRestartedAndTheRunGoesOn() throws {
        let names = (0..<40).map { "file-\($0).txt" } + ["crash.txt"]
        let dir = try setUp(names: names, workflow: """
            nodes:
              files:  { plugin: file-watch, path: in, batch_size: 1 }
              decode: { plugin: arrow-decode, from: files }
              upper:  { plugin: exec, from: decode, command: [python3, crashy.py], restart_delay: 0.01 }
              out:    { plugin: capture, from: upper, path: out.jsonl }
            """, scripts: ["crashy.py": Self.crashy])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try run(dir)
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(try captured(dir) == (0..<40).map { "FILE-\($0).TXT" }.sorted())
        #expect(r.stdout.contains("failures (1):"), "\(r.stdout)")
        #expect(r.stdout.contains("exited with status 3 while handling this message; it is restarted"), "\(r.stdout)")
        #expect(r.stderr.contains("python3 (copy 0): dying on crash.txt"), "stderr reaches the node's log: \(r.stderr)")
        #expect(r.stderr.contains("restarts in"), "\(r.stderr)")
    }

    @Test func aSlowAnswerTimesOutWhileOtherCopiesGoOn() throws {
        let names = (0..<20).map { "file-\($0).txt" } + ["slow.txt"]
        let dir = try setUp(names: names, workflow: """
            nodes:
              files:  { plugin: file-watch, path: in, batch_size: 1 }
              decode: { plugin: arrow-decode, from: files }
              upper:  { plugin: exec, from: decode, command: [python3, crashy.py], concurrency: 3, timeout: 1 }
              out:    { plugin: capture, from: upper, path: out.jsonl }
            """, scripts: ["crashy.py": Self.crashy])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let started = Date()
        let r = try run(dir)
        #expect(Date().timeIntervalSince(started) < 20, "not the 30 s the slow answer would take")
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(try captured(dir) == (0..<20).map { "FILE-\($0).TXT" }.sorted())
        #expect(r.stdout.contains("did not answer within 1.0 s (timeout)"), "\(r.stdout)")
    }

    @Test func arrowInAndOutUseLengthPrefixedIPCStreams() throws {
        // Echoes every frame it gets: 4-byte little-endian length, then an Arrow IPC stream.
        let echo = """
            import struct, sys
            i, o = sys.stdin.buffer, sys.stdout.buffer
            while True:
                head = i.read(4)
                if len(head) < 4:
                    break
                (n,) = struct.unpack("<I", head)
                o.write(head + i.read(n)); o.flush()
            """
        let names = (0..<5).map { "file-\($0).txt" }
        let dir = try setUp(names: names, workflow: """
            nodes:
              files:  { plugin: file-watch, path: in, batch_size: 2 }
              echo:   { plugin: exec-arrow, from: files, input: arrow, command: [python3, echo.py] }
              decode: { plugin: arrow-decode, from: echo }
              out:    { plugin: capture, from: decode, path: out.jsonl }
            """, scripts: ["echo.py": echo])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try run(dir)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(try captured(dir) == names)
    }

    @Test func validateChecksTheInputTypeAndTheProgram() throws {
        let dir = try setUp(names: [], workflow: """
            nodes:
              files:  { plugin: file-watch, path: in }
              decode: { plugin: arrow-decode, from: files }
              a:      { plugin: exec, from: decode, input: arrow, command: [python3, x.py] }
              b:      { plugin: exec-sink, from: files, command: [no-such-program-here] }
              c:      { plugin: exec, from: files, input: arrow }
            """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["validate", dir + "/w.yml"])
        let all = r.stdout + r.stderr
        #expect(r.status != 0)
        #expect(all.contains("'decode' (arrow-decode) emits record, but 'a' (exec) has input: arrow; set input: record"), "\(all)")
        #expect(all.contains("'files' (file-watch) emits arrow, but 'b' (exec-sink) has input: record; set input: arrow"), "\(all)")
        #expect(all.contains("program 'no-such-program-here' of 'command' is not an executable file or on PATH"), "\(all)")
        #expect(all.contains("'c' (exec) needs 'command: [PROGRAM, ARG...]'"), "\(all)")
    }
}
