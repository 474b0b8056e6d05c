import CorePlugins
import Engine
import Foundation
import HyphaState

/// What the state and the watched folders say about one target.
struct WhyAnswer {
    enum Kind: String { case file, url, job }

    /// What one file-watch node would make of the file now.
    struct Watch {
        var node: String
        var folder: String
        var pattern: String
        var recursive: Bool
        var decision: FileDecision
    }

    var target: String
    var kind: Kind
    /// The file, when known (absolute).
    var path: String?
    var hasState: Bool
    var downloads: [(node: String, record: DownloadRecord)] = []
    var records: [FileRecord] = []
    var watches: [Watch] = []
    var jobs: [JournalJob] = []
    var letters: [StoredDeadLetter] = []
    /// The configurations of the runs the jobs and letters name, by id.
    var runs: [Int64: RunConfiguration] = [:]

    /// Whether any record names it: a source's checkpoint, a download, a job, a dead letter.
    var seen: Bool { !records.isEmpty || !downloads.isEmpty || !jobs.isEmpty || !letters.isEmpty }

    static func find(_ target: String, in plan: WorkflowPlan, store: SQLiteStateStore?) async throws -> WhyAnswer {
        var answer = WhyAnswer(target: target, kind: .file, hasState: store != nil)
        let fileWatches = plan.nodes.filter { $0.plugin == FileWatchPlugin.self }
        if target.contains("://") {
            answer.kind = .url
            for node in plan.nodes where node.config.plugin == "http-download" {
                for record in try await store?.downloads(node: node.config.id) ?? [] where record.url == target {
                    answer.downloads.append((node.config.id, record))
                }
            }
            answer.path = answer.downloads.first.map { URL(fileURLWithPath: $0.record.path).standardizedFileURL.path }
        } else if let store, case let named = try await store.jobs(state: nil, file: nil, name: target, limit: 50), !named.isEmpty {
            answer.kind = .job
            answer.jobs = named
            answer.path = named.compactMap(\.file).first
        } else if target.contains("/") {
            answer.path = URL(fileURLWithPath: target).standardizedFileURL.path
        } else {
            // A bare name: the file a source recorded under it, else one in a watched folder.
            let recorded = try await store?.fileRecords(path: target) ?? []
            answer.path = recorded.first?.checkpoint.path
                ?? fileWatches.lazy.compactMap { node in Self.locate(target, under: node) }.first
                ?? fileWatches.first.flatMap { node in
                    (try? FileWatchPlugin(node: node.config, context: RenderCommand.offlineContext())).map { $0.watched.folder + "/" + target }
                }
        }
        for node in fileWatches {
            guard let path = answer.path,
                  let plugin = try? FileWatchPlugin(node: node.config, context: RenderCommand.offlineContext()) else { continue }
            let checkpoints = try await store?.files(node: node.config.id) ?? []
            let decision = await plugin.decision(forPath: path, checkpoints: checkpoints)
            // The path as this source writes it (the folder as the workflow names it).
            if decision.reason != .outsideFolder { answer.path = decision.path }
            let (folder, pattern, recursive) = plugin.watched
            answer.watches.append(Watch(node: node.config.id, folder: folder, pattern: pattern, recursive: recursive, decision: decision))
            let earlier = decision.checkpoint
            answer.records += try await store?.fileRecords(path: decision.path, node: node.config.id, device: earlier?.identity.device,
                                                            inode: earlier?.identity.inode).filter { $0.node == node.config.id } ?? []
        }
        if answer.path == nil, answer.kind == .file {
            answer.records = try await store?.fileRecords(path: target) ?? []
        }
        guard let store else { return answer }
        let file = answer.path ?? target
        if answer.kind != .job || answer.path != nil {
            let mine = try await store.jobs(state: nil, file: file, name: nil, limit: 200)
            let asked = Set(answer.jobs.map { "\($0.node)\u{0}\($0.name)" })
            answer.jobs += mine.filter { !asked.contains("\($0.node)\u{0}\($0.name)") }
        }
        let names = Set([file, target] + answer.downloads.map(\.record.url))
        answer.letters = try await store.deadLetters(ids: nil, limit: nil).filter { letter in
            guard let named = letter.file else { return false }
            return names.contains(named) || (!target.contains("/") && named.hasSuffix("/" + target))
        }
        answer.runs = try await store.runs(ids: answer.jobs.compactMap(\.run) + answer.letters.compactMap(\.run))
        return answer
    }

    /// A file called `name` in the folder `node` watches (or, recursive, below it).
    static func locate(_ name: String, under node: WorkflowPlan.Node) -> String? {
        guard let plugin = try? FileWatchPlugin(node: node.config, context: RenderCommand.offlineContext()) else { return nil }
        let (folder, _, recursive) = plugin.watched
        if FileManager.default.fileExists(atPath: folder + "/" + name) { return folder + "/" + name }
        guard recursive, let walk = FileManager.default.enumerator(atPath: folder) else { return nil }
        while let relative = walk.nextObject() as? String {
            if URL(fileURLWithPath: relative).lastPathComponent == name { return folder + "/" + relative }
        }
        return nil
    }
}

extension FileDecision {
    /// The earlier run's record of this file, when the decision rests on one.
    var checkpoint: FileCheckpoint? {
        switch reason {
        case .handled(let earlier), .rewritten(let earlier), .resumed(let earlier): earlier
        default: nil
        }
    }
}
