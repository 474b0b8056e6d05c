import ArgumentParser
import Engine
import Foundation

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the extract→aggregate workflow on sample zips in a temporary folder (no services needed).")

    @Option(help: "How many sample zips to make.") var zips = 5
    @Option(help: "The workflow to run (default: workflows/extract-aggregate.yml of this checkout).")
    var workflow: String?
    @Option(help: "Where to make the demo folder (default: a new temporary folder).") var dir: String?
    @OptionGroup var runOptions: RunOptions

    func run() async throws {
        guard let workflowPath = workflow ?? Self.findShipped("workflows/extract-aggregate.yml") else {
            throw ValidationError("cannot find workflows/extract-aggregate.yml; run from the Hypha checkout or pass --workflow")
        }
        let root = URL(fileURLWithPath: workflowPath).deletingLastPathComponent().deletingLastPathComponent()
        let demoDir = dir.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("hypha-demo-\(UUID().uuidString.prefix(8).lowercased())")
        let inbox = demoDir.appendingPathComponent("inbox").path
        let work = demoDir.appendingPathComponent("work").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

        Console.out("hypha demo: making \(zips) sample zips in \(inbox)")
        let maker = root.appendingPathComponent("scripts/make_sample_zips.py").path
        let status = try Self.spawn("/usr/bin/env", ["python3", maker, inbox, "--count", "\(zips)"])
        guard status == 0 else { throw ValidationError("making sample zips failed (is python3 installed?)") }

        let arguments = try WorkflowArguments.parse([
            workflowPath, "--var", "inbox=\(inbox)", "--var", "work=\(work)", "--var", "group_by=category", "--var", "value=amount",
        ])
        let plan = try arguments.load()
        var options = runOptions
        if options.runDir == nil { options.runDir = demoDir.appendingPathComponent("run").path }
        if options.state.stateDir == nil { options.state.stateDir = demoDir.appendingPathComponent("state").path }
        let code = try await WorkflowRunner(options: options).run(plan, once: true)

        let reports = ((try? FileManager.default.contentsOfDirectory(atPath: work)) ?? []).sorted()
            .map { "\(work)/\($0)/report.json" }.filter { FileManager.default.fileExists(atPath: $0) }
        Console.out("\n\(reports.count) reports under \(work):")
        for report in reports.prefix(3) { Console.out("  \(report)") }
        if let first = reports.first, let text = try? String(contentsOfFile: first, encoding: .utf8) {
            Console.out("\n\(first):")
            for line in text.split(separator: "\n").prefix(14) { Console.out("  \(line)") }
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// Finds a file shipped in the checkout: from the current folder or the executable's, upwards.
    static func findShipped(_ relative: String) -> String? {
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        for start in [URL(fileURLWithPath: FileManager.default.currentDirectoryPath), executable.deletingLastPathComponent()] {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent(relative).path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }

    static func spawn(_ program: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
