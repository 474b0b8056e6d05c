import ArgumentParser
import Engine
import Foundation
import HyphaState

/// `hypha jobs WORKFLOW`: the job history, to answer "what happened to this zip?".
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List the jobs a workflow ran: for which input, when, how long, how they ended, where their logs are.")

    @OptionGroup var workflow: WorkflowArguments
    @OptionGroup var state: StateOptions

    @Option(name: .customLong("state"), help: "Only jobs in this state: intent, running, completed, failed or interrupted.")
    var stateFilter: String?

    @Option(help: "Only jobs of this input file (a path, or a file name).")
    var file: String?

    @Flag(help: "One JSON object per line instead of a table.")
    var json = false

    @Option(help: "At most this many jobs, newest first.")
    var limit = 200

    @Flag(help: "List the runs instead, newest first: each one's id and the --var, --profile and --set it was given.")
    var runs = false

    static let states = JournalState.allCases.map(\.rawValue)

    func validate() throws {
        if let stateFilter, !Self.states.contains(stateFilter) {
            throw ValidationError("--state must be one of \(Self.states.joined(separator: ", "))"
                                  + didYouMean(stateFilter, Self.states))
        }
    }

    func run() async throws {
        let plan = try workflow.load()
        if runs { return try await listRuns(plan) }
        let (folder, rows, configurations) = try await read(plan)
        if json {
            for row in rows { Console.out(Self.value(row, run: row.run.flatMap { configurations[$0] }).json) }
            return
        }
        guard !rows.isEmpty else {
            Console.out("no jobs\(stateFilter.map { " in state \($0)" } ?? "")\(file.map { " for \($0)" } ?? "") in \(folder)")
            return
        }
        Console.out("STARTED (UTC)".padding(toLength: 20, withPad: " ", startingAt: 0) + "  STATE        TIME      RUN   NODE  JOB  FILE")
        for row in rows {
            let started = row.started.map { Self.time($0) } ?? "-"
            let duration = row.duration.map { String(format: "%.2fs", $0) } ?? "-"
            let run = row.run.map { "#\($0)" } ?? "-"
            Console.out("\(started)  \(row.state.padding(toLength: 11, withPad: " ", startingAt: 0))  "
                        + "\(duration.padding(toLength: 8, withPad: " ", startingAt: 0))  \(run.padding(toLength: 4, withPad: " ", startingAt: 0))  "
                        + "\(row.node)  \(row.name)  \(row.file ?? "-")")
            if let reason = row.reason, row.state != "completed" { Console.out("    \(reason)") }
            for log in [row.stdoutPath, row.stderrPath].compactMap({ $0 }) { Console.out("    log: \(log)") }
        }
    }

    /// The jobs, and the configurations of the runs that took them up.
    func read(_ plan: WorkflowPlan) async throws -> (String, [JournalJob], [Int64: RunConfiguration]) {
        try await DeadLettersCommand.reading(plan, state) { folder in
            let rows = try await folder.store.jobs(state: stateFilter, file: file, limit: limit)
            return (folder.path, rows, try await folder.store.runs(ids: rows.compactMap(\.run)))
        }
    }

    /// `--runs`: the runs recorded, newest first.
    func listRuns(_ plan: WorkflowPlan) async throws {
        let (folder, runs) = try await DeadLettersCommand.reading(plan, state) { folder in
            (folder.path, try await folder.store.runs(limit: limit))
        }
        if json {
            for run in runs { Console.out(run.value.json) }
            return
        }
        guard !runs.isEmpty else {
            Console.out("no runs recorded in \(folder)")
            return
        }
        for run in runs {
            Console.out("#\(run.id ?? 0)  \(Self.time(run.started))  \(run.runID)  \(run.flags)")
        }
    }

    /// A job as `--json` shows it; `run` is the configuration of the run that took it up.
    static func value(_ row: JournalJob, run: RunConfiguration? = nil) -> Value {
        func optional<T>(_ v: T?, _ make: (T) -> Value) -> Value { v.map(make) ?? .null }
        return .map(Record([
            ("node", .string(row.node)), ("name", .string(row.name)), ("state", .string(row.state)),
            ("file", optional(row.file, Value.string)), ("exit_code", optional(row.exitCode, Value.int)),
            ("duration", optional(row.duration, Value.float)), ("attempts", .int(Int64(row.attempts))),
            ("started", optional(row.started, { .string(time($0)) })), ("ended", optional(row.ended, { .string(time($0)) })),
            ("stdout_path", optional(row.stdoutPath, Value.string)), ("stderr_path", optional(row.stderrPath, Value.string)),
            ("remote_id", optional(row.remoteID, Value.string)), ("reason", optional(row.reason, Value.string)),
            ("input", (try? Value(json: Data(row.input.utf8))) ?? .null),
            ("run", run?.value ?? row.run.map { .map(Record([("id", .int($0))])) } ?? .null),
        ]))
    }

    static func time(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }
}
