import BacalhauEmulatorKit
import Foundation
import Testing

/// `hypha run workflows/extract-aggregate.yml --profile cluster --once` against the emulator:
/// every zip ends with exactly one extract job and one aggregate job, and reports equal to
/// those of the local `process` executor. Skips cleanly without the built `hypha` or python3.
@Suite(.serialized, .timeLimit(.minutes(5)),
       .enabled(if: builtProduct("hypha") != nil, "no built hypha: swift build --product hypha (./test.sh does) first"),
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "no /usr/bin/python3 for the job scripts"))
struct EndToEndTests {
    struct Setup {
        var hypha: String
        var folder: URL
        var inbox: String
        var zips: [String]
    }

    static func setUp(zips count: Int, tricky: Bool) async throws -> Setup? {
        guard let hypha = builtProduct("hypha"), FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            return nil
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-e2e-\(UUID().uuidString)")
        let inbox = folder.appendingPathComponent("inbox").path
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        var arguments = [repositoryRoot.appendingPathComponent("scripts/make_sample_zips.py").path, inbox,
                         "--count", "\(count)", "--rows", "20"]
        if tricky { arguments.append("--tricky-names") }
        let (status, _) = try await run("/usr/bin/python3", arguments, environment: [:])
        guard status == 0 else { throw CocoaError(.fileWriteUnknown) }
        let zips = try FileManager.default.contentsOfDirectory(atPath: inbox).filter { $0.hasSuffix(".zip") }.sorted()
        return Setup(hypha: hypha, folder: folder, inbox: inbox, zips: zips)
    }

    /// Starts a process; the task gives its exit status without blocking a thread of the
    /// cooperative pool (the handler is set before the process starts, so no exit is missed).
    static func start(_ process: Process) throws -> Task<Int32, Never> {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        process.terminationHandler = { finished in
            continuation.yield(finished.terminationStatus)
            continuation.finish()
        }
        try process.run()
        return Task {
            for await code in stream { return code }
            return -1
        }
    }

    /// Runs a program to the end; returns its status and combined output.
    static func run(_ program: String, _ arguments: [String], environment: [String: String]) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-e2e-out-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        let code = await (try start(process)).value
        try? handle.close()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: output)
        return (code, text)
    }

    /// `hypha run` with `--once`, in the background so the in-process emulator keeps serving.
    static func hypha(_ setup: Setup, work: String, profile: String?, endpoint: String,
                      stateDir: String? = nil) async throws -> (Int32, String) {
        var arguments = ["run", repositoryRoot.appendingPathComponent("workflows/extract-aggregate.yml").path, "--once",
                         "--no-progress", "--var", "inbox=\(setup.inbox)", "--var", "work=\(work)",
                         "--run-dir", work + "-run", "--state-dir", stateDir ?? work + "-state"]
        if let profile {
            arguments += ["--profile", profile, "--set", "extract.poll_interval=0.05", "--set", "aggregate.poll_interval=0.05"]
        }
        let hypha = setup.hypha
        let environment = ["BACALHAU_ENDPOINT": endpoint]
        return try await run(hypha, arguments, environment: environment)
    }

    static func reports(_ work: String) -> [String: String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: work)) ?? []
        var out: [String: String] = [:]
        for name in names {
            if let text = try? String(contentsOfFile: "\(work)/\(name)/report.json", encoding: .utf8) { out[name] = text }
        }
        return out
    }

    func check(zips: Int, tricky: Bool, faults: (inout EmulatorConfiguration) -> Void) async throws {
        let setup = try #require(try await Self.setUp(zips: zips, tricky: tricky))
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        let localWork = setup.folder.appendingPathComponent("local").path
        let clusterWork = setup.folder.appendingPathComponent("cluster").path

        let (localStatus, localOutput) = try await Self.hypha(setup, work: localWork, profile: nil, endpoint: "unused")
        #expect(localStatus == 0, "\(localOutput)")

        try await withEmulator(faults) { running in
            let (status, output) = try await Self.hypha(setup, work: clusterWork, profile: "cluster", endpoint: running.endpoint)
            #expect(status == 0, "\(output)")

            let jobs = await running.emulator.jobs()
            let extracts = jobs.filter { $0.labels["hypha-node"] == "extract" }
            let aggregates = jobs.filter { $0.labels["hypha-node"] == "aggregate" }
            #expect(extracts.count == setup.zips.count, "\(jobs.map(\.name))")
            #expect(aggregates.count == setup.zips.count, "\(jobs.map(\.name))")
            #expect(jobs.count == 2 * setup.zips.count)
            #expect(Set(jobs.map(\.name)).count == jobs.count)
            #expect(jobs.allSatisfy { $0.state == "Completed" && $0.version == 1 && $0.executions == 1 }, "\(jobs)")
            #expect(Set(jobs.compactMap { $0.labels["hypha-workflow"] }) == ["extract-aggregate"])
            #expect(Set(jobs.compactMap { $0.labels["hypha-run"] }).count == 1)  // one run submitted them all
        }
        let local = Self.reports(localWork), cluster = Self.reports(clusterWork)
        #expect(local.count == setup.zips.count)
        #expect(cluster == local)
    }

    @Test func theChainedWorkflowRunsOnTheEmulator() async throws {
        try await check(zips: 3, tricky: false) { _ in }
    }

    @Test func theChainedWorkflowSurvivesInjectedFaults() async throws {
        try await check(zips: 4, tricky: true) {
            $0.failRate = 0.2
            $0.dropRate = 0.15
            $0.delayMilliseconds = 2
            $0.seed = 2024
        }
    }

    /// A second run of the same inbox that has lost its state (a new state folder) finds every
    /// job already there: it creates, updates and reruns nothing, and the reports are still
    /// there. The first run sent one PUT per job; the second, which found jobs of its nodes
    /// there, looked each up and sent none.
    @Test func aSecondRunAdoptsTheJobsOfTheFirst() async throws {
        let setup = try #require(try await Self.setUp(zips: 2, tricky: false))
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        try await withEmulator { running in
            let work = setup.folder.appendingPathComponent("cluster").path
            for attempt in 1...2 {
                let (status, output) = try await Self.hypha(setup, work: work, profile: "cluster", endpoint: running.endpoint,
                                                            stateDir: work + "-state-\(attempt)")
                #expect(status == 0, "\(output)")
                #expect(Self.reports(work).count == setup.zips.count)
            }
            let jobs = await running.emulator.jobs()
            #expect(jobs.filter { $0.labels["hypha-node"] == "extract" }.count == setup.zips.count)
            #expect(jobs.filter { $0.labels["hypha-node"] == "aggregate" }.count == setup.zips.count)
            #expect(jobs.allSatisfy { $0.version == 1 && $0.executions == 1 }, "\(jobs)")
            let stats = Dictionary(await running.emulator.stats(), uniquingKeysWith: { $1 })
            #expect(stats["Created"] == 2 * setup.zips.count)
            #expect(stats["Updated"] == 0)
            #expect(stats["Submissions"] == 2 * setup.zips.count)
            #expect(stats["Unchanged"] == 0)
            #expect(Set(jobs.compactMap { $0.labels["hypha-run"] }).count == 1)  // still the first run's
        }
    }

    /// Ctrl-C on a run whose job is still running on the cluster: the job is stopped, with a
    /// reason naming the run (`stop_on_exit`, the default).
    @Test func interruptingARunStopsItsJobs() async throws {
        let hypha = try #require(builtProduct("hypha"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-sigint-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        for sub in ["inbox", "jobstore"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try "x".write(to: folder.appendingPathComponent("inbox/one.txt"), atomically: true, encoding: .utf8)
        try """
            Type: batch
            Count: 1
            Tasks:
              - Name: slow
                Engine: {Type: process, Params: {Name: sleep, Arguments: ["30"]}}
            """.write(to: folder.appendingPathComponent("jobstore/slow.yml"), atomically: true, encoding: .utf8)
        try await withEmulator { running in
            try """
                name: slow-cluster
                jobstore: jobstore
                nodes:
                  files: {plugin: file-watch, path: inbox, pattern: "*.txt"}
                  decode: {plugin: arrow-decode, from: files}
                  spec: {plugin: template, from: decode, job: slow}
                  run: {plugin: bacalhau, from: spec, endpoint: "\(running.endpoint)", poll_interval: 0.05}
                """.write(to: folder.appendingPathComponent("slow.yml"), atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: hypha)
            process.arguments = ["run", folder.appendingPathComponent("slow.yml").path, "--once", "--no-progress",
                                 "--grace", "0.2", "--run-dir", folder.appendingPathComponent("run").path,
                                 "--state-dir", folder.appendingPathComponent("state").path]
            let log = folder.appendingPathComponent("hypha.log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            defer { try? handle.close() }
            process.standardOutput = handle
            process.standardError = handle
            let status = try Self.start(process)
            var state = ""
            for _ in 0..<500 where state != "Running" {
                try await Task.sleep(for: .milliseconds(20))
                state = await running.emulator.jobs().first?.state ?? ""
            }
            #expect(state == "Running")
            process.interrupt()
            let exited = await status.value
            #expect(exited != 0, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            let job = try #require(await running.emulator.jobs().first)
            #expect(job.state == "Stopped")
            let history = try await client(running).history(job.id)
            #expect(history.contains { $0["Event"]?["Details"]?["Reason"]?.stringValue?.contains("shutting down") == true })
        }
    }
}
