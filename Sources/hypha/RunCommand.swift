import ArgumentParser
import Engine
import Foundation
import Logging

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a workflow.",
        discussion: """
            Runs until interrupted (Ctrl-C stops the sources and lets running jobs finish; a second \
            Ctrl-C, or the end of --grace, stops them). With --once it processes what is present, \
            waits for the whole DAG to drain, prints a summary and exits 0 if every job succeeded, \
            1 if any failed, 130 if interrupted.
            """)

    @OptionGroup var workflow: WorkflowArguments

    @Flag(help: "Process what is present now, wait for every job, then exit.")
    var once = false

    @OptionGroup var runOptions: RunOptions

    func run() async throws {
        let plan = try workflow.load()
        let code = try await WorkflowRunner(options: runOptions).run(plan, once: once)
        if code != 0 { throw ExitCode(code) }
    }
}

/// Options of `run` that `demo` shares.
struct RunOptions: ParsableArguments {
    @Option(help: "trace, debug, info, notice, warning, error or critical (default: info; warning while the progress display is on).")
    var logLevel: Logger.Level?

    @Option(help: "Folder for this run's job logs (default: .hypha/runs/RUN-ID).")
    var runDir: String?

    @Option(help: "Seconds that running jobs get to finish after Ctrl-C or SIGTERM.")
    var grace: Double = 10

    @Flag(help: "Plain log lines instead of the live progress display.")
    var noProgress = false
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
