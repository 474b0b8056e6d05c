import Engine
import Foundation
import Testing

/// The executor support every executor shares: names, the log layout, the result record.
@Suite(.timeLimit(.minutes(5))) struct ExecutorSupportTests {
    @Test func slugsAreLowerCaseASCIIWithSingleDashes() {
        #expect(SafeName.slug("Sales 2024.Q1") == "sales-2024-q1")
        #expect(SafeName.slug("--a--b--") == "a-b")
        #expect(SafeName.slug("$(rm -rf ~); echo") == "rm-rf-echo")
        #expect(SafeName.slug("Ünïcode") == "n-code")
        #expect(SafeName.slug("") == "")
        #expect(SafeName.slug(String(repeating: "ab-", count: 30)).count == 40)
    }

    @Test func fileNamesNeverLeaveTheirFolder() {
        #expect(SafeName.file("extract-a-1f2e") == "extract-a-1f2e")
        #expect(SafeName.file("a/b c") == "a_b_c")
        for bad in ["", ".", ".."] { #expect(SafeName.file(bad) == "job") }
        #expect(SafeName.file("../x") == ".._x")
        #expect(SafeName.file(String(repeating: "x", count: 300)).count == 120)
    }

    @Test func labelsAreWhatSelectorsAccept() {
        #expect(SafeName.label("My Flow!") == "My-Flow")
        #expect(SafeName.label("-._x_.-") == "x")
        #expect(SafeName.label("***") == "x")
        #expect(SafeName.label(String(repeating: "a", count: 100)).count == 63)
    }

    @Test func logsOfEveryExecutorAreAtOnePathShape() throws {
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("logs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: run) }
        let logs = try JobLogs(runDirectory: run)
        #expect(logs.paths(for: "wf-extract-a").stdout == run + "/jobs/wf-extract-a.stdout.log")
        #expect(logs.paths(for: "../x").stderr == run + "/jobs/.._x.stderr.log")
        let written = try logs.write(job: "j", stdout: "out", stderr: "")
        #expect(written.stdout == run + "/jobs/j.stdout.log" && written.stderr == nil)
        #expect(try String(contentsOfFile: run + "/jobs/j.stdout.log", encoding: .utf8) == "out")
    }

    @Test func aResultsFieldsAreTheDeclaredOnes() {
        let result = ExecutorResult(id: "x", executor: "test", exitCode: 0, duration: .milliseconds(1500), stdout: "", stderr: "e",
                                    stdoutPath: nil, stderrPath: "/e")
        let details = result.details(extra: [("extra", .int(1))])
        let job = Job(name: "j", spec: Record(), renderedBy: "t", input: Record([("path", "/a")]))
        let record = JobResult(job: job, state: .completed, details: details).record
        #expect(record.names == ExecutorResult.schema(extra: [RecordField("extra", .int)]).map(\.name))
        #expect(record["duration"] == .float(1.5))
        #expect(ExecutorResult.excerpt("a\nb\n\nc\nd\n") == ": b | c | d")
    }

    /// The fingerprint is FNV-1a over the JSON with every map's keys sorted: the values stored
    /// on Bacalhau jobs by earlier versions stay valid.
    @Test func specFingerprintsHashTheKeySortedJSON() {
        let spec = Value.map(Record([("Type", "batch"), ("Tasks", .list([.map(Record([("Name", "t"), ("Engine", .map(Record([("Type", "process")])))]))])),
                                     ("Count", 1)]))
        let canonical = #"{"Count":1,"Tasks":[{"Engine":{"Type":"process"},"Name":"t"}],"Type":"batch"}"#
        #expect(SpecFingerprint.of(spec) == StableHash.hex(of: canonical))
        #expect(SpecFingerprint.of(spec) != StableHash.hex(of: spec.json))
    }

    @Test func retryAfterIsSecondsOrAnHTTPDate() {
        #expect(RetryPolicy.retryAfter("3") == 3)
        #expect(RetryPolicy.retryAfter(" 2.5 ") == 2.5)
        #expect(RetryPolicy.retryAfter(nil) == nil)
        #expect(RetryPolicy.retryAfter("soon") == nil)
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 GMT
        #expect(RetryPolicy.retryAfter("Tue, 14 Nov 2023 22:13:50 GMT", now: now) == 30)
        #expect(RetryPolicy.retryAfter("Tue, 14 Nov 2023 22:13:00 GMT", now: now) == 0)
    }
}
