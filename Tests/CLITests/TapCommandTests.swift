import Foundation
import Testing

/// `hypha tap URL NODE` against a running `hypha run --http`: the records it prints are those
/// the node emitted, `--limit`, the errors, and a reader too slow for the node (docs/OBSERVE.md).
@Suite(.serialized, .timeLimit(.minutes(5))) struct TapCommandTests {
    /// A running Hypha: records posted to `incoming` (arrow-http) are decoded into records
    /// (`decode`) and written by a capture sink (`out`) to `captured`.
    struct Running {
        let dir: String
        let process: Process
        let sourcePort: Int
        let endpoint: String
        var captured: String { dir + "/captured.jsonl" }
        var log: String { dir + "/hypha.log" }

        init() throws {
            dir = try CLI.temporaryFolder()
            sourcePort = ArrowHTTPTests.freePort()
            let httpPort = ArrowHTTPTests.freePort()
            endpoint = "http://127.0.0.1:\(httpPort)"
            try """
                name: tapped
                nodes:
                  incoming: { plugin: arrow-http, port: \(sourcePort) }
                  decode: { plugin: arrow-decode, from: incoming }
                  out: { plugin: capture, from: decode, path: captured.jsonl }
                """.write(toFile: dir + "/tapped.yml", atomically: true, encoding: .utf8)
            process = try ArrowHTTPTests.start([dir + "/tapped.yml", "--no-state", "--run-dir", dir + "/run", "--http", "127.0.0.1:\(httpPort)"],
                                               log: dir + "/hypha.log")
            let endpoint = endpoint, log = log
            try #require(ArrowHTTPTests.waitUntil(60) { SecurityTests.log(log).contains("observability endpoint at \(endpoint)/") },
                         "\(SecurityTests.log(log))")
        }

        /// Posts `rows` (JSON objects) to `incoming` with `hypha send`.
        func send(_ rows: [String]) throws {
            let file = dir + "/rows-\(UUID().uuidString).jsonl"
            try (rows.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let sent = try CLI.run(["send", "http://127.0.0.1:\(sourcePort)/arrow", file], timeout: 120)
            #expect(sent.status == 0, "\(sent.stderr)")
        }

        func capturedValues() -> [NSDictionary] {
            TapCommandTests.objects(SecurityTests.log(captured)).compactMap { $0["value"] as? NSDictionary }
        }

        /// Ends the run (Ctrl-C) and the folder.
        func stop() {
            _ = ObserveTests.interrupt(process)
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// `hypha tap ARGS` in the background, its stderr to `dir/NAME.err`, its stdout to a pipe
    /// that nobody reads until `collect` copies it to `dir/NAME.out`.
    struct Tap {
        let process: Process
        let errors: String
        let output: String
        private let pipe = Pipe()

        init(_ arguments: [String], dir: String, name: String) throws {
            errors = "\(dir)/\(name).err"
            output = "\(dir)/\(name).out"
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            FileManager.default.createFile(atPath: output, contents: nil)
            process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["tap"] + arguments
            process.standardOutput = pipe
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
            try process.run()
        }

        var stderr: String { SecurityTests.log(errors) }
        var stdout: String { SecurityTests.log(output) }

        /// Reads what the tap prints from now on, until it exits.
        func collect() throws {
            let from = pipe.fileHandleForReading
            let to = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            Thread {
                while case let chunk = from.availableData, !chunk.isEmpty { to.write(chunk) }
                try? to.close()
            }.start()
        }

        func waitForExit(_ seconds: Double = 60) -> Int32? {
            guard ArrowHTTPTests.waitUntil(seconds, { !process.isRunning }) else { return nil }
            process.waitUntilExit()
            return process.terminationStatus
        }

        func kill() { if process.isRunning { process.terminate() } }
    }

    static func objects(_ text: String) -> [NSDictionary] {
        text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? NSDictionary }
    }

    static func rows(_ range: Range<Int>, padding: Int = 0) -> [String] {
        range.map { #"{"n": \#($0), "name": "file \#($0) é.zip", "ok": \#($0 % 2 == 0)\#(padding > 0 ? #", "pad": "\#(String(repeating: "x", count: padding))""# : "")}"# }
    }

    @Test func theRecordsPrintedAreThoseTheNodeEmittedAndTheLimitStops() throws {
        let run = try Running()
        defer { run.stop() }
        let decode = try Tap([run.endpoint, "decode"], dir: run.dir, name: "decode")
        let firstRows = try Tap([run.endpoint + "/", "incoming", "--limit", "3"], dir: run.dir, name: "incoming")
        defer { decode.kill(); firstRows.kill() }
        try decode.collect()
        try firstRows.collect()
        try #require(ArrowHTTPTests.waitUntil(30) { decode.stderr.contains("tapping 'decode' (record)") }, "\(decode.stderr)")
        try #require(ArrowHTTPTests.waitUntil(30) { firstRows.stderr.contains("tapping 'incoming' (arrow)") }, "\(firstRows.stderr)")

        try run.send(Self.rows(0..<20))
        #expect(ArrowHTTPTests.waitUntil(30) { run.capturedValues().count == 20 }, "\(SecurityTests.log(run.log))")
        #expect(ArrowHTTPTests.waitUntil(30) { Self.objects(decode.stdout).count == 20 }, "\(decode.stdout)\n\(decode.stderr)")
        // What the tap printed is what the capture sink after the node wrote, in the same order.
        #expect(Self.objects(decode.stdout) == run.capturedValues())
        #expect(Self.objects(decode.stdout).first == ["n": 0, "name": "file 0 é.zip", "ok": true] as NSDictionary)

        // --limit 3 on the source: its first three rows, then it stops by itself.
        #expect(firstRows.waitForExit() == 0, "\(firstRows.stderr)")
        #expect(Self.objects(firstRows.stdout) == Array(run.capturedValues().prefix(3)))
        #expect(!firstRows.stderr.contains("dropped"), "\(firstRows.stderr)")

        // Ctrl-C ends a tap as --limit does: exit 0.
        let interrupted = try Tap([run.endpoint, "incoming"], dir: run.dir, name: "interrupted")
        defer { interrupted.kill() }
        try interrupted.collect()
        try #require(ArrowHTTPTests.waitUntil(30) { interrupted.stderr.contains("tapping 'incoming'") }, "\(interrupted.stderr)")
        kill(interrupted.process.processIdentifier, SIGINT)
        #expect(interrupted.waitForExit() == 0, "\(interrupted.stderr)")

        // The run ending ends the tap, which says so and exits 0.
        _ = ObserveTests.interrupt(run.process)
        #expect(decode.waitForExit() == 0, "\(decode.stderr)")
        #expect(decode.stderr.contains("the run has ended after 20 records"), "\(decode.stderr)")
    }

    @Test func anUnknownNodeASinkAndNoHyphaAreClearErrors() throws {
        let run = try Running()
        defer { run.stop() }
        let unknown = try CLI.run(["tap", run.endpoint, "nosuch"], timeout: 60)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no node 'nosuch' in workflow 'tapped'; its nodes that emit: incoming, decode"), "\(unknown.stderr)")
        let sink = try CLI.run(["tap", run.endpoint, "out"], timeout: 60)
        #expect(sink.status == 1)
        #expect(sink.stderr.contains("node 'out' (capture) is a sink: nothing leaves it"), "\(sink.stderr)")
        let badSample = try CLI.run(["tap", run.endpoint, "decode", "--sample", "0"], timeout: 60)
        #expect(badSample.status != 0 && badSample.stderr.contains("--sample must be a fraction above 0"), "\(badSample.stderr)")

        let nobody = "http://127.0.0.1:\(ArrowHTTPTests.freePort())"
        let unreachable = try CLI.run(["tap", nobody, "decode"], timeout: 60)
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("cannot connect to \(nobody)/api/v1/tap/decode"), "\(unreachable.stderr)")
    }

    @Test func aReaderTooSlowForTheNodeDoesNotHoldTheRunBackAndIsToldWhatItLost() throws {
        let run = try Running()
        defer { run.stop() }
        // Nobody reads this tap's output: once the pipe and the sockets are full, it takes no more.
        let slow = try Tap([run.endpoint, "decode"], dir: run.dir, name: "slow")
        defer { slow.kill() }
        try #require(ArrowHTTPTests.waitUntil(30) { slow.stderr.contains("tapping 'decode'") }, "\(slow.stderr)")

        // About 12 MB of records, more than the pipe and both sockets hold.
        let count = 20_000
        try run.send(Self.rows(0..<count, padding: 600))
        #expect(ArrowHTTPTests.waitUntil(120) { run.capturedValues().count == count },
                "the run stalled behind the tap: \(run.capturedValues().count) of \(count) captured")

        // Read now: once the reader has caught up, a last record comes through after the loss. Until
        // it has, the tap's buffer may still be full and drop it too, so it is sent again until one
        // arrives (each one sent is counted: printed or dropped).
        try slow.collect()
        var lastSent = 0
        var lastArrived = false
        while !lastArrived && lastSent < 40 {
            try run.send([#"{"n": -1, "name": "last", "ok": true}"#])
            lastSent += 1
            lastArrived = ArrowHTTPTests.waitUntil(3) { Self.objects(slow.stdout).last?["name"] as? String == "last" }
        }
        #expect(lastArrived, "\(slow.stderr)")
        _ = ObserveTests.interrupt(run.process)
        #expect(slow.waitForExit() == 0, "\(slow.stderr)")

        let printed = Self.objects(slow.stdout).count
        let said = slow.stderr.firstMatch(of: /(\d+) messages leaving 'decode' were dropped/).flatMap { Int($0.1) }
        let dropped = try #require(said, "no drop said: \(slow.stderr)")
        #expect(dropped > 0 && printed + dropped == count + lastSent,
                "printed \(printed), dropped \(dropped), of \(count) and \(lastSent) last records")
    }
}
