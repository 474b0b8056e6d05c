import CorePlugins
import Engine
import Foundation
import HyphaState

/// `hypha why`'s answer as lines to read and as one JSON object, both from the same sentences.
extension WhyAnswer {
    func lines(retry: RetryCommand, stateFolder: String) -> [String] {
        var out: [String]
        switch kind {
        case .file: out = ["\(target): the file \(path ?? target)"]
        case .url: out = ["\(target): a URL" + (path.map { ", downloaded to \($0)" } ?? "")]
        case .job: out = ["\(target): the job at \(jobs.first?.node ?? "?")" + (path.map { ", made from \($0)" } ?? "")]
        }
        out.append(hasState ? "state: \(stateFolder)" : "state: none in \(stateFolder) (nothing has run with it yet)")
        for (node, record) in downloads {
            out.append("downloaded by \(node): \(record.state.rawValue), \(record.path) (\(record.size) bytes)"
                       + (record.reason.map { ": \($0)" } ?? ""))
            out.append("now (\(node)): \(Self.now(record, workflow: retry.workflow.workflow))")
        }
        for record in records {
            let renamed = record.checkpoint.path != path ? ", as \(record.checkpoint.path)" : ""
            out.append("seen: by \(record.node) (file-watch)\(renamed), last recorded at \(JobsCommand.time(record.updated)): \(words(record))")
        }
        for watch in watches where seen {
            out.append("now (\(watch.node)): \(watch.now(workflow: retry.workflow.workflow, hasLetter: !letters.isEmpty))")
        }
        if !jobs.isEmpty {
            out.append("jobs:")
            for job in jobs {
                let started = job.started.map(JobsCommand.time) ?? "-"
                let duration = job.duration.map { String(format: "%.2fs", $0) } ?? "-"
                out.append("  \(started)  \(job.state)  \(duration)  \(job.node)  \(job.name)" + runLabel(job.run))
                if let reason = job.reason, job.state != "completed" { out.append("      \(reason)") }
                for log in [job.stdoutPath, job.stderrPath].compactMap({ $0 }) { out.append("      log: \(log)") }
            }
        }
        if !letters.isEmpty {
            out.append("dead letters:")
            for letter in letters {
                out.append("  #\(letter.id)  \(JobsCommand.time(letter.created))  at \(letter.node): \(letter.reason)" + runLabel(letter.run))
                for log in letter.logs { out.append("      log: \(log)") }
                out.append("      retry: \(retry.line(for: letter))")
            }
        }
        if !seen {
            out.append("never seen here: no source recorded it, no job was made from it and no dead letter names it")
            out += causes.map { "likely cause: \($0)" }
        }
        return out
    }

    func value(retry: RetryCommand, stateFolder: String) -> Value {
        func optional<T>(_ v: T?, _ make: (T) -> Value) -> Value { v.map(make) ?? .null }
        let downloadValues = downloads.map { node, record in
            Value.map(Record([
                ("node", .string(node)), ("url", .string(record.url)), ("state", .string(record.state.rawValue)),
                ("path", .string(record.path)), ("size", .int(record.size)), ("sha256", .string(record.sha256)),
                ("reason", optional(record.reason, Value.string)),
                ("now", .string(Self.now(record, workflow: retry.workflow.workflow))),
            ]))
        }
        let recordValues = records.map { record in
            Value.map(Record([
                ("node", .string(record.node)), ("path", .string(record.checkpoint.path)),
                ("state", .string(record.checkpoint.state.rawValue)), ("updated", .string(JobsCommand.time(record.updated))),
                ("reason", optional(record.reason, Value.string)),
            ]))
        }
        let sourceValues = watches.map { watch in
            var pid: Value = .null
            if case .openForWriting(let writer) = watch.decision.reason { pid = .int(Int64(writer)) }
            return Value.map(Record([
                ("node", .string(watch.node)), ("folder", .string(watch.folder)), ("pattern", .string(watch.pattern)),
                ("recursive", .bool(watch.recursive)), ("decision", .string(watch.decision.code)),
                ("taken", .bool(watch.decision.taken)), ("pid", pid),
                ("now", .string(watch.now(workflow: retry.workflow.workflow, hasLetter: !letters.isEmpty))),
            ]))
        }
        let jobValues = jobs.map { job in
            guard case .map(var record) = JobsCommand.value(job) else { return JobsCommand.value(job) }
            record["run"] = optional(job.run.flatMap { runs[$0] }, runValue)
            return Value.map(record)
        }
        let letterValues = letters.map { letter in
            guard case .map(var record) = DeadLettersCommand.value(letter) else { return DeadLettersCommand.value(letter) }
            record["run"] = optional(letter.run.flatMap { runs[$0] }, runValue)
            record["retry"] = .string(retry.line(for: letter))
            return Value.map(record)
        }
        return .map(Record([
            ("target", .string(target)), ("kind", .string(kind.rawValue)), ("path", optional(path, Value.string)),
            ("state_folder", .string(stateFolder)), ("has_state", .bool(hasState)), ("seen", .bool(seen)),
            ("downloads", .list(downloadValues)), ("files", .list(recordValues)), ("sources", .list(sourceValues)),
            ("jobs", .list(jobValues)), ("dead_letters", .list(letterValues)),
            ("causes", .list(seen ? [] : causes.map(Value.string))),
        ]))
    }

    /// Why it was never seen, as far as the folders and the workflow tell.
    var causes: [String] {
        var causes: [String] = []
        if kind == .url {
            let nodes = downloads.isEmpty ? "no http-download node has recorded this URL" : ""
            causes.append(nodes + ": the feed did not list it when it was last polled, or no run has polled it since")
        }
        if watches.isEmpty && kind == .file { causes.append("this workflow has no file-watch source that could take a file") }
        for watch in watches {
            let now = watch.now(workflow: "", hasLetter: false)
            switch watch.decision.reason {
            case .new, .rewritten:
                causes.append("\(watch.node): \(now); no run has looked at \(watch.folder) since it arrived "
                              + "(a watching run takes a file once it is closed after writing, or moved in)")
            default:
                causes.append("\(watch.node): \(now)")
            }
        }
        return causes
    }

    /// What a run would do with a URL the ledger has, and what would fetch it again.
    static func now(_ record: DownloadRecord, workflow: String) -> String {
        let reprocess = "`hypha run \(workflow) --reprocess` forgets it"
        switch record.state {
        case .done:
            return "each poll asks the server whether it changed (If-None-Match, If-Modified-Since) and fetches it "
                + "again only then; \(reprocess)"
        case .emitted:
            return "fetched and handed on; a run that ended first left it unfinished: the next run hands it on again"
        case .failed:
            return "the next poll tries it again; its dead letter, if any, is removed once it succeeds"
        }
    }

    func runLabel(_ id: Int64?) -> String {
        guard let id, let run = runs[id] else { return "" }
        return "  (run \(run.runID))"
    }

    func runValue(_ run: RunConfiguration) -> Value {
        func overrides(_ list: [RunConfiguration.Override]) -> Value {
            .list(list.map { item in .string("\(item.name)=" + (item.value ?? "(a secret's: not kept)")) })
        }
        return .map(Record([
            ("id", .string(run.runID)), ("started", .string(JobsCommand.time(run.started))),
            ("profile", run.profile.map(Value.string) ?? .null), ("vars", overrides(run.vars)), ("sets", overrides(run.sets)),
        ]))
    }

    /// How a source's record of the file ended, in words.
    func words(_ record: FileRecord) -> String {
        switch record.checkpoint.state {
        case .emitted: return "emitted, and not finished with (the run ended first)"
        case .done: return "done: everything downstream finished with it"
        case .failed:
            // A source records a message's end for every file in it: a batch of files fails
            // together when one of them does.
            let reason = record.reason ?? "no reason recorded"
            if letters.isEmpty, let path, !reason.contains(path) {
                return "failed with the batch of files it was emitted in (another file's failure: \(reason))"
            }
            return "failed: \(reason)"
        }
    }
}

extension WhyAnswer.Watch {
    /// What a run would make of the file now, and what would make it run again (`hasLetter`:
    /// a dead letter names the file).
    func now(workflow: String, hasLetter: Bool) -> String {
        let place = "\(folder) (pattern \(pattern)\(recursive ? ", recursive" : ""))"
        let reprocess = "`hypha run \(workflow.isEmpty ? "WORKFLOW" : workflow) --reprocess` (which runs every file again)"
        switch decision.reason {
        case .new:
            return "it is in \(place) and new: a run would take it"
        case .rewritten(let earlier):
            return "it changed since an earlier run handled it (\(earlier.state.rawValue)): a run would take it again"
        case .resumed:
            return "an earlier run emitted it and did not finish with it: the next run takes it again"
        case .handled(let earlier):
            let renamed = earlier.path != decision.path ? " (recorded as \(earlier.path): the same file, renamed)" : ""
            if earlier.state == .failed && !hasLetter {
                return "it is recorded as failed\(renamed) (no dead letter names it: it failed with its batch), so runs skip it; "
                    + "a rewrite (a new size or modification time) or \(reprocess) runs it again"
            }
            if earlier.state == .failed {
                return "it failed for good\(renamed), so runs skip it; retrying its dead letter runs it again from where it "
                    + "failed; so does a rewrite (a new size or modification time) or \(reprocess)"
            }
            return "already handled\(renamed), so runs skip it; it runs again once rewritten (a new size or modification "
                + "time), or with \(reprocess)"
        case .openForWriting(let pid):
            return "process \(pid) has it open for writing: a watching run takes it once it is closed; a --once run skips it"
        case .pattern:
            return "its name does not match \(pattern), the pattern of \(node): no run takes it (rename it, or change the pattern)"
        case .hidden:
            return "its name starts with a dot, which \(pattern) does not match (* and ? never match a leading dot): "
                + "rename it, or begin the pattern with a dot"
        case .notUTF8:
            return "its name is not valid UTF-8: rename it to UTF-8 to have it processed"
        case .notRegularFile:
            return "it is not a regular file (a link, a folder, a device): a scan of \(folder) takes only regular files"
        case .folderNotWatched:
            return "it is a folder, which the watch of \(place) does not enter"
        case .missing:
            return "there is no file at \(decision.path) now (not there yet, moved or deleted)"
        case .outsideFolder:
            return "it is not under \(place), the folder \(node) watches"
        case .inUnwatchedFolder(let dir):
            return recursive
                ? "it is inside \(dir), whose name starts with a dot: a recursive watch skips hidden folders"
                : "it is inside the subfolder \(dir), and \(node) watches only \(folder) itself (set recursive: true)"
        }
    }
}
