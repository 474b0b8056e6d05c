import Engine
import Foundation
@testable import CorePlugins
import Testing

@Suite struct ExecPluginTests {
    static let pidEcho = """
        import json, os, sys, time
        for line in sys.stdin:
            r = json.loads(line)
            if r.get("hang"):
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
        let task = Task { try await exec.process(.record(Record([("hang", true)])), Emitted().output) }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        do {
            try await task.value
            Issue.record("a cancelled message did not fail")
        } catch let failure as MessageFailure {
            #expect(failure.interrupted, "\(failure)")
        }
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
        var lines = FrameSplitter(lengthPrefixed: false)
        #expect(lines.add(Array("[1]\n[".utf8)[...]) == [Data("[1]".utf8)])
        #expect(lines.add(Array("2]\r\n\n[3]\n".utf8)[...]) == [Data("[2]".utf8), Data("[3]".utf8)])
        var frames = FrameSplitter(lengthPrefixed: true)
        #expect(frames.add([3, 0, 0, 0, 1, 2][...]) == [])
        #expect(frames.add([3, 0, 0, 0, 0, 9][...]) == [Data([1, 2, 3]), Data()])
        #expect(frames.add([0, 0, 0][...]) == [])
    }
}
