import BacalhauEmulatorKit
import CorePlugins
import Engine
import Foundation
import Bacalhau
import Synchronization
import Testing

/// One job-log layout for every executor: a `process` job and a `bacalhau` job (on the
/// emulator) of the same run put their output at RUN/jobs/NAME.stdout.log and .stderr.log,
/// the path shape the README documents.
@Suite(.timeLimit(.minutes(5))) struct JobLogLayoutTests {
    @Test func processAndBacalhauJobsLogAtTheSamePathShape() async throws {
        let ctx = context(runID: "run-logs")
        let run = ctx.runDirectory
        defer { try? FileManager.default.removeItem(atPath: run) }
        let spec = { (name: String) in processSpec(name: name, program: "sh", ["-c", "echo out-\(name); echo err-\(name) >&2"]) }

        let local = try ProcessPlugin(node: WorkflowLoader(registry: PluginRegistry()).nodeConfig(ProcessPlugin.self, options: [:],
                                                                                               workflow: testWorkflow),
                                      context: ctx)
        let emitted = Mutex<[JobResult]>([])
        let output = Output { payload in if case .result(let r) = payload { emitted.withLock { $0.append(r) } } }
        try await local.process(job(spec("local-job")), output)

        try await withEmulator { running in
            var all: [String: Value] = ["endpoint": .string(running.endpoint), "poll_interval": 0.02]
            all["max_in_flight"] = 1
            let remote = try BacalhauPlugin(node: try node(all), context: ctx, environment: [:], retry: fastRetry)
            try await remote.process(job(spec("remote-job")), output)
        }

        let results = emitted.withLock { $0 }
        #expect(results.count == 2)
        for result in results {
            let name = result.job.name
            let record = result.record
            #expect(record["stdout_path"]?.stringValue == "\(run)/jobs/\(name).stdout.log", "\(record["executor"] ?? .null)")
            #expect(record["stderr_path"]?.stringValue == "\(run)/jobs/\(name).stderr.log", "\(record["executor"] ?? .null)")
            #expect((try? String(contentsOfFile: "\(run)/jobs/\(name).stdout.log", encoding: .utf8)) == "out-\(name)\n")
            #expect((try? String(contentsOfFile: "\(run)/jobs/\(name).stderr.log", encoding: .utf8)) == "err-\(name)\n")
            #expect(Set(record.names) == Set(record["executor"] == "process"
                                                 ? ProcessPlugin.spec.outputFields ?? [] : BacalhauPlugin.spec.outputFields ?? []))
        }
        #expect(Set(results.compactMap { $0.record["executor"]?.stringValue }) == ["process", "bacalhau"])
    }
}
