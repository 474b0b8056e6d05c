import Engine
import Foundation
import GRDB

/// A file a source recorded, with when and why (`hypha why`).
public struct FileRecord: Sendable {
    public var node: String
    public var checkpoint: FileCheckpoint
    /// When it was last recorded (emitted, then finished), seconds since 1970.
    public var updated: Double
    /// Why it failed, when it did.
    public var reason: String?
}

// MARK: - Reading the sources' checkpoints one file at a time (`hypha why`)

extension SQLiteStateStore {
    /// The files recorded at `path`, or with a path ending in `/path` when it is a bare name,
    /// or (given `node`, `device` and `inode`) that very file under any name; newest first.
    public func fileRecords(path: String, node: String? = nil, device: UInt64? = nil,
                            inode: UInt64? = nil) async throws(StateStoreError) -> [FileRecord] {
        try await read { db in
            var sql = "SELECT node, device, inode, size, modified, path, changed, hash, state, reason, updated FROM files "
                + "WHERE path = ?"
            var arguments: StatementArguments = [path]
            if !path.contains("/") {
                let escaped = path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                    .replacingOccurrences(of: "_", with: "\\_")
                sql += " OR path LIKE ? ESCAPE '\\'"
                _ = arguments.append(contentsOf: ["%/" + escaped])
            }
            if let node, let device, let inode {
                sql += " OR (node = ? AND device = ? AND inode = ?)"
                _ = arguments.append(contentsOf: [node, Int64(bitPattern: device), Int64(bitPattern: inode)])
            }
            sql += " ORDER BY updated DESC"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let device: Int64 = row[1], inode: Int64 = row[2]
                let checkpoint = FileCheckpoint(
                    identity: FileIdentity(device: UInt64(bitPattern: device), inode: UInt64(bitPattern: inode), size: row[3], modified: row[4]),
                    path: row[5], changed: row[6], contentHash: row[7], state: FileCheckpoint.State(rawValue: row[8]) ?? .emitted)
                return FileRecord(node: row[0], checkpoint: checkpoint, updated: row[10], reason: row[9])
            }
        }
    }
}
