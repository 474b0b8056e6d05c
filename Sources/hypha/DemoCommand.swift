import ArgumentParser
import Engine
import Foundation

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the extract→aggregate workflow on sample zips in a temporary folder (no services needed).")

    @Option(help: "How many sample zips to make.") var zips = 5
    @Option(help: "The workflow to run (default: the shipped workflows/extract-aggregate.yml).")
    var workflow: String?
    @Option(help: "Where to make the demo folder (default: a new temporary folder).") var dir: String?
    @OptionGroup var runOptions: RunOptions

    func run() async throws {
        let shipped = "workflows/extract-aggregate.yml"
        guard let workflowPath = workflow ?? ShippedFiles.find(shipped) else {
            throw ValidationError("cannot find \(shipped) beside \(ShippedFiles.binary), in \(ShippedFiles.installedFolder()) or in a "
                                  + "Hypha checkout above either it or the current folder; reinstall Hypha or pass --workflow")
        }
        // The sample-zip maker beside the workflow's own scripts, else the shipped one.
        let root = URL(fileURLWithPath: workflowPath).deletingLastPathComponent().deletingLastPathComponent()
        let besideWorkflow = root.appendingPathComponent("scripts/make_sample_zips.py").path
        guard let maker = FileManager.default.fileExists(atPath: besideWorkflow)
                ? besideWorkflow : ShippedFiles.find("scripts/make_sample_zips.py") else {
            throw ValidationError("cannot find scripts/make_sample_zips.py beside \(workflowPath) or shipped with Hypha; reinstall Hypha")
        }
        let demoDir = dir.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("hypha-demo-\(UUID().uuidString.prefix(8).lowercased())")
        let inbox = demoDir.appendingPathComponent("inbox").path
        let work = demoDir.appendingPathComponent("work").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

        Console.out("hypha demo: running \(workflowPath) on \(zips) sample zips made in \(inbox)")
        let status = try Self.spawn("/usr/bin/env", ["python3", maker, inbox, "--count", "\(zips)"])
        guard status == 0 else { throw ValidationError("making sample zips failed (is python3 installed?)") }

        let arguments = try WorkflowArguments.parse([
            workflowPath, "--var", "inbox=\(inbox)", "--var", "work=\(work)", "--var", "group_by=category", "--var", "value=amount",
        ])
        let plan = try arguments.load()
        var options = runOptions
        if options.runDir == nil { options.runDir = demoDir.appendingPathComponent("run").path }
        if options.state.stateDir == nil { options.state.stateDir = demoDir.appendingPathComponent("state").path }
        let code = try await WorkflowRunner(options: options).run(plan, once: true, overrides: try arguments.overrides())

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
