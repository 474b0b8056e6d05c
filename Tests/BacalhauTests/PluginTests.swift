import BacalhauEmulatorKit
import Engine
import Foundation
import Bacalhau
import Synchronization
import Testing

/// The `bacalhau` plugin end to end against the emulator.
@Suite(.timeLimit(.minutes(5))) struct PluginTests {
    @Test func aCompletedJobEmitsAResultWithItsDetails() async throws {
        try await withEmulator { running in
            let plugin = try plugin(running, runID: "run-77")
            let spec = processSpec(name: "greet", program: "sh", ["-c", "echo out; echo err >&2"],
                                   task: [("Publisher", .map(Record([("Type", "local")]))),
                                          ("ResultPaths", [.map(Record([("Name", "out"), ("Path", "/outputs")]))])])
            let results = try await runJob(plugin, job(spec, input: Record([("name", "a.zip"), ("path", "/in/a.zip")])))
            let result = try #require(results.first)
            #expect(results.count == 1)
            #expect(result.state == .completed)
            let record = result.record
            #expect(record["name"] == "greet")
            #expect(record["state"] == "Completed")
            #expect(record["id"]?.stringValue?.hasPrefix("j-") == true)
            #expect(record["executor"] == "bacalhau")
            #expect(record["exit_code"] == 0)
            #expect(record["stdout"] == "out\n")
            #expect(record["stderr"] == "err\n")
            #expect(record["submission"] == "created")
            #expect(record["namespace"] == "default")
            #expect(record["endpoint"]?.stringValue == running.endpoint)
            #expect((record["duration"]?.doubleValue ?? -1) >= 0)
            #expect(record["executions"]?.listValue?.count == 1)
            #expect(record["executions"]?.listValue?.first?["state"] == "Completed")
            #expect(record["results"]?.listValue?.first?["Type"] == "urlDownload")
            #expect(record["outputs"]?.listValue?.first?.stringValue?.hasSuffix(".tar.gz") == true)
            #expect(record["record"]?["path"] == "/in/a.zip")  // the input, for the next template
            let stdoutPath = try #require(record["stdout_path"]?.stringValue)
            #expect((try? String(contentsOfFile: stdoutPath, encoding: .utf8)) == "out\n")
            let fields = try #require(BacalhauPlugin.spec.outputFields)
            #expect(!fields.isEmpty)
            for field in fields { #expect(record[field] != nil, "missing \(field)") }

            let stored = try #require(await running.emulator.jobs().first)
            #expect(stored.labels["hypha-workflow"] == "wf-test")
            #expect(stored.labels["hypha-node"] == "cluster")
            #expect(stored.labels["hypha-run"] == "run-77")
        }
    }

    @Test func theNameComesFromTheJobAndCountIsAlwaysSent() async throws {
        try await withEmulator { running in
            let plugin = try plugin(running)
            var spec = processSpec(name: nil, program: "true")
            spec["Count"] = nil
            _ = try await runJob(plugin, job(spec, name: "wf-extract-abc123"))
            let stored = try #require(await running.emulator.jobs().first)
            #expect(stored.name == "wf-extract-abc123")
            let api = try client(running)
            let info = try #require(try await api.job("wf-extract-abc123"))
            #expect(info.name == "wf-extract-abc123")
        }
    }

    @Test func aResubmissionAfterACrashFollowsTheJobAlreadyThere() async throws {
        try await withEmulator { running in
            let spec = processSpec(name: "resumable", program: "echo", ["x"])
            let first = try await runJob(try plugin(running, runID: "run-1"), job(spec))
            // A new process (another run ID, so another label) submits the same job again.
            let second = try await runJob(try plugin(running, runID: "run-2"), job(spec))
            #expect(first.first?.record["id"] == second.first?.record["id"])
            #expect(second.first?.record["submission"] == "adopted")
            #expect(second.first?.record["stdout"] == "x\n")
            #expect(await running.emulator.jobs().count == 1)
        }
    }

    @Test func aChangedSpecUnderTheSameNameIsUpdatedNotAdopted() async throws {
        try await withEmulator { running in
            let first = try await runJob(try plugin(running, runID: "run-1"),
                                         job(processSpec(name: "same", program: "echo", ["one"])))
            let second = try await runJob(try plugin(running, runID: "run-2"),
                                          job(processSpec(name: "same", program: "echo", ["two"])))
            #expect(first.first?.record["submission"] == "created")
            #expect(second.first?.record["submission"] == "updated")
            #expect(second.first?.record["stdout"] == "two\n")
            #expect(first.first?.record["id"] == second.first?.record["id"])
            let jobs = await running.emulator.jobs()
            #expect(jobs.count == 1)
            #expect(jobs.first?.version == 2)
        }
    }

    @Test func environmentEndpointKeyAndNamespace() async throws {
        let key = "team-key-0123456789abcdef"
        try await withEmulator({ $0.auth = [.init(kind: .token(key))] }) { running in
            let environment = ["BACALHAU_API_HOST": "127.0.0.1", "BACALHAU_API_PORT": String(running.port),
                               "TEAM_KEY": key]
            let options: [String: Value] = ["poll_interval": 0.02, "api_key": "env:TEAM_KEY", "namespace": "team"]
            let plugin = try BacalhauPlugin(node: try node(options), context: context(), environment: environment,
                                            retry: fastRetry)
            let first = try await runJob(plugin, job(noopSpec(name: "ns-job")))
            #expect(first.first?.record["namespace"] == "team")
            let again = try await runJob(plugin, job(noopSpec(name: "ns-job")))
            #expect(again.first?.record["submission"] == "adopted")
            let jobs = await running.emulator.jobs()
            #expect(jobs.count == 1)
            #expect(jobs.first?.namespace == "team")
            #expect(throws: Diagnostic.self) {
                try BacalhauPlugin(node: try node(["api_key": "env:UNSET_KEY"]), context: context(), environment: environment)
            }
        }
    }

    @Test func aFailedJobFailsTheMessageWithTheReason() async throws {
        try await withEmulator { running in
            let plugin = try plugin(running)
            let spec = processSpec(name: "broken", program: "sh", ["-c", "echo 'no such table' >&2; exit 4"])
            do {
                _ = try await runJob(plugin, job(spec))
                Issue.record("expected an error")
            } catch let error as BacalhauError {
                let text = error.description
                #expect(text.contains("job 'broken'"))
                #expect(text.contains("j-"))
                #expect(text.contains("exit status 4") || text.contains("code 4"), "\(text)")
                #expect(text.contains("no such table"), "\(text)")
            }
        }
    }

    @Test func aNonZeroExitInACompletedJobStillFails() async throws {
        try await withEmulator({ $0.nonZeroExit = .completed }) { running in
            let plugin = try plugin(running)
            do {
                _ = try await runJob(plugin, job(processSpec(name: "exit2", program: "sh", ["-c", "exit 2"])))
                Issue.record("expected an error")
            } catch let error as BacalhauError {
                #expect(error.description.contains("exited with code 2"), "\(error)")
            }
            #expect(await running.emulator.jobs().first?.state == "Completed")
        }
    }

    @Test func anUnschedulableJobFailsWithNotEnoughNodes() async throws {
        try await withEmulator { running in
            let plugin = try plugin(running)
            let spec = Record([("Name", "dock"), ("Type", "batch"), ("Count", 1),
                               ("Tasks", [.map(Record([("Name", "m"), ("Engine", .map(Record([("Type", "docker"),
                                   ("Params", .map(Record([("Image", "ubuntu:22.04")])))])))]))])])
            let error = await #expect(throws: BacalhauError.self) { try await runJob(plugin, job(spec)) }
            #expect(error.map { "\($0)" }?.contains("not enough nodes") == true, "\(String(describing: error))")
            do {
                _ = try await runJob(plugin, job(spec))
                Issue.record("an unschedulable job ran the second time")
            } catch {
                #expect("\(error)".contains("not enough nodes"), "\(error)")
            }
        }
    }

    @Test func anInvalidSpecIsRefusedWithoutARequest() async throws {
        try await withEmulator { running in
            let plugin = try plugin(running)
            var spec = processSpec(name: "invalid", program: "echo",
                                   task: [("Env", .map(Record([("lower", "x")]))),
                                          ("ResultPaths", [.map(Record([("Name", "o"), ("Path", "out")]))])])
            spec["Type"] = "Batch"
            do {
                _ = try await runJob(plugin, job(spec))
                Issue.record("expected an error")
            } catch let error as BacalhauError {
                guard case .invalidSpec(let name, let problems) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(name == "invalid")
                #expect(problems.count == 4, "\(problems)")
            }
            let stats = Dictionary(await running.emulator.stats(), uniquingKeysWith: { $1 })
            #expect(stats["Requests"] == 0)
        }
    }

    @Test func jobTimeoutStopsTheJob() async throws {
        try await withEmulator { running in
            let plugin = try plugin(running, options: ["job_timeout": 0.3])
            do {
                _ = try await runJob(plugin, job(processSpec(name: "slow", program: "sleep", ["30"])))
                Issue.record("expected an error")
            } catch let error as BacalhauError {
                guard case .jobTimedOut = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
            }
            // The job (sleep 30) was stopped, not waited out: without the timeout it would end
            // Completed, with no jobTimedOut. (No wall-clock bound: a busy machine stretches it.)
            #expect(await running.emulator.jobs().first?.state == "Stopped")
        }
    }

    @Test func cancellationStopsTheJobsThisRunSubmitted() async throws {
        try await withEmulator { running in
            let plugin = try plugin(running)
            let task = Task { try await runJob(plugin, job(processSpec(name: "long", program: "sleep", ["30"]))) }
            for _ in 0..<300 {
                if await running.emulator.jobs().first?.state == "Running" { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            task.cancel()
            let outcome = await task.result
            #expect(throws: BacalhauError.self) { try outcome.get() }
            #expect(await running.emulator.jobs().first?.state == "Stopped")
            let api = try client(running)
            let history = try await api.history("long")
            #expect(history.contains { $0["Event"]?["Details"]?["Reason"]?.stringValue?.contains("run-1") == true })
        }
    }

    @Test func withoutStopOnExitACancelledJobKeepsRunning() async throws {
        try await withEmulator { running in
            let plugin = try plugin(running, options: ["stop_on_exit": false])
            let task = Task { try await runJob(plugin, job(processSpec(name: "left", program: "sleep", ["30"]))) }
            for _ in 0..<300 {
                if await running.emulator.jobs().first?.state == "Running" { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            task.cancel()
            _ = await task.result
            #expect(await running.emulator.jobs().first?.state == "Running")
            try await plugin.finish()
            #expect(await running.emulator.jobs().first?.state == "Running")
        }
    }

    @Test func manyJobsUnderFaultsEachRunExactlyOnce() async throws {
        try await withEmulator({
            $0.failRate = 0.2
            $0.dropRate = 0.15
            $0.seed = 7
        }) { running in
            let plugin = try plugin(running, options: ["max_in_flight": 8])
            let names = (0..<16).map { "chaos-\($0)" }
            let results = try await withThrowingTaskGroup(of: [JobResult].self) { group in
                for name in names {
                    group.addTask { try await runJob(plugin, job(processSpec(name: name, program: "echo", [name]))) }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(results.count == 16)
            for result in results { #expect(result.record["stdout"]?.stringValue == result.job.name + "\n") }
            let jobs = await running.emulator.jobs()
            #expect(jobs.count == 16)
            #expect(Set(jobs.map(\.name)) == Set(names))
            #expect(jobs.allSatisfy { $0.version == 1 && $0.executions == 1 })
        }
    }

    @Test func credentialsNeverReachLogsOrErrors() async throws {
        let secret = "leaky-secret-key-0123456789"
        let deadPort = try await withEmulator { $0.port }
        try await withEmulator({ $0.auth = [.init(kind: .token("the-real-key-0123456789"))] }) { running in
            let sink = LogSink()
            var texts: [String] = []
            // A wrong key: 401.
            let keyed = try plugin(running, options: ["api_key": .string(secret)], logger: sink.logger)
            do {
                _ = try await runJob(keyed, job(noopSpec(name: "denied")))
                Issue.record("expected an error")
            } catch {
                texts.append("\(error)")
            }
            // A bad spec.
            do {
                _ = try await runJob(keyed, job(Record([("Name", "x")])))
                Issue.record("expected an error")
            } catch {
                texts.append("\(error)")
            }
            // Nothing listening.
            let unreachable = try plugin(running, options: ["api_key": .string(secret),
                                                            "endpoint": .string("http://127.0.0.1:\(deadPort)")],
                                         logger: sink.logger, retry: RetryPolicy(maxAttempts: 2, initialDelay: 0.001, maxDelay: 0.001))
            do {
                _ = try await runJob(unreachable, job(noopSpec(name: "nowhere")))
                Issue.record("expected an error")
            } catch {
                texts.append("\(error)")
            }
            // A password in the endpoint URL: refused when the URL is bad, sent as Basic otherwise.
            do {
                _ = try plugin(running, options: ["endpoint": .string("ftp://u:\(secret)@h")])
                Issue.record("expected an error")
            } catch {
                texts.append("\(error)")
            }
            let userinfo = try plugin(running, options: ["endpoint": .string("http://u:\(secret)@127.0.0.1:\(running.port)")],
                                      logger: sink.logger)
            do {
                _ = try await runJob(userinfo, job(noopSpec(name: "denied-basic")))
                Issue.record("expected an error")
            } catch {
                texts.append("\(error)")
            }
            var dumped = ""
            dump(keyed, to: &dumped)
            texts += [sink.all, dumped, "\(keyed)", "\(userinfo)"]
            #expect(texts.count == 9)
            for text in texts { #expect(!text.contains(secret), "leaked in: \(text)") }
        }
    }
}
