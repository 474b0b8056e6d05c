import BacalhauEmulatorKit
import Engine
import Foundation
import Bacalhau
import Testing

/// BacalhauClient against the emulator: idempotent submission, retries, auth, errors.
@Suite(.timeLimit(.minutes(5))) struct ClientTests {
    @Test func ensureSubmittedCreatesThenAdopts() async throws {
        try await withEmulator { running in
            let api = try client(running)
            let spec = noopSpec(name: "once")
            let first = try await api.ensureSubmitted(spec)
            #expect(first.kind == .created)
            #expect(first.puts == 1)
            // One request for a new job: no lookup before the PUT.
            #expect(Dictionary(uniqueKeysWithValues: await running.emulator.stats())["Requests"] == 1)
            let second = try await api.ensureSubmitted(spec)
            #expect(second.kind == .adopted)
            #expect(second.jobID == first.jobID)
            #expect(second.puts == 1)  // "no changes detected", then the lookup
            #expect(await running.emulator.jobs().count == 1)
            let stats = Dictionary(uniqueKeysWithValues: await running.emulator.stats())
            #expect(stats["Created"] == 1)
            #expect(stats["Unchanged"] == 1)
            #expect(stats["Updated"] == 0)
        }
    }

    @Test func aFailedJobIsRerunAsANewVersionOfTheSameJob() async throws {
        try await withEmulator { running in
            let api = try client(running)
            let spec = processSpec(name: "flaky", program: "false")
            let first = try await api.ensureSubmitted(spec)
            var info = try await api.job(first.jobID)
            for _ in 0..<300 where info?.isTerminal != true {
                try await Task.sleep(for: .milliseconds(10))
                info = try await api.job(first.jobID)
            }
            #expect(info?.state == "Failed")
            let again = try await api.ensureSubmitted(spec)
            #expect(again.kind == .rerun)
            #expect(again.jobID == first.jobID)
            let jobs = await running.emulator.jobs()
            #expect(jobs.count == 1)
            #expect(jobs.first?.version == 2)
        }
    }

    @Test func racingSubmissionsOfOneNameMakeOneJob() async throws {
        try await withEmulator { running in
            let api = try client(running)
            let spec = noopSpec(name: "raced")
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<8 { group.addTask { try await api.ensureSubmitted(spec).jobID } }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
            #expect(await running.emulator.jobs().count == 1)
        }
    }

    @Test func injectedFaultsNeverLoseOrDuplicateAJob() async throws {
        try await withEmulator({
            $0.failRate = 0.25
            $0.dropRate = 0.2
            $0.seed = 42
        }) { running in
            let api = try client(running)
            let names = (0..<40).map { "faulty-\($0)" }
            let submissions = try await withThrowingTaskGroup(of: BacalhauClient.Submission.self) { group in
                for name in names { group.addTask { try await api.ensureSubmitted(noopSpec(name: name)) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(submissions.count == 40)
            let jobs = await running.emulator.jobs()
            #expect(jobs.count == 40)
            #expect(Set(jobs.map(\.name)) == Set(names))
            #expect(Set(submissions.map(\.jobID)) == Set(jobs.map(\.id)))
            let stats = Dictionary(await running.emulator.stats(), uniquingKeysWith: { $1 })
            #expect(stats["Created"] == 40)
            #expect(stats["Updated"] == 0)
            // The faults really happened, including answers lost after the job was made.
            #expect((stats["InjectedFailures"] ?? 0) > 0)
            #expect((stats["DroppedAfter"] ?? 0) > 0)
            #expect((stats["DroppedBefore"] ?? 0) > 0)
        }
    }

    @Test func transientFailuresPastTheBudgetAreReportedNotRetriedForever() async throws {
        try await withEmulator({ $0.failRate = 1 }) { running in
            let api = try client(running, retry: RetryPolicy(maxAttempts: 3, initialDelay: 0.001, maxDelay: 0.002))
            do {
                _ = try await api.ensureSubmitted(noopSpec(name: "never"))
                Issue.record("expected an error")
            } catch let error as BacalhauError {
                guard case .unavailable(_, let attempts, _) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(attempts == 3)
                #expect(error.description.contains("did not answer usefully after 3 attempts"))
            }
            #expect(await running.emulator.jobs().isEmpty)
        }
    }

    @Test func refusedConnectionsAreRetriedThenReported() async throws {
        // A port bound but not listening: connections to it are refused for as long as it is
        // held. (A stopped emulator's port could still be closing, or be taken again.)
        let held = try BoundPort()
        defer { held.release() }
        let (endpoint, _) = try BacalhauEndpoint.parse("http://127.0.0.1:\(held.port)")
        let api = BacalhauClient(endpoint: endpoint, retry: RetryPolicy(maxAttempts: 3, initialDelay: 0.001, maxDelay: 0.002))
        do {
            _ = try await api.job("x")
            Issue.record("expected an error")
        } catch let error as BacalhauError {
            guard case .unavailable(_, let attempts, let problem) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(attempts == 3)
            #expect(problem.contains("connection refused") || problem.contains("network"), "\(problem)")
        }
    }

    @Test func aRejectedSpecIsNotRetried() async throws {
        try await withEmulator { running in
            let api = try client(running)
            var spec = noopSpec(name: "bad")
            spec["Type"] = "nonsense"  // the server's own validation (the plugin would catch it first)
            do {
                _ = try await api.ensureSubmitted(spec)
                Issue.record("expected an error")
            } catch let error as BacalhauError {
                guard case .rejected(_, let status, let message) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(status == 400)
                #expect(message.contains("invalid job type"))
            }
            let stats = Dictionary(await running.emulator.stats(), uniquingKeysWith: { $1 })
            #expect(stats["Submissions"] == 1)
        }
    }

    @Test func authenticationFailsFastWithoutLeakingTheKey() async throws {
        let good = "good-key-0123456789abcdef"
        let wrong = "wrong-key-0123456789abcdef"
        try await withEmulator({
            $0.auth = [.init(kind: .token(good)), .init(kind: .token("reader-key-0123456789"), canWrite: false)]
        }) { running in
            let bad = try client(running, credentials: .bearer(wrong))
            do {
                _ = try await bad.ensureSubmitted(noopSpec(name: "a"))
                Issue.record("expected an error")
            } catch let error as BacalhauError {
                guard case .unauthorized(401, _, _) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(!error.description.contains(wrong))
                #expect(error.description.contains("BACALHAU_API_KEY"))
            }
            let stats = Dictionary(await running.emulator.stats(), uniquingKeysWith: { $1 })
            #expect(stats["Unauthorized"] == 1)  // no retry

            let reader = try client(running, credentials: .bearer("reader-key-0123456789"))
            do {
                _ = try await reader.put(noopSpec(name: "b"))
                Issue.record("expected an error")
            } catch let error as BacalhauError {
                guard case .unauthorized(403, _, _) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(error.description.contains("write:job"))
            }
            let writer = try client(running, credentials: .bearer(good))
            #expect(try await writer.ensureSubmitted(noopSpec(name: "c")).kind == .created)
            let basicless = try client(running)
            await #expect(throws: BacalhauError.self) { try await basicless.job("c") }
        }
    }

    @Test func basicAuthFromTheEnvironment() async throws {
        try await withEmulator({ $0.auth = [.init(kind: .basic(user: "ann", password: "pa55-word"))] }) { running in
            let credentials = try BacalhauCredentials.resolve(
                apiKey: nil, environment: ["BACALHAU_API_USERNAME": "ann", "BACALHAU_API_PASSWORD": "pa55-word"],
                fromEndpoint: .none)
            let api = try client(running, credentials: credentials)
            #expect(try await api.ensureSubmitted(noopSpec(name: "basic")).kind == .created)
        }
    }

    @Test func stopOutcomes() async throws {
        try await withEmulator { running in
            let api = try client(running)
            let sleeper = try await api.ensureSubmitted(processSpec(name: "sleeper", program: "sleep", ["30"]))
            #expect(try await api.stop(sleeper.jobID, reason: "enough") == .stopping)
            #expect(try await api.stop(sleeper.jobID, reason: "enough") == .alreadyStopped)
            #expect(try await api.stop("nobody", reason: "x") == .notFound)
            let quick = try await api.ensureSubmitted(noopSpec(name: "quick"))
            var info = try await api.job(quick.jobID)
            for _ in 0..<200 where info?.isTerminal != true {
                try await Task.sleep(for: .milliseconds(5))
                info = try await api.job(quick.jobID)
            }
            #expect(try await api.stop(quick.jobID, reason: "late") == .alreadyFinished)
            let history = try await api.history(sleeper.jobID)
            #expect(history.contains { $0["Event"]?["Details"]?["Reason"] == "enough" })
        }
    }

    /// Cancelling requests at any moment, completions included, never hangs (FoundationNetworking's
    /// own async API can deadlock there; the transport cancels from a Dispatch queue instead).
    @Test func cancellingRequestsMidFlightNeverHangs() async throws {
        try await withEmulator { running in
            let api = try client(running)
            _ = try await api.ensureSubmitted(noopSpec(name: "target"))
            for round in 0..<60 {
                let task = Task {
                    while !Task.isCancelled { _ = try await api.job("target") }
                }
                try await Task.sleep(for: .microseconds(200 * (round % 10)))
                task.cancel()
                _ = await task.result
            }
            #expect(try await api.job("target") != nil)
        }
    }

    @Test func listingByLabels() async throws {
        try await withEmulator { running in
            let api = try client(running)
            for index in 0..<3 {
                var spec = noopSpec(name: "l\(index)")
                spec["Labels"] = .map(Record([("hypha-run", .string(index < 2 ? "r1" : "r2"))]))
                _ = try await api.ensureSubmitted(spec)
            }
            #expect(try await api.list(labels: ["hypha-run=r1"]).count == 2)
            #expect(try await api.list().count == 3)
            #expect(await api.isAlive())
        }
    }
}
