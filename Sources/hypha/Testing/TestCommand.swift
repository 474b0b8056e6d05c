import ArgumentParser
import CorePlugins
import Engine
import Foundation
import HyphaArrow
import Logging

/// `hypha test [FILE...]`: runs workflow tests (`*.test.yml`, docs/TESTING.md).
struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run workflow tests (*.test.yml): mocked nodes, fed inputs, expectations on what reaches nodes.",
        discussion: """
            Each test runs its workflow once (as run --once) in a temporary folder with no state: \
            file-watch nodes watch a folder of their own there, mocked executors run nothing. Prints \
            `ok NAME` or `FAIL NAME` with a diff of expected against actual per test, then \
            `N passed, N failed`; exits 1 when any test fails. With no FILE, runs every *.test.yml \
            under workflows/. The format is in docs/TESTING.md.
            """)

    @Argument(help: "Test files (*.test.yml) or folders to search (default: workflows/).")
    var files: [String] = []

    func run() async throws {
        let paths = try Self.testFiles(files.isEmpty ? ["workflows"] : files, defaulted: files.isEmpty)
        var passed = 0, failed = 0
        for path in paths {
            var parser = TestFileParser(file: path)
            guard let tests = parser.parse() else {
                Console.out("FAIL \(path)")
                for diagnostic in parser.diagnostics { Console.out("  \(diagnostic)") }
                failed += 1
                continue
            }
            for test in tests {
                let problems = await TestRunner.run(test)
                let title = "\(URL(fileURLWithPath: path).lastPathComponent): \(test.name)"
                if problems.isEmpty {
                    Console.out("ok   \(title)")
                    passed += 1
                } else {
                    Console.out("FAIL \(title)")
                    for line in problems { Console.out("     " + line) }
                    failed += 1
                }
            }
        }
        Console.out("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }

    /// The test files named, folders searched for `*.test.yml`; none found is an error.
    static func testFiles(_ arguments: [String], defaulted: Bool) throws -> [String] {
        var found: [String] = []
        for argument in arguments {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                Console.error(defaulted
                    ? "hypha test: no workflows/ folder here; give test files (*.test.yml) or run in the folder above workflows/"
                    : "hypha test: no such file or folder '\(argument)'")
                throw ExitCode(1)
            }
            if isDirectory.boolValue {
                let names = (FileManager.default.enumerator(atPath: argument)?.allObjects as? [String] ?? [])
                    .filter { $0.hasSuffix(".test.yml") || $0.hasSuffix(".test.yaml") }.sorted()
                found += names.map { URL(fileURLWithPath: argument).appendingPathComponent($0).path }
            } else {
                found.append(argument)
            }
        }
        guard !found.isEmpty else {
            Console.error("hypha test: no *.test.yml files in \(arguments.joined(separator: ", ")); docs/TESTING.md shows how to write one")
            throw ExitCode(1)
        }
        return found
    }
}

/// Runs one test: loads its workflow with its overrides and mocks, feeds its inputs, runs the
/// DAG once and checks what reached each node.
enum TestRunner {
    static let registry = PluginRegistry(BuiltinPlugins.all + [MockExecutorPlugin.self, CaptureMockPlugin.self])

    /// Every way the test failed (none: it passed).
    static func run(_ test: WorkflowTest) async -> [String] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-test-\(UUID().uuidString)")
            .standardizedFileURL.path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            return try await run(test, in: folder)
        } catch let failure as TestFailure {
            return failure.lines
        } catch {
            return ["\(error)"]
        }
    }

    struct TestFailure: Error {
        var lines: [String]
        init(_ lines: [String]) { self.lines = lines }
        init(_ diagnostic: Diagnostic) { lines = [diagnostic.description] }
    }

    static func run(_ test: WorkflowTest, in folder: String) async throws -> [String] {
        var overrides = RunOverrides(profile: test.profile, sets: test.sets, vars: test.vars)
        for mock in test.mocks {
            switch mock.kind {
            case .result: overrides.sets.append((mock.node, "plugin", MockExecutorPlugin.spec.name))
            case .capture: overrides.sets.append((mock.node, "plugin", CaptureMockPlugin.spec.name))
            }
        }
        var plan: WorkflowPlan
        do {
            plan = try WorkflowLoader(registry: registry).load(path: test.workflow, overrides: overrides)
        } catch {
            throw TestFailure(["the workflow does not load with this test's settings:"] + error.all.map(\.description))
        }
        let ids = plan.nodes.map(\.config.id)
        func index(of node: String, at location: SourceLocation) throws -> Int {
            guard let index = ids.firstIndex(of: node) else {
                throw TestFailure(Diagnostic("node '\(node)' is not in workflow '\(plan.info.name)'\(didYouMean(node, ids)); "
                                             + "its nodes: \(ids.joined(separator: ", "))", at: location))
            }
            return index
        }

        for mock in test.mocks {
            let i = try index(of: mock.node, at: mock.location)
            if case .result(let result) = mock.kind {
                plan.nodes[i].config.options[MockExecutorPlugin.resultOption] = OptionValue(.map(result), at: mock.location)
            }
        }

        // Every file-watch node watches a folder of its own in the test's folder.
        var inboxes = Record()
        for i in plan.nodes.indices where plan.nodes[i].plugin == FileWatchPlugin.self {
            let inbox = folder + "/inbox/" + SafeName.file(plan.nodes[i].config.id)
            try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
            plan.nodes[i].config.options["path"] = OptionValue(.string(inbox), at: nil)
            inboxes[plan.nodes[i].config.id] = .string(inbox)
        }

        var injections: [WorkflowRuntime.Injection] = []
        var dropsFiles = false
        for inputs in test.inputs {
            let i = try index(of: inputs.node, at: inputs.location)
            let node = plan.nodes[i]
            if !inputs.files.isEmpty {
                guard let inbox = inboxes[inputs.node]?.stringValue else {
                    throw TestFailure(Diagnostic("'files' go to a file-watch node; '\(inputs.node)' is \(node.config.plugin)",
                                                 at: inputs.location))
                }
                dropsFiles = true
                for file in inputs.files {
                    try file.contents.write(to: URL(fileURLWithPath: inbox + "/" + file.name))
                }
            }
            func feed(_ payloads: [Payload], _ port: PortType, _ what: String) throws {
                guard !payloads.isEmpty else { return }
                guard !node.plugin.isSource, node.plugin.input.accepts(port) else {
                    throw TestFailure(Diagnostic("node '\(inputs.node)' (\(node.config.plugin)) takes \(node.plugin.input), not \(what)",
                                                 at: inputs.location))
                }
                injections += payloads.map { WorkflowRuntime.Injection(node: inputs.node, payload: $0, onComplete: { _ in }) }
            }
            try feed(inputs.records.map(Payload.record), .record, "records")
            try feed(inputs.results.map { .result(RenderCommand.result(from: $0)) }, .result, "job results")
            var tables: [Payload] = []
            for path in inputs.arrowFiles {
                do {
                    tables.append(.arrow(ArrowData(table: try ArrowIPC.read(contentsOfFile: path))))
                } catch {
                    throw TestFailure(Diagnostic("cannot read Arrow file '\(path)': \(error)", at: inputs.location))
                }
            }
            try feed(tables, .arrow, "Arrow data")
        }
        if dropsFiles && !injections.isEmpty {
            throw TestFailure(Diagnostic("a test either drops files for its sources or feeds messages at nodes (records, "
                                         + "results, arrow_file), not both: split it in two", at: test.location))
        }

        for expectation in test.expectations {
            let i = try index(of: expectation.node, at: expectation.location)
            plan.nodes[i].plugin = Observations.observed(plan.nodes[i].plugin)
        }

        Observations.reset()
        let runtime = WorkflowRuntime(plan: plan, once: true, runDirectory: folder + "/run", runID: "test",
                                      logger: Logger(label: "hypha.test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let messages = injections, timeout = test.timeout
        let summary = try await withThrowingTaskGroup(of: WorkflowRuntime.Summary?.self) { group in
            group.addTask { try await runtime.run(injecting: messages) }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let summary else {
            throw TestFailure(["the run did not end within \(test.timeout) s (set 'timeout:' in the test for a longer one)"])
        }

        var lines: [String] = []
        if summary.failureCount != test.failures {
            lines.append("expected \(test.failures) failed message\(test.failures == 1 ? "" : "s"), got \(summary.failureCount)"
                         + (summary.failures.isEmpty ? "" : ":"))
            lines += summary.failures.prefix(10).map { "  " + $0 }
        }
        let scope = Record([
            ("test", .map(Record([("dir", .string(folder)), ("inbox", inboxes.values.first ?? .null), ("inboxes", .map(inboxes))]))),
            ("vars", .map(plan.info.vars)),
            ("workflow", .map(Record([("name", .string(plan.info.name)), ("dir", .string(plan.info.directory))]))),
        ])
        for expectation in test.expectations {
            lines += ExpectationCheck.check(expectation, actual: Observations.values(at: expectation.node), scope: scope)
        }
        return lines
    }
}
