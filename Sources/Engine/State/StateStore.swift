import Foundation

/// What Hypha remembers between runs: which files a source has handed over and whether
/// everything downstream finished with them, what every job did, and the messages that failed
/// for good. The Engine and the plugins see only this protocol; `HyphaState` keeps it in SQLite.
///
/// Writes are committed in the order they are made, many to a transaction. `filesFinished`,
/// `messageReceived` and `deadLetter` return once committed (and with them everything written
/// before); the others are queued and commit within milliseconds. A write that cannot be
/// committed (a full disk) is reported by the next awaited write and by `failure`.
public protocol StateStore: Sendable {
    /// Why the store stopped taking writes, once it has.
    var failure: StateStoreError? { get }
    /// Returns once everything queued so far is committed (the end of a run).
    func flush() async throws

    // MARK: Runs

    /// Records the configuration a run starts with and returns its id; the jobs and dead
    /// letters written after it carry that id (`JournalJob.run`, `StoredDeadLetter.run`), so a
    /// retry can replay what ran. Returns once committed.
    func runStarted(_ configuration: RunConfiguration) async throws -> Int64
    /// The configuration run `id` recorded, if the store has it.
    func run(id: Int64) async throws -> RunConfiguration?

    // MARK: Source checkpoints

    /// Every file `node` has recorded, to decide at start what is new.
    func files(node: String) async throws -> [FileCheckpoint]
    /// Records files as handed downstream (not yet finished).
    func filesEmitted(node: String, _ files: [FileCheckpoint]) async throws
    /// Records how files ended: everything downstream finished (`failure` nil), or some part
    /// failed for good (the file is not emitted again; its message is a dead letter).
    /// `contentHashes` (one per file, in order) are recorded with them: computed here, off the
    /// path from a new file to its job.
    func filesFinished(node: String, _ files: [FileIdentity], contentHashes: [String], failure: String?) async throws

    // MARK: Downloads

    /// Every URL `node` (a download source) has recorded, to ask the server only for what changed.
    func downloads(node: String) async throws -> [DownloadRecord]
    /// Records what is known of a URL now (fetched and emitted, finished, or failed); returns
    /// once committed.
    func downloadRecorded(node: String, _ record: DownloadRecord) async throws

    // MARK: Received messages

    /// Keeps a message a source received from a sender (its Arrow IPC bytes) until everything
    /// downstream is done with it, so the sender can be answered once it is durable. Returns
    /// its id.
    func messageReceived(node: String, _ bytes: Data) async throws -> Int64
    /// Everything downstream is done with the message (or failed for good: a dead letter);
    /// queued, so it can be said from an acknowledgement's completion.
    func messageFinished(node: String, id: Int64)
    /// Messages received and not finished, oldest first: a restart emits them again.
    func pendingMessages(node: String) async throws -> [(id: Int64, bytes: Data)]

    // MARK: Job journal

    /// The job, if the journal records it as completed (asked before every job, so it answers
    /// from memory where it can).
    func completedJob(node: String, name: String) async throws -> CompletedJob?
    /// Before a job is started or submitted: its spec's fingerprint and its input.
    func jobIntent(node: String, job: Job, fingerprint: String) async throws
    /// The job is running: its local process group, or the id Bacalhau gave it.
    func jobStarted(node: String, name: String, pid: Int32?, remoteID: String?) async throws
    /// How the job ended.
    func jobFinished(node: String, name: String, outcome: JobOutcome) async throws
    /// Jobs of the journal, newest first; `state`, `file` (a path, or a file name within one)
    /// and `name` narrow them.
    func jobs(state: String?, file: String?, name: String?, limit: Int) async throws -> [JournalJob]

    // MARK: Dead letters

    /// A message that failed for good at `node`, kept to look at and to retry.
    func deadLetter(_ letter: DeadLetter) async throws
    /// The dead letters kept (those of `ids`, when given; the newest `limit`, when given),
    /// oldest first.
    func deadLetters(ids: [Int64]?, limit: Int?) async throws -> [StoredDeadLetter]
    /// What `file` names at `node` (a source's failure) succeeded after all: its letters go.
    func deadLettersResolved(node: String, file: String) async throws
}

extension StateStore {
    /// The configurations of the runs `ids` name, each read once, by id (jobs and dead letters
    /// name their runs; one run made most of them).
    public func runs(ids: some Sequence<Int64>) async throws -> [Int64: RunConfiguration] {
        var runs: [Int64: RunConfiguration] = [:]
        for id in Set(ids) { runs[id] = try await run(id: id) }
        return runs
    }
}

/// What identifies a file across runs: its device and inode (so a rename is the same file),
/// its size and modification time (so a rewrite is a new event).
public struct FileIdentity: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var modified: Int64  // nanoseconds since the epoch

    public init(device: UInt64, inode: UInt64, size: Int64, modified: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.modified = modified
    }
}

/// A file a source has recorded.
public struct FileCheckpoint: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Handed downstream; not everything has finished with it.
        case emitted
        /// Everything downstream finished with it.
        case done
        /// Some part failed for good (a dead letter).
        case failed
    }

    public var identity: FileIdentity
    public var path: String
    /// The inode's change time (ns) when recorded: a different one means something touched the
    /// file (a rename, or a write that kept size and mtime), and the content hash decides.
    public var changed: Int64
    /// A hash of the content (its size, first and last 64 KiB); empty until the file is finished.
    public var contentHash: String
    public var state: State

    public init(identity: FileIdentity, path: String, changed: Int64, contentHash: String, state: State) {
        self.identity = identity
        self.path = path
        self.changed = changed
        self.contentHash = contentHash
        self.state = state
    }
}

/// The states a job passes through in the journal.
public enum JournalState: String, Sendable, CaseIterable {
    case intent, running, completed, failed, interrupted
}

/// A job the journal records as completed: the spec it ran with and its result's details (to
/// emit again instead of running it again).
public struct CompletedJob: Sendable {
    public var fingerprint: String
    public var details: Record

    public init(fingerprint: String, details: Record) {
        self.fingerprint = fingerprint
        self.details = details
    }
}

/// How a job ended, for the journal.
public enum JobOutcome: Sendable {
    case completed(details: Record)
    case failed(reason: String)
    /// Stopped because Hypha was shutting down: run again on the next start.
    case interrupted
}

/// A message that failed for good.
public struct DeadLetter: Sendable {
    public var node: String
    public var reason: String
    public var payload: Payload
    /// The source file it came from, when known (for a source's own failure, what it names:
    /// the URL of a download).
    public var file: String?
    public var logPaths: [String]
    /// Whether it replaces the node's earlier letters for the same `file` (a source's failure,
    /// reported again at every poll or run while it lasts, is kept once).
    public var replacesEarlier: Bool

    public init(node: String, reason: String, payload: Payload, file: String?, logPaths: [String], replacesEarlier: Bool = false) {
        self.node = node
        self.reason = reason
        self.payload = payload
        self.file = file
        self.logPaths = logPaths
        self.replacesEarlier = replacesEarlier
    }
}

/// The state store could not read or write (a full disk, a corrupt database): what happened,
/// the folder, and what to do.
public struct StateStoreError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What a download source remembers of one URL: the validators the server gave (to ask again
/// with `If-None-Match`/`If-Modified-Since`), the content's sha256, where it was written, and
/// whether everything downstream finished with it.
public struct DownloadRecord: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Written and handed downstream; not everything has finished with it.
        case emitted
        /// Everything downstream finished with it.
        case done
        /// The download failed (404, checksum mismatch, too large): `reason` says why.
        case failed
    }

    public var url: String
    public var etag: String?
    public var lastModified: String?
    /// The sha256 of what was written (lowercase hex); for a failure, the one the feed expected.
    public var sha256: String
    public var path: String
    public var size: Int64
    public var state: State
    public var reason: String?

    public init(url: String, etag: String?, lastModified: String?, sha256: String, path: String, size: Int64,
                state: State, reason: String? = nil) {
        self.url = url
        self.etag = etag
        self.lastModified = lastModified
        self.sha256 = sha256
        self.path = path
        self.size = size
        self.state = state
        self.reason = reason
    }
}
