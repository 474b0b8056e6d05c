import BacalhauEmulatorKit
import Engine
import Foundation
import Testing

/// The emulator against API.md: routes, status codes, wire types, error bodies, upserts.
@Suite(.timeLimit(.minutes(5))) struct EmulatorAPITests {
    static let echoJob = #"{"Job":{"Name":"hello","Type":"batch","Count":1,"Tasks":[{"Name":"main","Engine":{"Type":"process","Params":{"Name":"echo","Arguments":["hi"]}}}]}}"#

    func api(_ running: RunningEmulator, _ path: String) -> String {
        running.endpoint + "/api/v1/orchestrator" + path
    }

    /// Polls until the job reaches a terminal state.
    func waitTerminal(_ running: RunningEmulator, _ id: String) async throws -> Value {
        for _ in 0..<500 {
            let reply = try await raw("GET", api(running, "/jobs/\(id)?include=executions,history"))
            if let state = reply.json?["Job"]?["State"]?["StateType"]?.stringValue,
               ["Completed", "Failed", "Stopped"].contains(state), let json = reply.json
            {
                return json
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("job \(id) did not finish")
        return .null
    }

    @Test func submitFollowAndReadAProcessJob() async throws {
        try await withEmulator { running in
            let put = try await raw("PUT", api(running, "/jobs"), body: Self.echoJob)
            #expect(put.status == 200)
            let id = try #require(put.json?["JobID"]?.stringValue)
            #expect(id.hasPrefix("j-"))
            #expect(put.json?["EvaluationID"]?.stringValue?.isEmpty == false)
            #expect(put.json?["Warnings"] == .null)
            #expect(put.headers["content-type"] == "application/json")
            #expect(put.headers["x-request-id"]?.isEmpty == false)

            let done = try await waitTerminal(running, id)
            let job = try #require(done["Job"])
            #expect(job["State"]?["StateType"] == "Completed")  // a string, not an integer
            #expect(job["Namespace"] == "default")
            #expect(job["Name"] == "hello")
            #expect(job["Version"] == 1)
            #expect((job["CreateTime"]?.intValue ?? 0) > 1_000_000_000_000_000_000)  // nanoseconds
            #expect(job.recordValue?.lookup(["Tasks", "0", "Resources", "CPU"]) == "500m")
            let execution = try #require(done["Executions"]?["Items"]?.listValue?.first)
            #expect(execution["ComputeState"]?["StateType"] == 9)  // an integer
            #expect(execution["DesiredState"]?["StateType"] == 2)
            #expect(execution["RunOutput"]?["Stdout"] == "hi\n")
            #expect(execution["RunOutput"]?["stderr"] == "")  // lowercase key on the wire
            #expect(execution["RunOutput"]?["ExitCode"] == 0)
            let history = done["History"]?["Items"]?.listValue ?? []
            #expect(history.first?["Type"] == "JobLevel")
            #expect(history.first?["Event"]?["Topic"] == "Submission")
            #expect(history.contains { $0["Type"] == "ExecutionLevel" })
            #expect(history.first?["Time"]?.stringValue?.hasSuffix("Z") == true)  // RFC 3339

            let byName = try await raw("GET", api(running, "/jobs/hello"))
            #expect(byName.json?["Job"]?["ID"]?.stringValue == id)
            let byPrefix = try await raw("GET", api(running, "/jobs/\(id.prefix(10))"))
            #expect(byPrefix.json?["Job"]?["ID"]?.stringValue == id)
            let executions = try await raw("GET", api(running, "/jobs/\(id)/executions"))
            #expect(executions.json?["Items"]?.listValue?.count == 1)
            #expect(executions.json?["NextToken"] == "")
        }
    }

    @Test func upsertByName() async throws {
        try await withEmulator { running in
            let first = try await raw("PUT", api(running, "/jobs"), body: Self.echoJob)
            let id = try #require(first.json?["JobID"]?.stringValue)
            _ = try await waitTerminal(running, id)

            // Same spec: 500 "no changes detected" naming the job, with a hint.
            let same = try await raw("PUT", api(running, "/jobs"), body: Self.echoJob)
            #expect(same.status == 500)
            let message = same.json?["Message"]?.stringValue ?? ""
            #expect(message.contains("no changes detected"))
            #expect(message.contains(id))
            #expect(same.json?["Hint"]?.stringValue?.contains("--force") == true)

            // Force: a new version of the same job.
            let forced = try await raw("PUT", api(running, "/jobs"),
                                       body: Self.echoJob.replacingOccurrences(of: "}}]}}", with: "}}]},\"Force\":true}"))
            #expect(forced.status == 200)
            #expect(forced.json?["JobID"]?.stringValue == id)

            // A changed spec: same ID, version + 1.
            let changed = try await raw("PUT", api(running, "/jobs"),
                                        body: Self.echoJob.replacingOccurrences(of: "[\"hi\"]", with: "[\"bye\"]"))
            #expect(changed.json?["JobID"]?.stringValue == id)
            let done = try await waitTerminal(running, id)
            #expect(done["Job"]?["Version"] == 3)
            #expect(done["Executions"]?["Items"]?.listValue?.first?["RunOutput"]?["Stdout"] == "bye\n")
            let versions = try await raw("GET", api(running, "/jobs/\(id)/versions"))
            #expect(versions.json?["Items"]?.listValue?.count == 3)
            #expect(await running.emulator.jobs().count == 1)

            // The same name in another namespace is another job.
            let other = try await raw("PUT", api(running, "/jobs"),
                                      body: Self.echoJob.replacingOccurrences(of: "\"Name\":\"hello\",", with: "\"Name\":\"hello\",\"Namespace\":\"other\","))
            #expect(other.status == 200)
            #expect(other.json?["JobID"]?.stringValue != id)
        }
    }

    @Test func badSubmissionsAre400WithBacalhausErrorBody() async throws {
        try await withEmulator { running in
            let cases: [(String, String?, String)] = [
                (#"{"Job":{"Type":"batch","Count":"1","Tasks":[]}}"#, "application/json", "Unmarshal type error"),
                (#"{"Job":{"Type":"nope","Tasks":[{"Name":"t","Engine":{"Type":"noop"}}]}}"#, "application/json", "invalid job type"),
                (#"{"Job":{"Type":"batch","Tasks":[]}}"#, "application/json", "missing job tasks"),
                (#"{"Job":{"Type":"batch","Tasks":[{"Name":"t","Engine":{"Type":"noop"},"Env":{"lower":"x"}}]}}"#,
                 "application/json", "invalid environment variable name"),
                (#"{"Job":{"Type":"batch","Tasks":[{"Name":"t","Engine":{"Type":"noop"},"Network":{"Type":1}}]}}"#,
                 "application/json", "Unmarshal type error"),
                (Self.echoJob, "text/plain", "Unsupported Media Type"),
                (Self.echoJob, nil, "Unsupported Media Type"),
                ("{not json", "application/json", "Syntax error"),
            ]
            for (body, type, expected) in cases {
                let reply = try await raw("PUT", api(running, "/jobs"), body: body, contentType: type,
                                          headers: ["X-Request-Id": "req-42"])
                #expect(reply.status == 400, "\(body)")
                #expect(reply.json?["Status"] == 400)
                #expect(reply.json?["Code"] == "InternalError")  // trust the status, not the Code
                #expect(reply.json?["Component"] == "APIServer")
                #expect(reply.json?["RequestID"] == "req-42")  // echoes only the client's ID
                #expect(reply.json?["Message"]?.stringValue?.contains(expected) == true, "\(reply.text)")
            }
            // Store-time validation: 400 BadRequest from the JobStore.
            let store = try await raw("PUT", api(running, "/jobs"), body: #"{"Job":{"Type":"batch","Tasks":[{"Name":"t","Engine":{"Type":"noop"},"ResultPaths":[{"Name":"o","Path":"/o"}]}]}}"#)
            #expect(store.status == 400)
            #expect(store.json?["Code"] == "BadRequest")
            #expect(store.json?["Component"] == "JobStore")
            #expect(await running.emulator.jobs().isEmpty)
        }
    }

    @Test func sanitizingWarnsAndKeepsOneTask() async throws {
        try await withEmulator { running in
            let body = #"{"Job":{"Name":"w","Type":"batch","Version":7,"ID":"j-mine","Meta":{"bacalhau.org/x":"y","k":"v"},"Tasks":[{"Name":"a","Engine":{"Type":"noop"}},{"Name":"b","Engine":{"Type":"noop"}}]}}"#
            let reply = try await raw("PUT", api(running, "/jobs"), body: body)
            #expect(reply.status == 200)
            let warnings = reply.json?["Warnings"]?.listValue?.compactMap(\.stringValue) ?? []
            #expect(warnings.count == 3, "\(warnings)")
            #expect(reply.json?["JobID"]?.stringValue != "j-mine")
            let job = try await raw("GET", api(running, "/jobs/w"))
            #expect(job.json?["Job"]?["Tasks"]?.listValue?.count == 1)
            #expect(job.json?["Job"]?["Meta"]?["bacalhau.org/x"] == nil)
            #expect(job.json?["Job"]?["Meta"]?["k"] == "v")
            #expect(job.json?["Job"]?["Count"] == 1)  // omitted Count means 1 (v1.7+)
        }
    }

    @Test func lookupErrors() async throws {
        try await withEmulator { running in
            let missing = try await raw("GET", api(running, "/jobs/nothing-here"))
            #expect(missing.status == 404)
            #expect(missing.json?["Code"] == "NotFound")
            let route = try await raw("GET", api(running, "/no/such/route"))
            #expect(route.status == 404)
            #expect(route.json?["Hint"]?.stringValue?.contains("older") == true)
            for name in ["a", "b"] {
                _ = try await raw("PUT", api(running, "/jobs"), body: Self.echoJob.replacingOccurrences(of: "hello", with: name))
            }
            let ambiguous = try await raw("GET", api(running, "/jobs/j-"))
            #expect(ambiguous.status == 500)
            #expect(ambiguous.json?["Code"] == "MultipleJobsFound")
            let logs = try await raw("GET", api(running, "/jobs/a/logs"))
            #expect(logs.status == 400)  // a plain GET is refused by the websocket upgrader
        }
    }

    @Test func stopSemantics() async throws {
        try await withEmulator { running in
            let body = #"{"Job":{"Name":"sleeper","Type":"batch","Count":1,"Tasks":[{"Name":"main","Engine":{"Type":"process","Params":{"Name":"sleep","Arguments":["30"]}}}]}}"#
            let put = try await raw("PUT", api(running, "/jobs"), body: body)
            let id = try #require(put.json?["JobID"]?.stringValue)
            for _ in 0..<200 {
                let state = try await raw("GET", api(running, "/jobs/\(id)")).json?["Job"]?["State"]?["StateType"]
                if state == "Running" { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            let stop = try await raw("DELETE", api(running, "/jobs/\(id)"), body: #"{"reason":"test says stop"}"#)
            #expect(stop.status == 200)
            #expect(stop.json?["EvaluationID"]?.stringValue?.isEmpty == false)
            let done = try await waitTerminal(running, id)
            #expect(done["Job"]?["State"]?["StateType"] == "Stopped")
            let execution = done["Executions"]?["Items"]?.listValue?.first
            #expect(execution?["ComputeState"]?["StateType"] == 11)
            #expect(execution?["DesiredState"]?["StateType"] == 2)
            let history = done["History"]?["Items"]?.listValue ?? []
            #expect(history.contains { $0["Event"]?["Details"]?["Reason"] == "test says stop" })

            let again = try await raw("DELETE", api(running, "/jobs/\(id)"))
            #expect(again.status == 200)
            #expect(again.json?["EvaluationID"] == "")  // stopping a stopped job is a no-op

            let done2 = try await raw("PUT", api(running, "/jobs"), body: Self.echoJob)
            let completedID = try #require(done2.json?["JobID"]?.stringValue)
            _ = try await waitTerminal(running, completedID)
            let refused = try await raw("DELETE", api(running, "/jobs/\(completedID)"))
            #expect(refused.status == 500)
            #expect(refused.json?["Message"]?.stringValue?.contains("cannot stop job in state Completed") == true)
            #expect(try await raw("DELETE", api(running, "/jobs/nope")).status == 404)
        }
    }

    @Test func failuresCarryAReasonInHistoryAndRunOutput() async throws {
        try await withEmulator { running in
            let body = #"{"Job":{"Name":"fails","Type":"batch","Count":1,"Tasks":[{"Name":"main","Engine":{"Type":"process","Params":{"Name":"sh","Arguments":["-c","echo broken >&2; exit 3"]}}}]}}"#
            let id = try #require(try await raw("PUT", api(running, "/jobs"), body: body).json?["JobID"]?.stringValue)
            let done = try await waitTerminal(running, id)
            #expect(done["Job"]?["State"]?["StateType"] == "Failed")
            let execution = done["Executions"]?["Items"]?.listValue?.first
            #expect(execution?["ComputeState"]?["StateType"] == 10)
            #expect(execution?["RunOutput"]?["ExitCode"] == 3)
            #expect(execution?["RunOutput"]?["stderr"] == "broken\n")
            let history = try await raw("GET", api(running, "/jobs/\(id)/history?event_type=execution"))
            let items = history.json?["Items"]?.listValue ?? []
            #expect(items.allSatisfy { $0["Type"] == "ExecutionLevel" })
            #expect(items.contains { $0["Event"]?["Details"]?["ErrorCode"] != nil })
            #expect(try await raw("GET", api(running, "/jobs/\(id)/history?event_type=bogus")).status == 400)

            // An engine no node supports fails at once with "not enough nodes" (QueueTimeout 0).
            let docker = #"{"Job":{"Name":"docker","Type":"batch","Tasks":[{"Name":"main","Engine":{"Type":"docker","Params":{"Image":"ubuntu"}}}]}}"#
            let dockerID = try #require(try await raw("PUT", api(running, "/jobs"), body: docker).json?["JobID"]?.stringValue)
            let failed = try await waitTerminal(running, dockerID)
            #expect(failed["Job"]?["State"]?["Message"]?.stringValue?.contains("not enough nodes") == true)
        }
    }

    @Test func resultsAndListing() async throws {
        try await withEmulator { running in
            for index in 0..<5 {
                let body = #"{"Job":{"Name":"r\#(index)","Type":"batch","Labels":{"wf":"w1","i":"\#(index)"},"Tasks":[{"Name":"main","Engine":{"Type":"noop"},"Publisher":{"Type":"local"},"ResultPaths":[{"Name":"out","Path":"/outputs"}]}]}}"#
                #expect(try await raw("PUT", api(running, "/jobs"), body: body).status == 200)
            }
            let id = try #require(try await raw("GET", api(running, "/jobs/r0")).json?["Job"]?["ID"]?.stringValue)
            _ = try await waitTerminal(running, id)
            let results = try await raw("GET", api(running, "/jobs/\(id)/results"))
            let item = results.json?["Items"]?.listValue?.first
            #expect(item?["Type"] == "urlDownload")
            #expect(item?["Params"]?["URL"]?.stringValue?.hasSuffix(".tar.gz") == true)

            let all = try await raw("GET", api(running, "/jobs?labels=wf%3Dw1"))
            #expect(all.json?["Items"]?.listValue?.count == 5)
            let some = try await raw("GET", api(running, "/jobs?labels=i%20in%20(1,2)"))
            #expect(some.json?["Items"]?.listValue?.count == 2)
            let first = try await raw("GET", api(running, "/jobs?limit=2"))
            #expect(first.json?["Items"]?.listValue?.count == 2)
            let token = try #require(first.json?["NextToken"]?.stringValue)
            let second = try await raw("GET", api(running, "/jobs?limit=10&next_token=\(token)"))
            #expect(second.json?["Items"]?.listValue?.count == 3)
            #expect(second.json?["NextToken"] == "")
            #expect(try await raw("GET", api(running, "/jobs?next_token=garbage")).status == 400)
            #expect(try await raw("GET", api(running, "/jobs?namespace=elsewhere")).json?["Items"]?.listValue?.count == 0)
            #expect(try await raw("GET", api(running, "/jobs?namespace=*")).json?["Items"]?.listValue?.count == 5)
        }
    }

    @Test func authModes() async throws {
        try await withEmulator({
            $0.auth = [.init(kind: .token("writer-token-0123456789")), .init(kind: .basic(user: "ann", password: "pw")),
                       .init(kind: .token("reader-token-0123456789"), canWrite: false)]
        }) { running in
            #expect(try await raw("GET", api(running, "/jobs")).status == 401)
            let bad = try await raw("GET", api(running, "/jobs"), headers: ["Authorization": "Bearer wrong"])
            #expect(bad.status == 401)
            #expect(bad.json?["Code"] == "Unauthorized")
            #expect(try await raw("GET", api(running, "/jobs"), headers: ["Authorization": "Bearer writer-token-0123456789"]).status == 200)
            let basic = "Basic " + Data("ann:pw".utf8).base64EncodedString()
            #expect(try await raw("GET", api(running, "/jobs"), headers: ["Authorization": basic]).status == 200)
            let reader = ["Authorization": "Bearer reader-token-0123456789"]
            #expect(try await raw("GET", api(running, "/jobs"), headers: reader).status == 200)
            let write = try await raw("PUT", api(running, "/jobs"), body: Self.echoJob, headers: reader)
            #expect(write.status == 403)
            #expect(write.json?["Details"]?["reason"]?.stringValue?.contains("write:job") == true)
            // Health and version stay open.
            #expect(try await raw("GET", running.endpoint + "/api/v1/agent/alive").json?["Status"] == "OK")
            #expect(try await raw("GET", running.endpoint + "/api/v1/agent/version").status == 200)
        }
    }

    @Test func clientVersionHeader() async throws {
        try await withEmulator { running in
            let bad = try await raw("GET", api(running, "/jobs"), headers: ["X-Bacalhau-Git-Version": "banana"])
            #expect(bad.status == 400)
            #expect(bad.json?["Error"] != nil)
            let old = try await raw("GET", api(running, "/jobs"), headers: ["X-Bacalhau-Git-Version": "v1.3.2"])
            #expect(old.status == 403)
            #expect(old.json?["MinVersion"] == "v1.4.0")
            #expect(try await raw("GET", api(running, "/jobs"), headers: ["X-Bacalhau-Git-Version": "v1.9.3"]).status == 200)
        }
    }

    @Test func rateLimit() async throws {
        try await withEmulator({ $0.rateLimit = 1 }) { running in
            let url = api(running, "/jobs")
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 { group.addTask { try await raw("GET", url).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.contains(429))
            #expect(statuses.contains(200))
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 })
        }
    }

    @Test func stateFileKeepsJobsAcrossARestart() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("emulator-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let id = try await withEmulator({ $0.stateFile = file }) { running in
            let id = try #require(try await raw("PUT", api(running, "/jobs"), body: Self.echoJob).json?["JobID"]?.stringValue)
            _ = try await waitTerminal(running, id)
            return id
        }
        try await withEmulator({ $0.stateFile = file }) { running in
            let job = try await raw("GET", api(running, "/jobs/hello?include=executions"))
            #expect(job.json?["Job"]?["ID"]?.stringValue == id)
            #expect(job.json?["Job"]?["State"]?["StateType"] == "Completed")
            #expect(job.json?["Executions"]?["Items"]?.listValue?.first?["RunOutput"]?["Stdout"] == "hi\n")
            let same = try await raw("PUT", api(running, "/jobs"), body: Self.echoJob)
            #expect(same.status == 500)  // still there: no changes detected
        }
    }

    @Test func configurationParsing() throws {
        let config = try EmulatorConfiguration.parse(["--port", "0", "--fail-rate", "0.33", "--drop-rate=0.1", "--delay-ms", "5",
                                                      "--state", "/tmp/s.jsonl", "--auth", "token:XYZ", "--auth", "basic:u:p:w",
                                                      "--rate-limit", "0", "--seed", "7"])
        #expect(config.port == 0)
        #expect(config.failRate == 0.33)
        #expect(config.dropRate == 0.1)
        #expect(config.delayMilliseconds == 5)
        #expect(config.stateFile == "/tmp/s.jsonl")
        #expect(config.auth == [.init(kind: .token("XYZ")), .init(kind: .basic(user: "u", password: "p:w"))])
        #expect(config.rateLimit == 0)
        #expect(config.seed == 7)
        #expect(throws: EmulatorUsageError.self) { try EmulatorConfiguration.parse(["--fail-rate", "2"]) }
        #expect(throws: EmulatorUsageError.self) { try EmulatorConfiguration.parse(["--auth", "magic"]) }
        #expect(throws: EmulatorUsageError.self) { try EmulatorConfiguration.parse(["--what"]) }
    }
}
