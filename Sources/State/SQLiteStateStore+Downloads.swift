import Engine
import Foundation
import GRDB

/// The `downloads` table (schema version 2): what each download source knows of each URL.
enum DownloadTable {
    static func create(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE downloads (
                node TEXT NOT NULL, url TEXT NOT NULL, etag TEXT, last_modified TEXT, sha256 TEXT NOT NULL,
                path TEXT NOT NULL, size INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT, updated REAL NOT NULL,
                PRIMARY KEY (node, url)
            ) WITHOUT ROWID;
            """)
    }
}

extension SQLiteStateStore {
    public func downloads(node: String) async throws -> [DownloadRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT url, etag, last_modified, sha256, path, size, state, reason FROM downloads WHERE node = ?
                """, arguments: [node]).map { row in
                DownloadRecord(url: row[0], etag: row[1], lastModified: row[2], sha256: row[3], path: row[4], size: row[5],
                               state: DownloadRecord.State(rawValue: row[6]) ?? .emitted, reason: row[7])
            }
        }
    }

    public func downloadRecorded(node: String, _ record: DownloadRecord) async throws {
        let now = Date().timeIntervalSince1970
        try await writer.write { db in
            try db.cachedStatement(sql: """
                INSERT INTO downloads (node, url, etag, last_modified, sha256, path, size, state, reason, updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (node, url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
                    sha256 = excluded.sha256, path = excluded.path, size = excluded.size, state = excluded.state,
                    reason = excluded.reason, updated = excluded.updated
                """).execute(arguments: [node, record.url, record.etag, record.lastModified, record.sha256, record.path,
                                         record.size, record.state.rawValue, record.reason, now])
        }
    }
}
