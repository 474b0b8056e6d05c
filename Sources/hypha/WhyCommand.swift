import ArgumentParser
import CorePlugins
import Engine
import Foundation
import HyphaState

/// `hypha why WORKFLOW TARGET`: what happened to a file, a URL or a job, and why, from the
/// state alone (no run needed).
struct WhyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "why",
        abstract: "Say what happened to a file, a download's URL or a job, and why: or why it never ran.",
        discussion: """
            Reads the state folder (without its lock, beside a running Hypha) and the watched folders, \
            and runs nothing. For a file (a path, or a name): when a source recorded it and how it \
            ended, what a run would make of it now (new, already handled, rewritten, open for writing, \
            not matching the pattern, a hidden or non-UTF-8 name) and what would make it run again, the \
            jobs made from it with their states, times and logs, and its dead letters with the command \
            that retries each. For a URL, what the http-download nodes recorded of it, then its file. \
            For a job name, that job, then its file. A target never seen gets "never seen here" with \
            the likely cause. Exit code: 0 when answered (never seen included), 1 for a bad workflow, \
            3 when the state cannot be read.
            """)

    @OptionGroup var workflow: WorkflowArguments

    @Argument(help: "A file (a path, or a name), a URL an http-download node fetches, or a job's name.")
    var target: String

    @OptionGroup var state: StateOptions

    @Flag(help: "One JSON object with the same facts.")
    var json = false

    func validate() throws {
        if target.isEmpty { throw ValidationError("give a file, a URL or a job name to ask about") }
    }

    func run() async throws {
        let plan = try workflow.load()
        let folder = try state.existing(for: plan.info)
        let answer: WhyAnswer
        do {
            answer = try await WhyAnswer.find(target, in: plan, store: folder?.store)
        } catch let error as StateStoreError {
            Console.error("hypha: \(error.description)")
            throw ExitCode(3)
        }
        let retry = RetryCommand(workflow: workflow, stateDir: state.stateDir)
        let stateFolder = state.folder(for: plan.info)
        if json {
            Console.out(answer.value(retry: retry, stateFolder: stateFolder).json)
        } else {
            for line in answer.lines(retry: retry, stateFolder: stateFolder) { Console.out(line) }
        }
    }
}

/// The command that retries a dead letter, as `why` prints it.
struct RetryCommand {
    var workflow: WorkflowArguments
    var stateDir: String?

    /// A letter from a recorded run is retried with that run's configuration (no `--var`
    /// needed); an older one with the workflow arguments given here.
    func line(for letter: StoredDeadLetter) -> String {
        var words = ["hypha", "dead-letters", "retry", workflow.workflow, "\(letter.id)"]
        if letter.run == nil {
            words += workflow.profile.map { ["--profile", $0] } ?? []
            words += workflow.vars.flatMap { ["--var", $0] } + workflow.sets.flatMap { ["--set", $0] }
        }
        words += stateDir.map { ["--state-dir", $0] } ?? []
        return words.map(JobSummary.shellWord).joined(separator: " ")
    }
}
