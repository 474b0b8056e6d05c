import ArgumentParser
import Engine
import Foundation
import HyphaState
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

    @Flag(help: "List what a --once run would take and skip, each with why, and the jobs it would make; run and record nothing.")
    var dryRun = false

    @Flag(help: "Reload when the workflow file or a jobstore template changes (SIGHUP always reloads): only the nodes that changed restart.")
    var watch = false

    @OptionGroup var runOptions: RunOptions

    func validate() throws {
        if dryRun && watch { throw ValidationError("--dry-run lists what one pass would do (as --once); drop --watch") }
        if watch && once { throw ValidationError("--watch keeps running and reloads on edits; --once ends after one pass: use one of them") }
        if watch && runOptions.noState {
            throw ValidationError("--watch keeps the sources' positions across a reload in the state folder; drop --no-state")
        }
    }

    func run() async throws {
        let plan = try workflow.load()
        if dryRun {
            let code = try await DryRun.run(plan, options: runOptions)
            if code != 0 { throw ExitCode(code) }
            return
        }
        let arguments = workflow
        let overrides = try workflow.overrides()
        // SIGHUP reloads a run that keeps going (with state: a source's position is kept there).
        let reload = once || runOptions.noState ? nil : LiveReload(file: workflow.workflow, watch: watch) { () throws(Diagnostics) in
            try WorkflowLoader(registry: BuiltinPlugins.registry).load(path: arguments.workflow, overrides: overrides)
        }
        let code = try await WorkflowRunner(options: runOptions).run(plan, once: once, overrides: overrides, reload: reload)
        if code != 0 { throw ExitCode(code) }
    }
}

/// Options of `run` that `demo` shares.
struct RunOptions: ParsableArguments {
    @Option(help: "trace, debug, info, notice, warning, error or critical (default: info; warning while the progress display is on).")
    var logLevel: Logger.Level?

    @Option(help: "Folder for this run's job logs (default: STATE_DIR/runs/RUN-ID).")
    var runDir: String?

    @OptionGroup var state: StateOptions

    @Flag(help: "Forget which files were handled and which jobs completed, and process everything again.")
    var reprocess = false

    @Flag(help: "Keep no state: nothing is remembered and nothing is skipped (experiments, benchmarks).")
    var noState = false

    @Option(help: "Seconds that running jobs get to finish after Ctrl-C or SIGTERM.")
    var grace: Double = 10

    @Flag(help: "Plain log lines instead of the live progress display.")
    var noProgress = false

    @Option(help: "Log lines as text (default) or json: one object per line (time, level, node, job, message, fields).")
    var logFormat: LogFormat = .text

    @OptionGroup var http: HTTPOptions
}

/// Where durable state lives: every command that reads state takes this.
struct StateOptions: ParsableArguments {
    @Option(help: "The state folder (default: the workflow's state_dir, else .hypha/NAME beside the workflow file).")
    var stateDir: String?

    /// The folder for `plan`'s workflow.
    func folder(for info: WorkflowInfo) -> String {
        stateDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? info.stateDirectory
    }

    /// Opens and locks the state folder (`forReading`: opens it to read, beside a running
    /// Hypha), or prints why it cannot and exits 3.
    func open(for info: WorkflowInfo, forReading: Bool = false) throws -> StateFolder {
        do {
            return try StateFolder(path: folder(for: info), forReading: forReading)
        } catch {
            Console.error("hypha: \(error.description)")
            throw ExitCode(3)
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
