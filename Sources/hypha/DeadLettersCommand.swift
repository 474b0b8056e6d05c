import ArgumentParser
import Engine
import Foundation
import HyphaState
import Synchronization

/// `hypha dead-letters list|retry|drop WORKFLOW`: the messages that failed for good.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "List, run again or drop the messages that failed for good.",
        subcommands: [List.self, Retry.self, Drop.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the dead letters: node, reason, file, logs.")
        @OptionGroup var workflow: WorkflowArguments
        @OptionGroup var state: StateOptions
        @Flag(help: "One JSON object per line instead of a table.") var json = false

        func run() async throws {
            let plan = try workflow.load()
            let letters = try await DeadLettersCommand.read(plan, state, ids: nil)
            if json {
                for letter in letters { Console.out(DeadLettersCommand.value(letter).json) }
                return
            }
            guard !letters.isEmpty else {
                Console.out("no dead letters")
                return
            }
            for letter in letters {
                Console.out("#\(letter.id)  \(JobsCommand.time(letter.created))  \(letter.node)  \(letter.file ?? "-")")
                Console.out("    \(letter.reason)")
                for log in letter.logs { Console.out("    log: \(log)") }
            }
            Console.out("\(letters.count) dead letter\(letters.count == 1 ? "" : "s"); run them again with: "
                        + "hypha dead-letters retry \(workflow.workflow) --all")
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run dead letters again now, from the node where they failed through the rest of the DAG; "
                + "those that succeed are removed.")
        @OptionGroup var workflow: WorkflowArguments
        @Argument(help: "Dead letter ids (see `list`).") var ids: [Int64] = []
        @Flag(help: "Every dead letter.") var all = false
        @OptionGroup var runOptions: RunOptions

        func validate() throws {
            if ids.isEmpty == !all { throw ValidationError("give dead letter ids, or --all") }
        }

        func run() async throws {
            let plan = try workflow.load()
            let letters = try await DeadLettersCommand.read(plan, runOptions.state, ids: all ? nil : ids)
            if !all, let missing = ids.first(where: { id in !letters.contains { $0.id == id } }) {
                Console.error("hypha: no dead letter #\(missing); `hypha dead-letters list \(workflow.workflow)` shows them")
                throw ExitCode(1)
            }
            var injections: [WorkflowRuntime.Injection] = []
            // As `StoredDeadLetter.injection` says: the letters that ended, either way, go.
            let succeeded = Mutex<[Int64]>([]), failedAgain = Mutex<[Int64]>([])
            for letter in letters {
                guard plan.node(letter.node) != nil else {
                    Console.error("hypha: dead letter #\(letter.id) is from node '\(letter.node)', which this workflow no longer has; drop it")
                    continue
                }
                let id = letter.id
                guard let injection = letter.injection(ended: { delivery in
                    switch delivery {
                    case .delivered: succeeded.withLock { $0.append(id) }
                    case .failed: failedAgain.withLock { $0.append(id) }
                    case .interrupted: break
                    }
                }) else {
                    Console.error("hypha: dead letter #\(letter.id) cannot be read back; drop it")
                    continue
                }
                injections.append(injection)
            }
            guard !injections.isEmpty else {
                Console.out("nothing to retry")
                return
            }
            let code = try await WorkflowRunner(options: runOptions).run(plan, once: true, injecting: injections) { folder in
                let done = succeeded.withLock { $0 }, again = Set(failedAgain.withLock { $0 }).subtracting(done)
                if !done.isEmpty || !again.isEmpty { _ = try await folder.store.dropDeadLetters(done + again.sorted()) }
                var line = "retried \(injections.count) dead letter\(injections.count == 1 ? "" : "s"): \(done.count) succeeded and were removed"
                if !again.isEmpty { line += "; \(again.count) failed again and \(again.count == 1 ? "is" : "are") kept with the new reason" }
                Console.out(line)
            }
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove dead letters without running them.")
        @OptionGroup var workflow: WorkflowArguments
        @OptionGroup var state: StateOptions
        @Argument(help: "Dead letter ids (see `list`).") var ids: [Int64]

        func run() async throws {
            let plan = try workflow.load()
            let folder = try state.open(for: plan.info, forReading: true)
            do {
                let known = Set(try await folder.store.deadLetters(ids: ids).map(\.id))
                let removed = try await folder.store.dropDeadLetters(ids)
                for id in ids where !known.contains(id) {
                    Console.error("hypha: no dead letter #\(id); `hypha dead-letters list \(workflow.workflow)` shows them")
                }
                Console.out("dropped \(removed) dead letter\(removed == 1 ? "" : "s")")
                if removed < ids.count { throw ExitCode(1) }
            } catch let error as StateStoreError {
                Console.error("hypha: \(error.description)")
                throw ExitCode(3)
            }
        }
    }

    static func read(_ plan: WorkflowPlan, _ state: StateOptions, ids: [Int64]?) async throws -> [StoredDeadLetter] {
        let folder = try state.open(for: plan.info, forReading: true)
        do {
            return try await folder.store.deadLetters(ids: ids)
        } catch {
            Console.error("hypha: \(error.description)")
            throw ExitCode(3)
        }
    }

    static func value(_ letter: StoredDeadLetter) -> Value {
        .map(Record([
            ("id", .int(letter.id)), ("node", .string(letter.node)), ("reason", .string(letter.reason)),
            ("file", letter.file.map(Value.string) ?? .null), ("logs", .list(letter.logs.map(Value.string))),
            ("created", .string(JobsCommand.time(letter.created))), ("port", .string(letter.port)),
        ]))
    }
}
