import Engine
import Foundation
@testable import CorePlugins
import Testing

@Suite(.timeLimit(.minutes(5))) struct ExecPluginTests {
    static let pidEcho = """
        import json, os, sys, time
        for line in sys.stdin:
            r = json.loads(line)
            if r.get("hang"):
                with open(r["hang"] + ".tmp", "w") as f:
                    f.write(str(os.getpid()))
                os.rename(r["hang"] + ".tmp", r["hang"])
                time.sleep(60)
            r["pid"] = os.getpid()
            print(json.dumps([r]), flush=True)
        """

    func plugin(_ harness: PluginHarness, script: String, options: [String: Value] = [:]) throws -> ExecPlugin {
        try script.write(toFile: harness.directory + "/p.py", atomically: true, encoding: .utf8)
        var all: [String: Value] = ["command": .list(["python3", "p.py"])]
        for (k, v) in options { all[k] = v }
        return try ExecPlugin(node: harness.config("up", plugin: ExecPlugin.self, options: all), context: harness.context())
    }

    @Test func theProgramStartsOnceAnswersEveryMessageAndStopsAtFinish() async throws {
        let harness = try PluginHarness()
        defer { harness.cleanUp() }
        let exec = try plugin(harness, script: Self.pidEcho)
        let emitted = Emitted()
        for i in 0..<5 { try await exec.process(.record(Record([("i", .int(Int64(i)))])), emitted.output) }
        let pids = Set(emitted.all.compactMap { payload -> Int64? in
            guard case .record(let r) = payload, case .int(let pid)? = r["pid"] else { return nil }
            return pid
        })
        #expect(emitted.all.count == 5)
        #expect(pids.count == 1, "one program for every message")
        try await exec.finish()
        let pid = try #require(pids.first)
        #expect(kill(pid_t(pid), 0) != 0, "the program has exited after finish()")
    }

    @Test func cancellingAMessageInterruptsItAndKillsTheProgram() async throws {
        let harness = try PluginHarness()
        defer { harness.cleanUp() }
        let exec = try plugin(harness, script: Self.pidEcho)
        let pidFile = harness.directory + "/hanging.pid"
        let task = Task { try await exec.process(.record(Record([("hang", .string(pidFile))])), Emitted().output) }
        // The program has the message once it has written its pid.
        let started = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: pidFile) && ContinuousClock.now < started {
            try await Task.sleep(for: .milliseconds(10))
        }
        let pid = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8)))
        task.cancel()
        do {
            try await task.value
            Issue.record("a cancelled message did not fail")
        } catch let failure as MessageFailure {
            #expect(failure.interrupted, "\(failure)")
        }
        // Killed and reaped: the pid names no process (nor a zombie) any more.
        let gone = ContinuousClock.now + .seconds(10)
        while FileManager.default.fileExists(atPath: "/proc/\(pid)") && ContinuousClock.now < gone {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(pid)"), "the hung program (pid \(pid)) is gone")
        // The next message gets a fresh program.
        let emitted = Emitted()
        try await exec.process(.record(Record([("i", 1)])), emitted.output)
        #expect(emitted.all.count == 1)
        try await exec.finish()
    }

    @Test func aWrongPayloadOrABadAnswerFailsTheMessage() async throws {
        let harness = try PluginHarness()
        defer { harness.cleanUp() }
        let exec = try plugin(harness, script: "import sys\nfor line in sys.stdin:\n    print('not json', flush=True)\n")
        await #expect(throws: MessageFailure.self) { try await exec.process(.record(Record([("i", 1)])), Emitted().output) }
        await #expect(throws: MessageFailure.self) {
            try await exec.process(.arrow(ArrowData(bytes: Data())), Emitted().output)
        }
        try await exec.finish()
    }

    @Test func aProgramThatExitsBetweenMessagesFailsTheNextOneAndIsRestarted() async throws {
        let harness = try PluginHarness()
        defer { harness.cleanUp() }
        let script = "import json, os, sys\nr = json.loads(sys.stdin.readline())\nr['pid'] = os.getpid()\nprint(json.dumps([r]), flush=True)\n"
        let exec = try plugin(harness, script: script, options: ["restart_delay": 0.01])
        let emitted = Emitted()
        try await exec.process(.record(Record([("i", 1)])), emitted.output)
        guard case .record(let first)? = emitted.all.first, case .int(let pid)? = first["pid"] else {
            Issue.record("no pid in the first answer: \(emitted.all)")
            return
        }
        // It has exited and been reaped (the reader of its stdout waits for it).
        let deadline = ContinuousClock.now + .seconds(30)
        while kill(pid_t(pid), 0) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        var failures = 0
        for i in 2...5 {
            do { try await exec.process(.record(Record([("i", .int(Int64(i)))])), emitted.output) } catch is MessageFailure { failures += 1 }
        }
        #expect(failures == 2, "every other message meets a program that has just exited")
        #expect(emitted.all.count == 3)
        try await exec.finish()
    }

    /// Answers come back in order; each message gets its own (each answer carries its input's `i`).
    @Test func pipelinedMessagesEachGetTheirOwnAnswer() async throws {
        let harness = try PluginHarness()
        defer { harness.cleanUp() }
        let exec = try plugin(harness, script: Self.pidEcho, options: ["pipeline": 8, "concurrency": 2])
        #expect(exec.concurrency == 16)
        let answered = try await withThrowingTaskGroup(of: (sent: Int64, got: [Int64]).self) { group in
            var answered: [(sent: Int64, got: [Int64])] = []
            for i in 0..<200 {
                group.addTask {
                    let emitted = Emitted()
                    try await exec.process(.record(Record([("i", .int(Int64(i)))])), emitted.output)
                    return (Int64(i), emitted.all.compactMap { payload -> Int64? in
                        guard case .record(let r) = payload, case .int(let n)? = r["i"] else { return nil }
                        return n
                    })
                }
                // At most 16 in flight, as the runtime hands them.
                if i >= 15, let done = try await group.next() { answered.append(done) }
            }
            for try await done in group { answered.append(done) }
            return answered
        }
        #expect(answered.count == 200)
        #expect(answered.allSatisfy { $0.got == [$0.sent] }, "every message got its own answer")
        try await exec.finish()
    }

    @Test func aProgramThatDiesFailsEveryMessageItHadAndIsRestarted() async throws {
        let harness = try PluginHarness()
        defer { harness.cleanUp() }
        // Answers two messages, then exits with the rest unanswered.
        let script = "import sys\nfor n, line in enumerate(sys.stdin):\n    if n == 2: sys.exit(3)\n    print('[' + line.strip() + ']', flush=True)\n"
        let exec = try plugin(harness, script: script, options: ["pipeline": 4, "restart_delay": 0.01])
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<4 {
                group.addTask {
                    do {
                        try await exec.process(.record(Record([("i", .int(Int64(i)))])), Emitted().output)
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 2 && outcomes.count == 4, "two answered, two failed with the program: \(outcomes)")
        let emitted = Emitted()
        try await exec.process(.record(Record([("i", 9)])), emitted.output)
        #expect(emitted.all.count == 1, "a new program answers the next message")
        try await exec.finish()
    }

    @Test func framesAreSplitAcrossReads() {
        var lines = FrameSplitter(lengthPrefixed: false, limit: 100, overflow: .fail)
        #expect(lines.add(Array("[1]\n[".utf8)[...]).map(\.bytes) == [Data("[1]".utf8)])
        #expect(lines.add(Array("2]\r\n\n[3]\n".utf8)[...]).map(\.bytes) == [Data("[2]".utf8), Data("[3]".utf8)])
        var frames = FrameSplitter(lengthPrefixed: true, limit: 100, overflow: .fail)
        #expect(frames.add([3, 0, 0, 0, 1, 2][...]).map(\.bytes) == [])
        #expect(frames.add([3, 0, 0, 0, 0, 9][...]).map(\.bytes) == [Data([1, 2, 3]), Data()])
        #expect(frames.add([0, 0, 0][...]).map(\.bytes) == [])
        #expect(frames.tooLong == nil && lines.tooLong == nil)
    }

    @Test func aLineOrFrameOverTheLimitStopsTheSplitterWithoutBeingHeld() {
        var lines = FrameSplitter(lengthPrefixed: false, limit: 8, overflow: .fail)
        #expect(lines.add(Array("[1]\n12345".utf8)[...]).map(\.bytes) == [Data("[1]".utf8)])
        #expect(lines.tooLong == nil, "5 bytes of an unfinished line are within the limit")
        #expect(lines.add(Array("6789".utf8)[...]).isEmpty)
        #expect(lines.tooLong == 9, "an unfinished line of 9 bytes is over the limit of 8 before its newline comes")
        #expect(lines.add(Array("\n[2]\n".utf8)[...]).isEmpty, "nothing is split after an overflow")

        var whole = FrameSplitter(lengthPrefixed: false, limit: 3, overflow: .fail)
        #expect(whole.add(Array("[1]\n[22]\n[3]\n".utf8)[...]).map(\.bytes) == [Data("[1]".utf8)])
        #expect(whole.tooLong == 4)

        var frames = FrameSplitter(lengthPrefixed: true, limit: 1000, overflow: .fail)
        #expect(frames.add([0xE9, 0x03, 0, 0, 1][...]).isEmpty)
        #expect(frames.tooLong == 1001, "a frame's declared length is refused before its bytes arrive")
    }

    @Test func aLongLineIsCutAndItsRestSkippedToItsNewline() {
        var lines = FrameSplitter(lengthPrefixed: false, limit: 4, overflow: .cut)
        let first = lines.add(Array("ab\nabcdefg".utf8)[...])
        #expect(first.map(\.bytes) == [Data("ab".utf8), Data("abcd".utf8)])
        #expect(first.map(\.isCut) == [false, true])
        #expect(lines.add(Array("hijklmnop".utf8)[...]).isEmpty, "the rest of the cut line is skipped")
        let after = lines.add(Array("qr\nxyz\n".utf8)[...])
        #expect(after.map(\.bytes) == [Data("xyz".utf8)] && after.map(\.isCut) == [false])
        #expect(lines.tooLong == nil)
    }

    @Test func anAnswerOverMaxLineFailsTheMessageAndTheProgramIsRestarted() async throws {
        let harness = try PluginHarness()
        defer { harness.cleanUp() }
        let script = """
            import json, os, sys
            for line in sys.stdin:
                r = json.loads(line)
                r["pid"] = os.getpid()
                r["pad"] = "x" * r["size"]
                print(json.dumps([r]), flush=True)
            """
        let exec = try plugin(harness, script: script, options: ["max_line": 1000, "restart_delay": 0.01])
        let emitted = Emitted()
        do {
            try await exec.process(.record(Record([("size", 5000)])), emitted.output)
            Issue.record("an answer of 5000 bytes went through max_line: 1000")
        } catch let failure as MessageFailure {
            #expect("\(failure)".contains("max_line (1000 bytes)"), "\(failure)")
        }
        try await exec.process(.record(Record([("size", 10)])), emitted.output)
        #expect(emitted.all.count == 1, "the next message is answered by a new program")
        try await exec.finish()
    }

    @Test func anEndlessStderrLineIsLoggedCutAndTheProgramStillAnswers() async throws {
        let harness = try PluginHarness()
        defer { harness.cleanUp() }
        // 32 MiB on stderr with no newline, then a newline and a short line, then the answer.
        let script = """
            import json, sys
            for line in sys.stdin:
                chunk = "e" * (1 << 20)
                for _ in range(32):
                    sys.stderr.write(chunk)
                sys.stderr.write("\\nafter\\n")
                sys.stderr.flush()
                print(json.dumps([json.loads(line)]), flush=True)
            """
        try script.write(toFile: harness.directory + "/p.py", atomically: true, encoding: .utf8)
        let logs = LogLines()
        let exec = try ExecPlugin(node: harness.config("up", plugin: ExecPlugin.self, options: ["command": .list(["python3", "p.py"])]),
                                  context: harness.context(logs: logs))
        let emitted = Emitted()
        try await exec.process(.record(Record([("i", 1)])), emitted.output)
        #expect(emitted.all.count == 1)
        // stderr is read on a thread of its own: wait for its last line to be logged.
        let deadline = ContinuousClock.now + .seconds(20)
        while !logs.all.contains(where: { $0.hasSuffix(": after") }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await exec.finish()
        let cut = logs.all.filter { $0.contains("[line cut at 65536 bytes]") }
        #expect(cut.count == 1, "one cut line logged: \(logs.all.map { String($0.prefix(80)) })")
        #expect(cut.allSatisfy { $0.count < 66_000 }, "a logged line holds at most the limit")
        #expect(logs.all.contains { $0.hasSuffix(": after") }, "the line after the long one is logged whole")
    }
}
