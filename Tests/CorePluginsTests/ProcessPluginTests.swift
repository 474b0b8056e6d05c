import Engine
import Foundation
@testable import CorePlugins
import Testing

@Suite(.timeLimit(.minutes(5))) struct ProcessPluginTests {
    func job(_ program: Value, _ args: [Value], engine: String = "process", env: Record = Record(), timeout: Int64? = nil) -> Job {
        var task = Record([("Name", "t"), ("Engine", .map(Record([("Type", .string(engine)),
            ("Params", .map(Record([("Name", program), ("Arguments", .list(args))])))])))])
        if !env.isEmpty { task["Env"] = .map(env) }
        if let timeout { task["Timeouts"] = .map(Record([("ExecutionTimeout", .int(timeout))])) }
        return Job(name: "job-1", spec: Record([("Type", "batch"), ("Count", 1), ("Tasks", .list([.map(task)]))]),
                   renderedBy: "spec", input: Record([("name", "a.zip")]))
    }

    func run(_ job: Job, grace: Double = 0.2) async throws -> [Payload] {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let plugin = try ProcessPlugin(node: try h.config("run", plugin: ProcessPlugin.self, options: ["grace_period": .float(grace)]),
                                       context: h.context())
        let out = Emitted()
        try await plugin.process(job, out.output)
        return out.all
    }

    @Test func runsWithoutAShellAndCapturesOutput() async throws {
        let out = try await run(job("sh", ["-c", "printf '%s|' \"$@\"; echo \"$GREETING\"; echo err >&2", "sh", "a b", "$(x);", "é"],
                                    env: Record([("GREETING", "hi")])))
        guard case .result(let result)? = out.first else { Issue.record("no result"); return }
        #expect(result.state == .completed)
        #expect(result.details["exit_code"] == .int(0))
        #expect(result.details["stdout"] == .string("a b|$(x);|é|hi\n"))
        #expect(result.details["stderr"] == .string("err\n"))
        #expect(result.record["record"]?["name"] == .string("a.zip"))
        let path = result.details["stdout_path"]?.stringValue ?? ""
        #expect(path.hasSuffix("/jobs/job-1.stdout.log"))
    }

    /// A log file is there as soon as the job writes, while it still runs, and a rerun of a job
    /// name replaces the earlier job's logs.
    @Test func logsAreNamedWhileTheJobRunsAndARerunReplacesThem() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let plugin = try ProcessPlugin(node: try h.config("run", plugin: ProcessPlugin.self, options: [:]), context: h.context())
        let stdoutPath = h.context().runDirectory + "/jobs/job-1.stdout.log"
        async let first: Void = plugin.process(job("sh", ["-c", "echo first; sleep 1"]), Emitted().output)
        var seenWhileRunning = false
        for _ in 0..<80 where !seenWhileRunning {
            try await Task.sleep(for: .milliseconds(10))
            seenWhileRunning = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) == "first\n"
        }
        try await first
        #expect(seenWhileRunning)
        let out = Emitted()
        try await plugin.process(job("sh", ["-c", "echo second; echo oops >&2"]), out.output)
        #expect(try String(contentsOfFile: stdoutPath, encoding: .utf8) == "second\n")
        guard case .result(let result)? = out.all.first else { Issue.record("no result"); return }
        let stderrPath = try #require(result.details["stderr_path"]?.stringValue)
        #expect(try String(contentsOfFile: stderrPath, encoding: .utf8) == "oops\n")
    }

    /// Output goes through a pipe into the log file: more than a pipe holds arrives whole, the
    /// tail is its end, and a stream the job never writes to gets no file (its path is null).
    @Test func largeOutputIsCopiedWholeAndASilentStreamHasNoFile() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let plugin = try ProcessPlugin(node: try h.config("run", plugin: ProcessPlugin.self, options: [:]), context: h.context())
        let out = Emitted()
        try await plugin.process(job("sh", ["-c", "head -c 300000 /dev/zero | tr '\\0' a; echo END"]), out.output)
        guard case .result(let result)? = out.all.first else { Issue.record("no result"); return }
        let stdoutPath = try #require(result.details["stdout_path"]?.stringValue)
        let attributes = try FileManager.default.attributesOfItem(atPath: stdoutPath)
        #expect((attributes[.size] as? NSNumber)?.intValue == 300_004)
        #expect(result.details["stdout"]?.stringValue?.hasSuffix("aaaaEND\n") == true)
        #expect(result.details["stdout"]?.stringValue?.utf8.count == 4096)
        #expect(result.details["stderr_path"] == .null)
        #expect(result.details["stderr"] == "")
        #expect(!FileManager.default.fileExists(atPath: stdoutPath.replacingOccurrences(of: ".stdout.log", with: ".stderr.log")))
    }

    /// A job that cannot start (its working folder is missing) fails clearly and leaves no
    /// descriptor open: its pipes are closed with it.
    @Test func aJobThatCannotStartLeaksNoDescriptors() async throws {
        // Pipes only: tests running alongside open sockets by the hundred (stalled connections).
        func openDescriptors() -> Int {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            return fds.filter { fd in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd))?.hasPrefix("pipe:") == true
            }.count
        }
        var spec = job("true", [])
        if case .list(var tasks)? = spec.spec["Tasks"], case .map(var task)? = tasks.first,
           case .map(var engine)? = task["Engine"], case .map(var params)? = engine["Params"] {
            params["WorkingDirectory"] = "/no/such/folder/hypha-test"
            engine["Params"] = .map(params)
            task["Engine"] = .map(engine)
            tasks[0] = .map(task)
            spec.spec["Tasks"] = .list(tasks)
        }
        _ = try? await run(spec)  // the first run sets up what stays open (the reaper thread)
        let before = openDescriptors()
        for _ in 0..<300 {
            await #expect(throws: (any Error).self) { _ = try await run(spec) }
        }
        // Other tests run alongside and hold some pipes for a moment (exec programs, jobs); a leak
        // of even one descriptor per job would be 300 (two pipes' read ends per job: 600).
        #expect(openDescriptors() < before + 100)
    }

    @Test func aNonZeroExitFailsWithTheCodeAndStderr() async throws {
        await #expect {
            _ = try await run(job("sh", ["-c", "echo broken >&2; exit 3"]))
        } throws: { "\($0)".contains("exit code 3") && "\($0)".contains("broken") }
    }

    @Test func theExecutionTimeoutStopsTheProcessGroup() async throws {
        let start = ContinuousClock.now
        await #expect {
            _ = try await run(job("sh", ["-c", "trap '' TERM; sleep 120 & wait"], timeout: 1))
        } throws: { "\($0)".contains("ExecutionTimeout") }
        // Well before the 120 s sleep would end: TERM was ignored, so the group was killed.
        #expect(start.duration(to: .now) < .seconds(60))
    }

    @Test func otherEnginesAndMissingProgramsAreClearErrors() async throws {
        await #expect { _ = try await run(job("echo", [], engine: "docker")) } throws: {
            "\($0)".contains("Engine.Type 'docker'") && "\($0)".contains("bacalhau")
        }
        await #expect { _ = try await run(job("no-such-program-xyz", [])) } throws: { "\($0)".contains("not found") }
        // `Name: true` unquoted in a template is a bool: said so, not "missing".
        await #expect { _ = try await run(job(.bool(true), [])) } throws: {
            "\($0)".contains("Engine.Params.Name (the program to run) must be a string, got true; quote it: Name: \"true\"")
        }
    }

    /// The path found on PATH is kept, not resolved through symlinks (a venv's `python3` is a
    /// symlink and must run as the venv's).
    @Test func locatorKeepsThePathFoundOnPath() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("locator-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createSymbolicLink(atPath: dir + "/mysh", withDestinationPath: "/bin/sh")
        let locator = ProgramLocator(path: dir + ":/usr/bin:/bin")
        #expect(locator.locate("mysh", workingDirectory: nil) == dir + "/mysh")
        #expect(locator.locate("no-such-program-xyz", workingDirectory: nil) == nil)
    }
}
