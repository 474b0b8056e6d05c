import Engine
import Foundation
import Glibc

/// What `file-watch` makes of one entry of its folder when it scans it (at start, after a
/// queue overflow, and in `--once` runs): taken, and why, or skipped, and why. The plugin's own
/// scan, `hypha why` and `hypha run --dry-run` all decide through this type and
/// `FileWatchPlugin.decisions(under:tracker:)`, so they cannot disagree.
public struct FileDecision: Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        // Taken:
        /// No earlier run has handled it.
        case new
        /// An earlier run handled an earlier version of this path (its checkpoint): the size,
        /// modification time or content changed since, or the file was replaced.
        case rewritten(FileCheckpoint)
        /// An earlier run emitted it and did not finish with it: it is emitted again.
        case resumed(FileCheckpoint)
        // Skipped:
        /// An earlier run finished with this very file (done, or failed for good), perhaps
        /// under another name (the checkpoint's path).
        case handled(FileCheckpoint)
        /// A process (this id) still has it open for writing.
        case openForWriting(pid: Int32)
        /// Its name does not match the node's `pattern`.
        case pattern
        /// Its name starts with a dot, which a pattern's `*` and `?` do not match (FNM_PERIOD):
        /// the pattern would take it otherwise.
        case hidden
        /// Its name is not valid UTF-8 (`path` shows its bytes as `\xNN`).
        case notUTF8
        /// Not a regular file (a link, a device, a socket, ...).
        case notRegularFile
        /// A folder the scan does not go into: `recursive` is off, or its name starts with a dot.
        case folderNotWatched
        // Only for one path asked about (`decision(forPath:checkpoints:)`):
        /// Nothing at that path.
        case missing
        /// Not under the watched folder.
        case outsideFolder
        /// Inside a subfolder (this one) that the scan does not go into.
        case inUnwatchedFolder(String)
    }

    /// The entry's path (a name that is not UTF-8 has its bytes shown as `\xNN`).
    public var path: String
    public var reason: Reason
    /// The file as the source reports it, when it is taken or handled.
    var info: FileInfo?

    /// Whether a scan takes it (emits it downstream).
    public var taken: Bool {
        switch reason {
        case .new, .rewritten, .resumed: true
        default: false
        }
    }

    /// A short phrase for the reason: "new", "already handled", "open for writing (process 12)", ...
    public var label: String {
        switch reason {
        case .new: "new"
        case .rewritten: "rewritten since an earlier run handled it"
        case .resumed: "emitted by an earlier run that did not finish with it"
        case .handled: "already handled"
        case .openForWriting(let pid): "open for writing (process \(pid))"
        case .pattern: "does not match the pattern"
        case .hidden: "hidden name (starts with a dot)"
        case .notUTF8: "name not valid UTF-8"
        case .notRegularFile: "not a regular file"
        case .folderNotWatched: "a folder the watch does not enter"
        case .missing: "does not exist"
        case .outsideFolder: "not under the watched folder"
        case .inUnwatchedFolder: "in a folder the watch does not enter"
        }
    }

    /// A stable word for scripts (`--json`): new, rewritten, resumed, handled, open_for_writing,
    /// pattern, hidden, not_utf8, not_regular_file, folder_not_watched, missing, outside_folder,
    /// in_unwatched_folder.
    public var code: String {
        switch reason {
        case .new: "new"
        case .rewritten: "rewritten"
        case .resumed: "resumed"
        case .handled: "handled"
        case .openForWriting: "open_for_writing"
        case .pattern: "pattern"
        case .hidden: "hidden"
        case .notUTF8: "not_utf8"
        case .notRegularFile: "not_regular_file"
        case .folderNotWatched: "folder_not_watched"
        case .missing: "missing"
        case .outsideFolder: "outside_folder"
        case .inUnwatchedFolder: "in_unwatched_folder"
        }
    }
}

extension FileWatchPlugin {
    /// The folder this node watches, its pattern and whether it goes into subfolders.
    public var watched: (folder: String, pattern: String, recursive: Bool) { (root, pattern, recursive) }

    /// The message a run emits for a file it takes: its row (`path`, `name`, `size`,
    /// `modified`), or with `emit: contents` its contents; or why it would be skipped instead.
    public func message(for decision: FileDecision) -> Result<ArrowData, Failure>? {
        guard decision.taken, let info = decision.info else { return nil }
        guard emitContents else { return Result { ArrowData(table: try Self.table(of: [info])) }.mapError { Failure(description: "\($0)") } }
        return contents(of: info)
    }

    /// What a scan now would make of every entry under the folder, in the order a scan takes
    /// them, with `checkpoints` as earlier runs left them. Reads the folder, touches nothing
    /// (a missing folder is not created: the answer is empty).
    public func decisions(checkpoints: [FileCheckpoint]) async -> [FileDecision] {
        var tracker = FileTracker(checkpoints: checkpoints)
        return Self.replaced(await decisions(under: root, tracker: &tracker), checkpoints)
    }

    /// What a scan now would make of the file at `path` (absolute), with `checkpoints` as
    /// earlier runs left them; where the scan would never come to it, why. The decision's path
    /// is the one the scan would see (the watched folder as written, `..` and all), which is
    /// the path its checkpoints and jobs record.
    public func decision(forPath asked: String, checkpoints: [FileCheckpoint]) async -> FileDecision {
        let folder = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        let standardFolder = Self.standardized(folder), standardPath = Self.standardized(asked)
        let base = standardFolder == "/" ? "" : standardFolder
        guard standardPath.hasPrefix(base + "/"), standardPath.count > base.count + 1 else {
            return FileDecision(path: asked, reason: .outsideFolder)
        }
        let path = folder + standardPath.dropFirst(base.count)
        // Every folder between the watched one and the file must be one the scan goes into.
        let parts = path.dropFirst(folder.count + 1).split(separator: "/").map(String.init)
        var dir = folder
        for part in parts.dropLast() {
            dir += "/" + part
            if !recursive || part.hasPrefix(".") { return FileDecision(path: path, reason: .inUnwatchedFolder(dir)) }
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { return FileDecision(path: path, reason: .missing) }
        var tracker = FileTracker(checkpoints: checkpoints)
        let decision: FileDecision
        switch look(at: path, st, tracker: tracker) {
        case .skip(let reason): decision = FileDecision(path: path, reason: reason)
        case .unmatched: decision = FileDecision(path: path, reason: unmatched(path))
        case .candidate: decision = await decide([(path, st)], tracker: &tracker)[0]
        case .seenThisRun: decision = FileDecision(path: path, reason: .new)  // a fresh tracker has seen nothing
        }
        return Self.replaced([decision], checkpoints)[0]
    }

    static func standardized(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Every entry under `folder` and what a scan makes of it: first those skipped by their
    /// name or kind (folder by folder, each sorted by name), then the candidates in the order
    /// they are emitted. `tracker` learns the files taken or found handled. Without `skips`
    /// (the plugin's own scan), entries skipped by their kind or a name the pattern refuses are
    /// left out, so the scan spends nothing on them.
    func decisions(under folder: String, tracker: inout FileTracker, skips: Bool = true) async -> [FileDecision] {
        var decisions: [FileDecision] = []
        var candidates: [(path: String, stat: stat)] = []
        var stack = [folder]
        while let dir = stack.popLast() {
            guard let entries = FileName.entries(of: dir) else { continue }
            var names: [String] = []
            for entry in entries {
                switch entry {
                case .utf8(let name): names.append(name)
                case .notUTF8(let escaped): decisions.append(FileDecision(path: dir + "/" + escaped, reason: .notUTF8))
                }
            }
            for name in names.sorted() {
                let path = dir + "/" + name
                var st = stat()
                guard lstat(path, &st) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    if recursive && !name.hasPrefix(".") {
                        stack.append(path)
                    } else if skips {
                        decisions.append(FileDecision(path: path, reason: .folderNotWatched))
                    }
                    continue
                }
                switch look(at: path, st, tracker: tracker) {
                case .skip(let reason): if skips { decisions.append(FileDecision(path: path, reason: reason)) }
                case .unmatched: if skips { decisions.append(FileDecision(path: path, reason: unmatched(path))) }
                case .candidate: candidates.append((path, st))
                case .seenThisRun: break
                }
            }
        }
        let decided = await decide(candidates, tracker: &tracker)
        return decisions.isEmpty ? decided : decisions + decided
    }

    enum Look {
        case skip(FileDecision.Reason)
        /// A regular file whose name the pattern refuses (`unmatched(_:)` says why).
        case unmatched
        /// A regular file whose name matches and that this run has not taken yet.
        case candidate
        /// This version was taken earlier in this run (a rescan): nothing to say.
        case seenThisRun
    }

    /// The first look at an entry that is not a folder: its kind, its name, whether this run
    /// took this version already.
    func look(at path: String, _ st: stat, tracker: FileTracker) -> Look {
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .skip(.notRegularFile) }
        guard matches(path) else { return .unmatched }
        return tracker.isNew(path, st) ? .candidate : .seenThisRun
    }

    /// Why the pattern refuses the name at `path`: a leading dot, or the name itself.
    func unmatched(_ path: String) -> FileDecision.Reason {
        let name = FileInfo.name(of: path)
        return name.hasPrefix(".") && fnmatch(pattern, name, 0) == 0 ? .hidden : .pattern
    }

    /// The candidates' decisions, in order: open for writing (checked together, see
    /// `OpenWriters.lasting`), else what the checkpoints say.
    func decide(_ candidates: [(path: String, stat: stat)], tracker: inout FileTracker) async -> [FileDecision] {
        let beingWritten = await OpenWriters.lasting(among: candidates.map(\.path))
        var decisions: [FileDecision] = []
        for (path, st) in candidates {
            if let pid = beingWritten[path] {
                decisions.append(FileDecision(path: path, reason: .openForWriting(pid: pid)))
            } else if let (info, reason) = tracker.decide(path, known: st) {
                decisions.append(FileDecision(path: path, reason: reason, info: info))
            }
        }
        return decisions
    }

    /// A file taken as new whose path an earlier run handled (another inode: it was replaced,
    /// by a rename or a copy over it) is said to be rewritten. Only the wording changes.
    static func replaced(_ decisions: [FileDecision], _ checkpoints: [FileCheckpoint]) -> [FileDecision] {
        guard decisions.contains(where: { $0.reason == .new }) else { return decisions }
        var byPath: [String: FileCheckpoint] = [:]
        for checkpoint in checkpoints { byPath[checkpoint.path] = checkpoint }
        return decisions.map { decision in
            guard decision.reason == .new, let earlier = byPath[decision.path] else { return decision }
            var renamed = decision
            renamed.reason = .rewritten(earlier)
            return renamed
        }
    }
}
