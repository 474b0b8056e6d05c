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
                Console.out("#\(letter.id)  \(JobsCommand.time(letter.created))  \(letter.node)  \(letter.file ?? "-")"
                            + (letter.run.map { "  (run #\($0))" } ?? ""))
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
                + "those that succeed are removed.",
            discussion: """
                Each letter is run again with the configuration of the run that made it (its --var, \
                --profile and --set), letters of runs configured alike together. Giving other values \
                here is an error unless --with-current-config says to use them instead.
                """)
        @OptionGroup var workflow: WorkflowArguments
        @Argument(help: "Dead letter ids (see `list`).") var ids: [Int64] = []
        @Flag(help: "Every dead letter.") var all = false
        @Flag(help: "Run the letters with the --var, --profile and --set given here, not those of the runs that made them.")
        var withCurrentConfig = false
        @OptionGroup var runOptions: RunOptions

        func validate() throws {
            if ids.isEmpty == !all { throw ValidationError("give dead letter ids, or --all") }
        }

        /// Letters run again with one configuration: one plan, one run.
        struct Group {
            var overrides: RunOverrides
            /// Whether `overrides` are those its runs were given (not the command line's: letters
            /// kept before runs were recorded, or `--with-current-config`).
            var replays: Bool
            /// The runs that made its letters, where known.
            var runs: [RunConfiguration] = []
            var letters: [StoredDeadLetter] = []
        }

        func run() async throws {
            let given = try workflow.overrides()
            let plan = try workflow.load()
            let (folder, letters, runs) = try await DeadLettersCommand.reading(plan, runOptions.state) { folder in
                let letters = try await folder.store.deadLetters(ids: all ? nil : ids)
                return (folder.path, letters, try await folder.store.runs(ids: letters.compactMap(\.run)))
            }
            if !all, let missing = ids.first(where: { id in !letters.contains { $0.id == id } }) {
                Console.error("hypha: no dead letter #\(missing); `hypha dead-letters list \(workflow.workflow)` shows them")
                throw ExitCode(1)
            }
            let groups = try group(letters, runs: runs, given: given)
            guard !groups.isEmpty else {
                Console.out("nothing to retry")
                return
            }
            // Every group runs in the folder the letters were read from, whatever its variables say.
            var options = runOptions
            options.state.stateDir = folder
            var code: Int32 = 0
            for group in groups {
                let groupPlan = group.replays ? try workflow.load(overrides: group.overrides) : plan
                say(group, plan: groupPlan, given: given)
                let result = try await retry(group, plan: groupPlan, options: options)
                if code == 0 { code = result }
                if result == 3 || result == 130 { break }
            }
            if code != 0 { throw ExitCode(code) }
        }

        /// The letters by the configuration they run with; exits 1 when the command line gives
        /// values that differ from a run's, unless `--with-current-config`.
        func group(_ letters: [StoredDeadLetter], runs: [Int64: RunConfiguration], given: RunOverrides) throws -> [Group] {
            var groups: [String: Group] = [:], order: [String] = [], conflicts: [String] = []
            for letter in letters {
                let made = letter.run.flatMap { runs[$0] }
                let replays = made != nil && !withCurrentConfig
                let overrides = replays ? made?.replay(given: given) ?? given : given
                if let made, replays {
                    let differences = made.differences(from: given)
                    if !differences.isEmpty {
                        conflicts.append("dead letter #\(letter.id) was made by run #\(made.id ?? 0), which was given other values:")
                        conflicts += differences.map { "  \($0)" }
                    }
                }
                let key = Self.key(overrides, replays: replays)
                if groups[key] == nil {
                    groups[key] = Group(overrides: overrides, replays: replays)
                    order.append(key)
                }
                groups[key]?.letters.append(letter)
                if let made, groups[key]?.runs.contains(where: { $0.id == made.id }) == false { groups[key]?.runs.append(made) }
            }
            if !conflicts.isEmpty {
                for line in conflicts { Console.error("hypha: \(line)") }
                Console.error("hypha: a retry runs each letter with the configuration of the run that made it; leave those "
                              + "options out to use it, or add --with-current-config to run with the ones given here")
                throw ExitCode(1)
            }
            return order.compactMap { groups[$0] }
        }

        /// Says which configuration a group runs with, and what changed since its runs.
        func say(_ group: Group, plan: WorkflowPlan, given: RunOverrides) {
            let count = "\(group.letters.count) dead letter\(group.letters.count == 1 ? "" : "s")"
            let runs = group.runs.map { "#\($0.id ?? 0)" }.joined(separator: ", ")
            if let first = group.runs.first, group.replays {
                Console.out("retrying \(count) with the configuration of run \(runs): \(first.flags)")
            } else {
                Console.out("retrying \(count) with the configuration given here"
                            + (group.runs.isEmpty ? "" : " (--with-current-config), not that of run \(runs)"))
            }
            let current = RunConfiguration.digests(of: plan)
            for made in group.runs {
                let id = made.id ?? 0
                for flag in made.withheld(given: given) where group.replays {
                    Console.error("note: run #\(id) was given \(flag), whose value is not kept (its name looks like a secret's); "
                                  + "give it again with \(flag)=VALUE if the workflow's own value does not fit")
                }
                let changed = made.changedFiles(comparedWith: current)
                if !changed.isEmpty {
                    Console.error("note: changed since run #\(id): \(changed.joined(separator: ", ")); the letters run with "
                                  + "the files as they are now")
                }
            }
        }

        /// Runs a group's letters; the letters that ended, either way, go (as
        /// `StoredDeadLetter.injection` says). Returns the run's exit code.
        func retry(_ group: Group, plan: WorkflowPlan, options: RunOptions) async throws -> Int32 {
            var injections: [WorkflowRuntime.Injection] = []
            let succeeded = Mutex<[Int64]>([]), failedAgain = Mutex<[Int64]>([])
            for letter in group.letters {
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
                return 0
            }
            return try await WorkflowRunner(options: options).run(plan, once: true, overrides: group.overrides,
                                                                  injecting: injections) { folder in
                let done = succeeded.withLock { $0 }, again = Set(failedAgain.withLock { $0 }).subtracting(done)
                if !done.isEmpty || !again.isEmpty { _ = try await folder.store.dropDeadLetters(done + again.sorted()) }
                var line = "retried \(injections.count) dead letter\(injections.count == 1 ? "" : "s"): \(done.count) succeeded and were removed"
                if !again.isEmpty { line += "; \(again.count) failed again and \(again.count == 1 ? "is" : "are") kept with the new reason" }
                Console.out(line)
            }
        }

        /// Two groups with the same key load the same plan; letters of recorded runs and those
        /// run with the command line's values are kept apart, to say which is which.
        static func key(_ overrides: RunOverrides, replays: Bool) -> String {
            let vars = overrides.vars.map { "\($0.name)=\($0.value)" }.sorted()
            let sets = overrides.sets.map { "\($0.node).\($0.option)=\($0.value)" }.sorted()
            return Value.list([.bool(replays), overrides.profile.map(Value.string) ?? .null,
                               .list(vars.map(Value.string)), .list(sets.map(Value.string))]).json
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
        try await reading(plan, state) { try await $0.store.deadLetters(ids: ids) }
    }

    /// Opens the state folder to read (beside a running Hypha) and runs `body` on it; a state
    /// that cannot be read is said and exits 3.
    static func reading<T>(_ plan: WorkflowPlan, _ state: StateOptions,
                           _ body: (StateFolder) async throws -> T) async throws -> T {
        let folder = try state.open(for: plan.info, forReading: true)
        do {
            return try await body(folder)
        } catch let error as StateStoreError {
            Console.error("hypha: \(error.description)")
            throw ExitCode(3)
        }
    }

    static func value(_ letter: StoredDeadLetter) -> Value {
        .map(Record([
            ("id", .int(letter.id)), ("node", .string(letter.node)), ("reason", .string(letter.reason)),
            ("file", letter.file.map(Value.string) ?? .null), ("logs", .list(letter.logs.map(Value.string))),
            ("created", .string(JobsCommand.time(letter.created))), ("port", .string(letter.port)),
            ("run", letter.run.map(Value.int) ?? .null),
        ]))
    }
}
