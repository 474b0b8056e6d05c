import Engine
import Foundation
import GRDB
import Synchronization

/// `StateStore` in SQLite (GRDB): WAL mode, a schema version in `user_version`, and one writer
/// that commits whatever has queued up in one transaction ("group commit"), so jobs running at
/// once share commits instead of paying one each. A write returns once it is committed.
///
/// `synchronous = NORMAL` in WAL mode: a commit survives the process being killed (the WAL is
/// in the OS's page cache); a power cut may lose the last commits, never corrupt the file.
public final class SQLiteStateStore: StateStore {
    /// The schema this Hypha writes; a database with a higher one came from a newer Hypha.
    public static let schemaVersion = 3
    /// How long a write waits for another process's lock on the database before failing.
    static let busyTimeout: TimeInterval = 10

    let pool: DatabasePool
    let folder: String
    let writer: BatchWriter
    /// The names of the jobs recorded as completed, by node, read once per node: most jobs
    /// are new, and this answers "not completed" without a read.
    private let completed = Mutex<[String: Set<String>]>([:])
    /// The run this process records (`runStarted`), 0 before one: its id goes into each job's
    /// and dead letter's row as it is written, with no read of its own.
    let currentRunID = Atomic<Int64>(0)

    public init(path: String, folder: String) throws(StateStoreError) {
        self.folder = folder
        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        try DatabaseFile.prepare(path, folder: folder) { db in try Self.migrate(db, path: path) }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.write { db in try Self.migrate(db, path: path) }
        } catch let error as StateStoreError {
            throw error
        } catch {
            throw Self.explain(error, folder: folder)
        }
        writer = BatchWriter(pool: pool, folder: folder)
    }

    static func migrate(_ db: Database, path: String) throws {
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        if version > schemaVersion {
            throw StateStoreError("the state database \(path) has schema version \(version), from a newer Hypha (this one "
                                  + "knows \(schemaVersion)); run that Hypha, or give this one another --state-dir")
        }
        guard version < schemaVersion else { return }
        if version < 1 { try createVersion1(db) }
        // Each later version is one step, so a database of any earlier version opens.
        if version < 2 { try DownloadTable.create(db) }
        if version < 3 { try RunTable.create(db) }
        try db.execute(sql: "PRAGMA user_version = \(schemaVersion)")
    }

    static func createVersion1(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE files (
                node TEXT NOT NULL, device INTEGER NOT NULL, inode INTEGER NOT NULL,
                size INTEGER NOT NULL, modified INTEGER NOT NULL, changed INTEGER NOT NULL,
                hash TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,
                updated REAL NOT NULL,
                PRIMARY KEY (node, device, inode)
            ) WITHOUT ROWID;
            CREATE TABLE jobs (
                node TEXT NOT NULL, name TEXT NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
                input TEXT NOT NULL, file TEXT, pid INTEGER, remote_id TEXT, exit_code INTEGER,
                duration REAL, stdout_path TEXT, stderr_path TEXT, details TEXT, reason TEXT,
                attempts INTEGER NOT NULL DEFAULT 0, started REAL, ended REAL,
                PRIMARY KEY (node, name)
            ) WITHOUT ROWID;
            CREATE INDEX jobs_by_state ON jobs(state);
            CREATE TABLE received (
                id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, bytes BLOB NOT NULL, received REAL NOT NULL
            );
            CREATE TABLE dead_letters (
                id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, reason TEXT NOT NULL,
                port TEXT NOT NULL, payload TEXT NOT NULL, file TEXT, logs TEXT NOT NULL, created REAL NOT NULL
            );
            """)
    }

    /// A GRDB or SQLite error as the user should read it: the folder and what to do.
    static func explain(_ error: any Error, folder: String) -> StateStoreError {
        if let error = error as? StateStoreError { return error }
        guard let db = error as? DatabaseError else {
            return StateStoreError("the state folder \(folder) cannot be used: \(error)")
        }
        switch db.resultCode {
        case .SQLITE_FULL:
            return StateStoreError("the disk holding the state folder \(folder) is full; free space and start again "
                                   + "(what was committed is kept, and what was not is done again)")
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return StateStoreError("the state database in \(folder) is damaged (\(db.message ?? "\(db.resultCode)")); move "
                                   + "state.db aside (every file will then be processed again) or restore it from a backup")
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN:
            return StateStoreError("the state database in \(folder) cannot be written (\(db.message ?? "\(db.resultCode)")); "
                                   + "check the folder's permissions and free space")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            let holders = DatabaseFile.lockHolders(of: folder + "/state.db")
            let who = holders.isEmpty ? "another process" : holders.joined(separator: ", ")
            return StateStoreError("the state database in \(folder) stayed locked by \(who) for \(Int(busyTimeout)) s; "
                                   + "stop \(holders.count == 1 ? "it" : "them"), or let it finish, and start again "
                                   + "(nothing is lost: what was not committed is done again)")
        case .SQLITE_IOERR:
            return StateStoreError("the state database in \(folder) could not be read or written (\(db.message ?? "I/O error")); "
                                   + "check the disk (a full disk shows this way too)")
        default:
            return StateStoreError("the state database in \(folder) failed: \(db.message ?? "\(db.resultCode)")")
        }
    }

    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(StateStoreError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.explain(error, folder: folder)
        }
    }

    public var failure: StateStoreError? { writer.failure }

    public func flush() async throws {
        try await writer.write { _ in }
    }

    // MARK: - Source checkpoints

    public func files(node: String) async throws -> [FileCheckpoint] {
        // Columns by position: a start reads every file the node has handled.
        try await read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT device, inode, size, modified, path, changed, hash, state FROM files WHERE node = ?
                """, arguments: [node])
            var files: [FileCheckpoint] = []
            while let row = try rows.next() {
                let device: Int64 = row[0], inode: Int64 = row[1]
                files.append(FileCheckpoint(
                    identity: FileIdentity(device: UInt64(bitPattern: device), inode: UInt64(bitPattern: inode), size: row[2], modified: row[3]),
                    path: row[4], changed: row[5], contentHash: row[6],
                    state: FileCheckpoint.State(rawValue: row[7]) ?? .emitted))
            }
            return files
        }
    }

    public func filesEmitted(node: String, _ files: [FileCheckpoint]) async throws {
        let now = Date().timeIntervalSince1970
        // Queued, not awaited: a file emitted and not recorded is a new file to the next start,
        // which emits it again; its jobs are then found in the journal.
        writer.enqueue { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO files (node, device, inode, size, modified, changed, hash, path, state, reason, updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'emitted', NULL, ?)
                ON CONFLICT (node, device, inode) DO UPDATE SET size = excluded.size, modified = excluded.modified,
                    changed = excluded.changed, hash = excluded.hash, path = excluded.path, state = 'emitted',
                    reason = NULL, updated = excluded.updated
                """)
            for file in files {
                try statement.execute(arguments: [node, Int64(bitPattern: file.identity.device), Int64(bitPattern: file.identity.inode),
                                                  file.identity.size, file.identity.modified, file.changed, file.contentHash,
                                                  file.path, now])
            }
        }
    }

    public func filesFinished(node: String, _ files: [FileIdentity], contentHashes: [String], failure: String?) async throws {
        let now = Date().timeIntervalSince1970
        try await writer.write { db in
            let statement = try db.cachedStatement(sql: """
                UPDATE files SET state = ?, reason = ?, hash = ?, updated = ?
                WHERE node = ? AND device = ? AND inode = ? AND size = ? AND modified = ?
                """)
            for (file, hash) in zip(files, contentHashes) {
                try statement.execute(arguments: [failure == nil ? "done" : "failed", failure, hash, now, node,
                                                  Int64(bitPattern: file.device), Int64(bitPattern: file.inode), file.size, file.modified])
            }
        }
    }

    // MARK: - Received messages

    public func messageReceived(node: String, _ bytes: Data) async throws -> Int64 {
        let id = SendableBox<Int64>(0)
        let now = Date().timeIntervalSince1970
        try await writer.write { db in
            try db.execute(sql: "INSERT INTO received (node, bytes, received) VALUES (?, ?, ?)", arguments: [node, bytes, now])
            id.set(db.lastInsertedRowID)
        }
        return id.value
    }

    public func messageFinished(node: String, id: Int64) {
        writer.enqueue { db in
            try db.cachedStatement(sql: "DELETE FROM received WHERE node = ? AND id = ?").execute(arguments: [node, id])
        }
    }

    public func pendingMessages(node: String) async throws -> [(id: Int64, bytes: Data)] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT id, bytes FROM received WHERE node = ? ORDER BY id", arguments: [node]).map { row in
                (id: row["id"] as Int64, bytes: row["bytes"] as Data)
            }
        }
    }

    // MARK: - Job journal

    public func completedJob(node: String, name: String) async throws -> CompletedJob? {
        var known = completed.withLock { $0[node] }
        if known == nil {
            let names = try await read { db in
                Set(try String.fetchAll(db, sql: "SELECT name FROM jobs WHERE node = ? AND state = 'completed'", arguments: [node]))
            }
            known = completed.withLock { cache in
                if let other = cache[node] { return other }
                cache[node] = names
                return names
            }
        }
        guard known?.contains(name) == true else { return nil }
        return try await read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT fingerprint, details FROM jobs WHERE node = ? AND name = ? AND state = 'completed'
                """, arguments: [node, name]),
                let details = (row["details"] as String?).flatMap({ try? Value(json: Data($0.utf8)) })?.recordValue
            else { return nil }
            return CompletedJob(fingerprint: row["fingerprint"], details: details)
        }
    }

    public func jobIntent(node: String, job: Job, fingerprint: String) async throws {
        let input = Value.map(job.input).json
        let file = job.input.sourceFile
        let now = Date().timeIntervalSince1970
        let run = currentRun
        writer.enqueue { db in
            try db.cachedStatement(sql: """
                INSERT INTO jobs (node, name, fingerprint, state, input, file, attempts, started, run)
                VALUES (?, ?, ?, 'intent', ?, ?, 1, ?, ?)
                ON CONFLICT (node, name) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'intent',
                    input = excluded.input, file = excluded.file, pid = NULL, remote_id = NULL, exit_code = NULL,
                    duration = NULL, details = NULL, reason = NULL, attempts = attempts + 1, started = excluded.started,
                    ended = NULL, run = excluded.run
                """).execute(arguments: [node, job.name, fingerprint, input, file, now, run])
        }
    }

    public func jobStarted(node: String, name: String, pid: Int32?, remoteID: String?) async throws {
        writer.enqueue { db in
            try db.cachedStatement(sql: "UPDATE jobs SET state = 'running', pid = ?, remote_id = ? WHERE node = ? AND name = ?")
                .execute(arguments: [pid.map { Int64($0) }, remoteID, node, name])
        }
    }

    public func jobFinished(node: String, name: String, outcome: JobOutcome) async throws {
        let now = Date().timeIntervalSince1970
        let state: String, reason: String?, details: Engine.Record?
        switch outcome {
        case .completed(let d): (state, reason, details) = ("completed", nil, d)
        case .failed(let r): (state, reason, details) = ("failed", r, nil)
        case .interrupted: (state, reason, details) = ("interrupted", "hypha stopped while it ran", nil)
        }
        let json = details.map { Value.map($0).json }
        completed.withLock { cache in
            if state == "completed" { cache[node]?.insert(name) } else { cache[node]?.remove(name) }
        }
        // Queued, not awaited: it commits with the next group commit, before anything written
        // after it (the file's end, which follows the result downstream).
        writer.enqueue { db in
            try db.cachedStatement(sql: """
                UPDATE jobs SET state = ?, reason = ?, details = ?, exit_code = ?, duration = ?, stdout_path = ?,
                    stderr_path = ?, remote_id = COALESCE(?, remote_id), ended = ?
                WHERE node = ? AND name = ?
                """).execute(arguments: [state, reason, json, details?["exit_code"]?.intValue, details?["duration"]?.doubleValue,
                                 details?["stdout_path"]?.stringValue, details?["stderr_path"]?.stringValue,
                                 details?["executor"] == .string("bacalhau") ? details?["id"]?.stringValue : nil, now, node, name])
        }
    }

    /// Forgets every file and job (`run --reprocess`); dead letters stay.
    public func forgetAll() async throws(StateStoreError) {
        completed.withLock { $0 = [:] }
        do {
            try await writer.write { db in
                try db.execute(sql: "DELETE FROM files; DELETE FROM jobs; DELETE FROM downloads")
            }
        } catch {
            throw Self.explain(error, folder: folder)
        }
    }

    // MARK: - Dead letters

    public func deadLetter(_ letter: DeadLetter) async throws {
        let payload = StoredPayload.encode(letter.payload)
        let logs = Value.list(letter.logPaths.map(Value.string)).json
        let now = Date().timeIntervalSince1970
        let run = currentRun
        try await writer.write { db in
            if letter.replacesEarlier, let file = letter.file { try Self.dropDeadLetters(db, node: letter.node, file: file) }
            try db.execute(sql: """
                INSERT INTO dead_letters (node, reason, port, payload, file, logs, created, run) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [letter.node, letter.reason, letter.payload.portType.rawValue, payload, letter.file, logs, now, run])
        }
    }

    public func deadLettersResolved(node: String, file: String) async throws {
        try await writer.write { db in try Self.dropDeadLetters(db, node: node, file: file) }
    }

    /// Deletes `node`'s letters for `file` (a source's failure that `file` names).
    static func dropDeadLetters(_ db: Database, node: String, file: String) throws {
        try db.execute(sql: "DELETE FROM dead_letters WHERE node = ? AND file = ?", arguments: [node, file])
    }
}

// MARK: - Reading the journal and the dead letters (`hypha jobs`, `hypha dead-letters`, the endpoint)

extension SQLiteStateStore {
    public func jobs(state: String?, file: String?, name: String? = nil, limit: Int = 1000) async throws(StateStoreError) -> [JournalJob] {
        try await read { db in
            var sql = "SELECT * FROM jobs WHERE 1"
            var arguments: StatementArguments = []
            if let state {
                sql += " AND state = ?"
                _ = arguments.append(contentsOf: [state])
            }
            if let name {
                sql += " AND name = ?"
                _ = arguments.append(contentsOf: [name])
            }
            if let file {
                sql += " AND (file = ? OR file LIKE ? ESCAPE '\\')"
                let escaped = file.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                    .replacingOccurrences(of: "_", with: "\\_")
                _ = arguments.append(contentsOf: [file, "%/" + escaped])
            }
            sql += " ORDER BY started DESC LIMIT \(limit)"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                JournalJob(node: row["node"], name: row["name"], state: row["state"], file: row["file"], input: row["input"],
                           exitCode: row["exit_code"], duration: row["duration"], stdoutPath: row["stdout_path"],
                           stderrPath: row["stderr_path"], remoteID: row["remote_id"], reason: row["reason"],
                           attempts: row["attempts"], started: row["started"], ended: row["ended"], run: row["run"])
            }
        }
    }

    public func deadLetters(ids: [Int64]? = nil, limit: Int? = nil) async throws(StateStoreError) -> [StoredDeadLetter] {
        try await read { db in
            var sql = "SELECT * FROM dead_letters"
            if let ids { sql += " WHERE id IN (\(ids.map(String.init).joined(separator: ",")))" }
            sql += " ORDER BY id DESC" + (limit.map { " LIMIT \(max(0, $0))" } ?? "")
            return try Row.fetchAll(db, sql: sql).reversed().map { row in
                let logs = (try? Value(json: Data((row["logs"] as String).utf8)))?.listValue?.compactMap(\.stringValue) ?? []
                return StoredDeadLetter(id: row["id"], node: row["node"], reason: row["reason"], port: row["port"],
                                        payload: row["payload"], file: row["file"], logs: logs, created: row["created"],
                                        run: row["run"])
            }
        }
    }

    /// Removes dead letters; returns how many there were.
    public func dropDeadLetters(_ ids: [Int64]) async throws(StateStoreError) -> Int {
        do {
            let count = SendableBox(0)
            try await writer.write { db in
                try db.execute(sql: "DELETE FROM dead_letters WHERE id IN (\(ids.map(String.init).joined(separator: ",")))")
                count.set(db.changesCount)
            }
            return count.value
        } catch {
            throw Self.explain(error, folder: folder)
        }
    }
}

/// A value set inside a write closure and read after it.
final class SendableBox<T: Sendable>: Sendable {
    private let storage: Mutex<T>
    init(_ value: T) { storage = Mutex(value) }
    func set(_ value: T) { storage.withLock { $0 = value } }
    var value: T { storage.withLock { $0 } }
}

/// Commits queued writes together ("group commit"), in the order they came. `write` resumes
/// its caller once its transaction has committed, and starts a commit at once; `enqueue` does
/// not wait (for records that no promise rests on until a later awaited write, which commits
/// after them) and lets writes gather for up to `gatherDelay` first, so a busy run commits a
/// few times per ten milliseconds rather than once per record. After a failure every later
/// write fails with the same error: nothing is written past a gap.
final class BatchWriter: Sendable {
    typealias Operation = @Sendable (Database) throws -> Void
    private struct Pending {
        var operations: [(Operation, CheckedContinuation<Void, any Error>?)] = []
        var draining = false
        var gathering = false
        var failure: StateStoreError?
    }
    private let pending = Mutex(Pending())
    /// Whether `pending.failure` is set.
    private let failed = Atomic(false)
    private let pool: DatabasePool
    private let folder: String
    static let gatherDelay: Duration = .milliseconds(5)

    init(pool: DatabasePool, folder: String) {
        self.pool = pool
        self.folder = folder
    }

    func write(_ operation: @escaping Operation) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            submit(operation, continuation)
        }
    }

    func enqueue(_ operation: @escaping Operation) {
        submit(operation, nil)
    }

    /// Read after every message (the runtime stops on a failure), so no lock until one happened.
    var failure: StateStoreError? {
        failed.load(ordering: .acquiring) ? pending.withLock { $0.failure } : nil
    }

    private enum Start { case none, now, later }

    private func submit(_ operation: @escaping Operation, _ continuation: CheckedContinuation<Void, any Error>?) {
        let (start, failure) = pending.withLock { p -> (Start, StateStoreError?) in
            if let failure = p.failure { return (.none, failure) }
            p.operations.append((operation, continuation))
            if p.draining { return (.none, nil) }
            if continuation != nil {
                p.draining = true
                return (.now, nil)
            }
            if p.gathering { return (.none, nil) }
            p.gathering = true
            return (.later, nil)
        }
        if let failure { continuation?.resume(throwing: failure) }
        switch start {
        case .none: break
        case .now: Task { await self.drain() }
        case .later:
            Task {
                try? await Task.sleep(for: Self.gatherDelay)
                let begin = self.pending.withLock { p -> Bool in
                    p.gathering = false
                    guard !p.draining, !p.operations.isEmpty else { return false }
                    p.draining = true
                    return true
                }
                if begin { await self.drain() }
            }
        }
    }

    private func drain() async {
        while true {
            let batch = pending.withLock { p -> [(Operation, CheckedContinuation<Void, any Error>?)] in
                defer { p.operations = [] }
                if p.operations.isEmpty { p.draining = false }
                return p.operations
            }
            guard !batch.isEmpty else { return }
            let operations = batch.map(\.0)
            do {
                try await pool.write { db in
                    for operation in operations { try operation(db) }
                }
                for (_, continuation) in batch { continuation?.resume() }
            } catch {
                let explained = SQLiteStateStore.explain(error, folder: folder)
                let rest = pending.withLock { p -> [(Operation, CheckedContinuation<Void, any Error>?)] in
                    p.failure = explained
                    failed.store(true, ordering: .releasing)
                    p.draining = false
                    defer { p.operations = [] }
                    return p.operations
                }
                for (_, continuation) in batch + rest { continuation?.resume(throwing: explained) }
                return
            }
        }
    }
}

/// A payload as a dead letter keeps it (JSON text), and back.
public enum StoredPayload {
    public static func encode(_ payload: Payload) -> String {
        switch payload {
        case .record(let record): return Value.map(record).json
        case .job(let job): return job.value.json
        case .result(let result):
            return Value.map(Engine.Record([("job", result.job.value), ("state", .string(result.state.rawValue)),
                                     ("details", .map(result.details))])).json
        case .arrow(let data):
            let bytes = (try? data.ipcBytes()) ?? Data()
            return Value.string(bytes.base64EncodedString()).json
        }
    }

    public static func decode(port: String, _ text: String) -> Payload? {
        guard let value = try? Value(json: Data(text.utf8)) else { return nil }
        func job(_ v: Value?) -> Job? {
            guard let v, let name = v["name"]?.stringValue, let spec = v["spec"]?.recordValue else { return nil }
            return Job(name: name, spec: spec, renderedBy: v["rendered_by"]?.stringValue ?? "",
                       input: v["input"]?.recordValue ?? Engine.Record())
        }
        switch port {
        case "record": return value.recordValue.map(Payload.record)
        case "job": return job(value).map(Payload.job)
        case "result":
            guard let j = job(value["job"]) else { return nil }
            return .result(JobResult(job: j, state: .completed, details: value["details"]?.recordValue ?? Engine.Record()))
        case "arrow":
            return value.stringValue.flatMap { Data(base64Encoded: $0) }.map { .arrow(ArrowData(bytes: $0)) }
        default: return nil
        }
    }
}
