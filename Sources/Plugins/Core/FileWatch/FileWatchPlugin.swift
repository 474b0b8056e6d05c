import Engine
import Foundation
import Glibc
import HyphaArrow
import Logging

/// `file-watch` (source → arrow): watches a folder with inotify and emits Arrow record batches
/// describing complete files (`path` utf8, `name` utf8, `size` int64, `modified`
/// timestamp[us, UTC]), several files per batch when they arrive together.
///
/// Files already there at start are picked up first, except those a process still has open
/// for writing (`OpenWriters`): they follow when closed. After that a file is emitted only
/// once it is complete: closed after writing, or moved in; never while it is still being
/// written. A kernel queue overflow triggers a rescan, so no file is missed. A file whose name
/// is not valid UTF-8 is skipped with a warning that names it (`FileName`). What a scan makes
/// of each entry, and why, is a `FileDecision` (which `hypha why` and `run --dry-run` share). With
/// `emit: contents`, matching Arrow IPC files are emitted as their own contents instead.
public struct FileWatchPlugin: SourcePlugin {
    static let path = NodeOption.requiredPath("path", help: "the folder to watch")
    static let pattern = NodeOption.string("pattern", default: "*", help: "glob the file name must match, like \"*.zip\"")
    static let recursive = NodeOption.bool("recursive", default: false, help: "also watch subfolders (and folders created later)")
    static let emit = NodeOption.choice("emit", ["metadata", "contents"], default: "metadata",
                                    help: "'metadata' (a row per file) or 'contents' (each matching Arrow IPC file's own data)")
    static let batchSize = NodeOption.int("batch_size", default: 1024, atLeast: 1, help: "at most this many files per emitted batch")
    static let create = NodeOption.bool("create", default: true, help: "create the folder if it does not exist")
    static let declaredSchema = OptionalNodeOption.fields(
        "schema", help: "with emit: contents, the fields the Arrow files carry, like { id: int, name: string }: files "
            + "without them are skipped with an error, and template checks downstream see them")

    public static let spec = PluginSpec(
        name: "file-watch",
        summary: "Watches a folder (inotify) and emits an Arrow batch describing each complete new file.",
        output: .arrow, options: [path, pattern, recursive, emit, batchSize, create, declaredSchema],
        outputSchema: [RecordField("path", .string), RecordField("name", .string), RecordField("size", .int),
                       RecordField("modified", .timestamp)])

    static let schema = ArrowSchema(fields: [
        ArrowField(name: "path", type: .utf8, nullable: false),
        ArrowField(name: "name", type: .utf8, nullable: false),
        ArrowField(name: "size", type: .int64, nullable: false),
        ArrowField(name: "modified", type: .timestamp(.microsecond, timezone: "UTC"), nullable: false),
    ])

    let root: String
    let pattern: String
    let recursive: Bool
    let emitContents: Bool
    let batchSize: Int
    let create: Bool
    let declared: [RecordField]?
    let logger: Logger
    /// Where emitted and finished files are recorded, when the run keeps state.
    let checkpoints: Checkpoints?

    /// With `emit: contents` the records are the files' own: their declared `schema`, or unknown.
    public static func outputSchema(for node: NodeConfig) -> [RecordField]? {
        node[emit] == "contents" ? node[declaredSchema] : spec.outputSchema
    }

    /// Says it is ready once its watch is set up and the files present are scanned.
    public static var announcesReadiness: Bool { true }

    public static func validate(_ node: NodeConfig) -> [Diagnostic] {
        guard node[declaredSchema] != nil, node[emit] != "contents" else { return [] }
        return [Diagnostic("option 'schema' of node '\(node.id)' describes the contents of Arrow files; set emit: contents, "
                           + "or remove it (with emit: metadata the fields are path, name, size, modified)",
                           at: node.location(of: declaredSchema))]
    }

    public init(node: NodeConfig, context: RunContext) throws {
        root = node[Self.path]
        pattern = node[Self.pattern]
        recursive = node[Self.recursive]
        emitContents = node[Self.emit] == "contents"
        batchSize = node[Self.batchSize]
        create = node[Self.create]
        declared = node[Self.declaredSchema]
        logger = context.logger
        checkpoints = context.state.map { Checkpoints(state: $0, node: node.id, logger: context.logger) }
    }

    /// A problem with the folder or a file, said in a sentence.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public func run(_ output: SourceOutput) async throws {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) {
            guard create else { throw Failure(description: "folder '\(root)' does not exist; create it or set create: true") }
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } else if !isDirectory.boolValue {
            throw Failure(description: "'\(root)' is not a folder; 'path' must name the folder to watch")
        }
        var tracker = FileTracker(checkpoints: try await checkpoints?.load() ?? [])
        if output.once {
            try await emit(await scan(root, tracker: &tracker), output)
            // The run ends when the DAG has drained; stay until every file's end is recorded.
            await checkpoints?.drain()
            return
        }
        // Watch first, then scan, so a file arriving in between is not missed (the tracker
        // drops the duplicate).
        let watcher = try InotifyWatcher(root: root, recursive: recursive)
        defer { watcher.stop() }
        if recursive { try watchSubfolders(of: root, watcher) }
        let present = await scan(root, tracker: &tracker)
        output.ready()
        try await emit(present, output)
        for await event in watcher.events {
            try Task.checkCancellation()
            switch event {
            case .files:
                let files = watcher.takePending().compactMap { path in
                    matches(path) ? tracker.admit(path) : nil
                }
                try await emit(files, output)
            case .overflow:
                logger.warning("inotify queue overflowed; rescanning \(root)")
                _ = watcher.takePending()
                try await emit(await scan(root, tracker: &tracker), output)
            case .skippedName(let path):
                warnSkipped(path)
            case .folder(let folder):
                try? watcher.addWatch(folder)
                try? watchSubfolders(of: folder, watcher)
                try await emit(await scan(folder, tracker: &tracker), output)
            }
        }
    }

    /// Returns once every file emitted so far has ended and its end is recorded.
    public func settle() async {
        await checkpoints?.drain()
    }

    func matches(_ path: String) -> Bool {
        fnmatch(pattern, FileInfo.name(of: path), FNM_PERIOD) == 0
    }

    /// Regular files under `folder` that match, are new or changed, and that no process has
    /// open for writing (those come with their close event, or in a later run), in the order
    /// `decisions(under:tracker:skips:)` gives; the skipped names and writers are warned about.
    func scan(_ folder: String, tracker: inout FileTracker) async -> [FileInfo] {
        var found: [FileInfo] = []
        for decision in await decisions(under: folder, tracker: &tracker, skips: false) {
            switch decision.reason {
            case .notUTF8: warnSkipped(decision.path)
            case .openForWriting(let pid):
                logger.warning("\(decision.path) is still open for writing (process \(pid)); it is taken once closed (watching) or by a later run (--once)")
            default:
                if decision.taken, let info = decision.info { found.append(info) }
            }
        }
        return found
    }

    func warnSkipped(_ escapedPath: String) {
        logger.warning("skipping \(escapedPath): its name is not valid UTF-8 (bytes shown as \\xNN); rename it to UTF-8 to have it processed")
    }

    func watchSubfolders(of folder: String, _ watcher: InotifyWatcher) throws {
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return }
        while let relative = enumerator.nextObject() as? String {
            let path = folder + "/" + relative
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                try watcher.addWatch(path)
            }
        }
    }

    func emit(_ files: [FileInfo], _ output: SourceOutput) async throws {
        guard !files.isEmpty else { return }
        for file in files where file.resumed {
            logger.info("\(file.path) was emitted by an earlier run that did not finish with it; emitting it again")
        }
        if emitContents {
            for file in files {
                let arrow: ArrowData
                switch contents(of: file) {
                case .success(let data): arrow = data
                case .failure(let problem):
                    logger.error("\(problem)")
                    continue
                }
                try await checkpoints?.emitted([file])
                try await output.emit(.arrow(arrow), onComplete: completion(of: [file], label: file.path))
            }
            return
        }
        var start = 0
        while start < files.count {
            let chunk = files[start..<min(start + batchSize, files.count)]
            start += chunk.count
            let label = chunk.count == 1 ? chunk[chunk.startIndex].path : "\(chunk.count) files"
            // In-process the batch travels as it is; its IPC bytes are made only if a node needs them.
            let table = try Self.table(of: chunk)
            try await checkpoints?.emitted(Array(chunk))
            try await output.emit(.arrow(ArrowData(table: table)), onComplete: completion(of: Array(chunk), label: label))
        }
    }

    /// With `emit: contents`, the file's contents as the message, or why it is skipped: it
    /// cannot be read, or it does not fit the declared schema.
    func contents(of file: FileInfo) -> Result<ArrowData, Failure> {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            return .failure(Failure(description: "cannot read \(file.path)"))
        }
        let arrow = ArrowData(bytes: data)
        if let declared {
            // Parsed once here to check it; the table travels on with the bytes.
            let problem: String?
            do {
                problem = RecordField.problem(in: try arrow.table().schema, declared: declared)
            } catch {
                problem = "it is not Arrow IPC data (\(error))"
            }
            if let problem {
                return .failure(Failure(description: "skipping \(file.path): it does not fit this node's schema: \(problem)"))
            }
        }
        return .success(arrow)
    }

    /// What happens once everything downstream is done with `files`: the checkpoint says so.
    func completion(of files: [FileInfo], label: String) -> @Sendable (Delivery) -> Void {
        let logger = self.logger
        let checkpoints = self.checkpoints
        return { delivery in
            if case .failed(let reason) = delivery { logger.debug("not completed: \(label): \(reason)") }
            checkpoints?.finished(files, delivery)
        }
    }
}

/// A complete file as the source reports it.
struct FileInfo: Sendable, Equatable {
    var path: String
    var name: String
    var size: Int64
    var modifiedMicros: Int64
    /// Who the file is across runs (device, inode, size, mtime) and its inode's change time.
    var identity: FileIdentity
    var changed: Int64
    /// Whether an earlier run emitted it and not everything downstream finished with it.
    var resumed = false

    /// The last component of a path.
    static func name(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }
}

/// Decides which files to emit: never the same version of a file twice in a run (a rescan or a
/// duplicate event), a rewritten file again, and, with the checkpoints of earlier runs, never a
/// file that was handled already, even renamed; a file emitted but not finished is emitted again.
struct FileTracker {
    private var seen: [String: (size: Int64, modified: Int64)] = [:]
    /// Earlier runs' files by device and inode.
    private var checkpoints: [DeviceInode: FileCheckpoint] = [:]

    struct DeviceInode: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    init(checkpoints: [FileCheckpoint] = []) {
        for checkpoint in checkpoints {
            self.checkpoints[DeviceInode(device: checkpoint.identity.device, inode: checkpoint.identity.inode)] = checkpoint
        }
    }

    /// Whether this version of the file (as `st` describes it) has not been emitted yet in this run.
    func isNew(_ path: String, _ st: stat) -> Bool {
        guard let previous = seen[path] else { return true }
        return previous.size != Int64(st.st_size) || previous.modified != Self.micros(st.st_mtim)
    }

    static func micros(_ t: timespec) -> Int64 { Int64(t.tv_sec) * 1_000_000 + Int64(t.tv_nsec) / 1000 }
    static func nanos(_ t: timespec) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec) }

    /// The file's info if it is a regular file to emit now. `known` is a `stat` the caller
    /// already made (a scan), so the file isn't looked up twice.
    mutating func admit(_ path: String, known: stat? = nil) -> FileInfo? {
        guard let (info, reason) = decide(path, known: known) else { return nil }
        switch reason {
        case .new, .rewritten, .resumed: return info
        default: return nil
        }
    }

    /// For a regular file not taken yet in this run: its info and what the earlier runs'
    /// checkpoints make of it (new, rewritten, resumed: emit it; handled: skip it). It counts
    /// as taken in this run from now on.
    mutating func decide(_ path: String, known: stat? = nil) -> (FileInfo, FileDecision.Reason)? {
        var st = known ?? stat()
        guard known != nil || stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, isNew(path, st) else { return nil }
        let modified = Self.micros(st.st_mtim)
        let size = Int64(st.st_size)
        seen[path] = (size, modified)
        let identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: size, modified: Self.nanos(st.st_mtim))
        var info = FileInfo(path: path, name: FileInfo.name(of: path), size: size, modifiedMicros: modified,
                            identity: identity, changed: Self.nanos(st.st_ctim))
        guard let earlier = checkpoints[DeviceInode(device: identity.device, inode: identity.inode)] else { return (info, .new) }
        if earlier.identity == identity,
           earlier.changed == info.changed || (!earlier.contentHash.isEmpty && earlier.contentHash == ContentHash.of(path)) {
            // The same file as an earlier run's (perhaps renamed: the inode's change time moved,
            // the content is the same).
            guard earlier.state == .emitted else { return (info, .handled(earlier)) }
            info.resumed = true
            return (info, .resumed(earlier))
        }
        // Another version of that path, or another file that was given the inode of one deleted.
        return (info, earlier.path == path ? .rewritten(earlier) : .new)
    }
}

/// A cheap fingerprint of a file's content: its size and its first and last 64 KiB.
enum ContentHash {
    static func of(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var hash = StableHash()
        var st = stat()
        guard fstat(fd, &st) == 0 else { return "" }
        hash.add("\(st.st_size)\u{0}".utf8)
        let chunk = 64 * 1024
        var buffer = [UInt8](repeating: 0, count: chunk)
        for offset in Set([0, max(0, Int(st.st_size) - chunk)]).sorted() {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, chunk, off_t(offset)) }
            if n > 0 { hash.add(buffer.prefix(n)) }
        }
        return hash.hex
    }
}
