import CorePlugins
import Engine
import Foundation
import HyphaState

/// `hypha run WORKFLOW --dry-run`: what a `--once` run would take and skip, and the jobs it
/// would make, without running or recording anything.
///
/// Nothing of the run itself is started. Each file-watch source decides about its folder
/// through the plugin's own `FileDecision` (what its scan does), with the checkpoints the run
/// would read; the message it would emit for each file taken is followed through
/// `arrow-decode` and `template` nodes with those plugins' own code (`ArrowDecodePlugin.records`,
/// `TemplatePlugin.render`, as `hypha render`), up to the executor that would run the job. What
/// only a job's result can tell (a template after an executor) or a program can (an `exec`
/// node), and what other sources would fetch or receive, is named, never guessed.
struct DryRun {
    let plan: WorkflowPlan
    /// The state the run would read; nil when it would start with none (no folder yet,
    /// `--reprocess`, `--no-state`).
    let store: SQLiteStateStore?
    /// Why `store` is nil, said in the header.
    let stateNote: String

    /// What would happen to one message at one node.
    enum Step {
        /// An executor would run `job` (`reused`: the journal has it as completed with this spec).
        case job(node: String, Job, reused: Bool)
        /// The template cannot render it: the message would be a dead letter at `node`.
        case failure(node: String, String)
        /// Nodes that start only once `node`'s job has completed (its result renders them).
        case after(node: String, [String])
        /// A node whose output a dry run does not compute.
        case notFollowed(node: String, plugin: String)
    }

    /// Prints the dry run; returns the exit code (0, or 3 when the state cannot be read).
    func run() async -> Int32 {
        Console.out("dry run of \(plan.info.name): nothing runs and nothing is recorded; \(stateNote)")
        var taken = 0, skipped = 0, jobs = 0, reused = 0
        var templates: [String: TemplatePlugin] = [:]
        for node in plan.nodes where node.plugin.isSource {
            guard node.plugin == FileWatchPlugin.self else {
                Console.out("\(node.config.id) (\(node.config.plugin)): a dry run does not poll or listen, so what it would receive is not listed")
                continue
            }
            let watch: FileWatchPlugin
            let checkpoints: [FileCheckpoint]
            do {
                watch = try FileWatchPlugin(node: node.config, context: RenderCommand.offlineContext())
                checkpoints = try await store?.files(node: node.config.id) ?? []
            } catch {
                Console.error("hypha: \(error)")
                return 3
            }
            let (folder, pattern, recursive) = watch.watched
            Console.out("\(node.config.id) (file-watch): \(folder), pattern \(pattern)\(recursive ? ", recursive" : "")")
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                Console.out("  the folder does not exist: nothing to take")
                continue
            }
            // What would be taken first, in the order a run takes it; then what would be skipped.
            let decisions = await watch.decisions(checkpoints: checkpoints)
            for decision in decisions.filter(\.taken) + decisions.filter({ !$0.taken }) {
                guard decision.taken else {
                    skipped += 1
                    Console.out("  skip  \(decision.path): \(Self.describe(decision))")
                    continue
                }
                taken += 1
                Console.out("  take  \(decision.path): \(Self.describe(decision))")
                let steps: [Step]
                switch watch.message(for: decision) {
                case .success(let data): steps = await follow(.arrow(data), from: node, templates: &templates)
                case .failure(let problem): steps = [.failure(node: node.config.id, problem.description)]
                case nil: steps = []
                }
                for step in steps {
                    if case .job(_, _, let wasReused) = step { jobs += 1; reused += wasReused ? 1 : 0 }
                    for line in Self.lines(step) { Console.out("        " + line) }
                }
            }
        }
        var summary = "\(taken) input\(taken == 1 ? "" : "s") would be taken, \(skipped) skipped; \(jobs) job\(jobs == 1 ? "" : "s")"
        summary += reused > 0 ? " (\(reused) completed in an earlier run: their recorded results would be used)" : ""
        Console.out(summary)
        return 0
    }

    /// What the nodes after `node` would do with `payload`, as far as it can be known without
    /// running anything.
    func follow(_ payload: Payload, from node: WorkflowPlan.Node, templates: inout [String: TemplatePlugin]) async -> [Step] {
        var steps: [Step] = []
        for id in node.downstream {
            guard let next = plan.node(id) else { continue }
            switch payload {
            case .arrow(let data) where next.plugin == ArrowDecodePlugin.self:
                do {
                    for record in ArrowDecodePlugin.records(try data.table()) {
                        steps += await follow(.record(record), from: next, templates: &templates)
                    }
                } catch {
                    steps.append(.failure(node: id, "malformed Arrow data: \(error)"))
                }
            case .record(let record) where next.plugin == TemplatePlugin.self:
                do {
                    let template = try templates[id] ?? TemplatePlugin(node: next.config, context: RenderCommand.offlineContext())
                    templates[id] = template
                    steps += await follow(.job(try template.render(.record(record))), from: next, templates: &templates)
                } catch let failure as MessageFailure {
                    let place = failure.location.map { "\($0): " } ?? ""
                    steps.append(.failure(node: id, place + failure.reason))
                } catch {
                    steps.append(.failure(node: id, "\(error)"))
                }
            case .job(let job) where next.plugin.input.accepts(.job):
                // An executor runs it; another node taking jobs (a capture sink) is handed it.
                let executes = next.plugin.isExecutor
                steps.append(.job(node: id, job, reused: executes ? await completed(job, at: id) : false))
                let later = plan.downstream(of: id)
                if !later.isEmpty { steps.append(executes ? .after(node: id, later) : .notFollowed(node: later[0], plugin: plan.node(later[0])?.config.plugin ?? "?")) }
            default:
                steps.append(.notFollowed(node: id, plugin: next.config.plugin))
            }
        }
        return steps
    }

    /// Whether the journal has `job` as completed at `node` with the same spec: a run would
    /// use its recorded result instead of running it (as `WorkflowRuntime.process` decides).
    func completed(_ job: Job, at node: String) async -> Bool {
        guard let store, let done = try? await store.completedJob(node: node, name: job.name) else { return false }
        return done.fingerprint == SpecFingerprint.of(.map(job.spec))
    }

    static func lines(_ step: Step) -> [String] {
        switch step {
        case .job(let node, let job, let reused):
            let head = "job \(job.name) at \(node)" + (reused ? ": completed in an earlier run; its recorded result would be used" : "")
            return [head] + JobSummary.commandLines(of: job.spec).map { "  " + $0 }
        case .failure(let node, let reason):
            return ["fails at \(node) (it would be a dead letter): \(reason)"]
        case .after(let node, let next):
            return ["after \(node): \(next.joined(separator: " → ")) (from \(node)'s result, once its job has completed)"]
        case .notFollowed(let node, let plugin):
            return ["then \(node) (\(plugin)): not computed in a dry run"]
        }
    }

    /// The decision in words, with what the checkpoint says where there is one.
    static func describe(_ decision: FileDecision) -> String {
        guard let earlier = decision.checkpoint else { return decision.label }
        let renamed = earlier.path != decision.path ? ", recorded as \(earlier.path)" : ""
        return decision.label + " (\(earlier.state.rawValue)\(renamed))"
    }
}

extension WorkflowPlan {
    /// The nodes after `id`, nearest first (each once).
    func downstream(of id: String) -> [String] {
        var found: [String] = [], queue = node(id)?.downstream ?? []
        while !queue.isEmpty {
            let next = queue.removeFirst()
            guard !found.contains(next) else { continue }
            found.append(next)
            queue += node(next)?.downstream ?? []
        }
        return found
    }
}

/// A job spec in a line per task: the command a `process` task runs, the image and command of
/// a `docker` one, the engine's type otherwise.
enum JobSummary {
    static func commandLines(of spec: Record) -> [String] {
        let tasks = spec["Tasks"]?.listValue ?? []
        return tasks.enumerated().map { index, task in
            let name = task["Name"]?.stringValue ?? "task \(index + 1)"
            let engine = task["Engine"]
            let params = engine?["Params"]
            let words: [String]
            switch engine?["Type"]?.stringValue {
            case "process":
                words = [params?["Name"]?.text ?? "?"] + (params?["Arguments"]?.listValue ?? []).map(\.text)
            case "docker":
                words = ["docker", params?["Image"]?.text ?? "?"] + (params?["Entrypoint"]?.listValue ?? []).map(\.text)
                    + (params?["Parameters"]?.listValue ?? []).map(\.text)
            case let other:
                words = ["engine", other ?? "?"]
            }
            return "\(name): " + words.map(shellWord).joined(separator: " ")
        }
    }

    /// `word` as a shell would need it written: as it is when plain, single-quoted otherwise.
    static func shellWord(_ word: String) -> String {
        let plain = !word.isEmpty && word.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "_-./:=@%+,".unicodeScalars.contains($0)
        }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

extension DryRun {
    /// The dry run of `plan` with the state `options` would use: none with `--reprocess` or
    /// `--no-state` (the run would forget it, or keep none), none when the folder has none yet
    /// (which it does not create). Exits 3 when the state cannot be read.
    static func run(_ plan: WorkflowPlan, options: RunOptions) async throws -> Int32 {
        let folder = options.state.folder(for: plan.info)
        if options.noState { return await DryRun(plan: plan, store: nil, stateNote: "no state (--no-state)").run() }
        if options.reprocess {
            return await DryRun(plan: plan, store: nil, stateNote: "--reprocess: every file and job as if new (the state in \(folder) is kept)").run()
        }
        guard let state = try options.state.existing(for: plan.info) else {
            return await DryRun(plan: plan, store: nil, stateNote: "no state in \(folder) yet: every file is new").run()
        }
        return await DryRun(plan: plan, store: state.store, stateNote: "state read from \(state.path)").run()
    }
}

extension StateOptions {
    /// The state folder opened to read (beside a running Hypha), or nil when nothing has run
    /// with it yet; nothing is created. Prints why it cannot be read and exits 3.
    func existing(for info: WorkflowInfo) throws -> StateFolder? {
        guard FileManager.default.fileExists(atPath: folder(for: info) + "/state.db") else { return nil }
        return try open(for: info, forReading: true)
    }
}
