import Engine
import Foundation
import GRDB

/// The `runs` table (schema version 3): the configuration each run started with, and the `run`
/// column of `jobs` and `dead_letters` that points at it (NULL in rows written before).
enum RunTable {
    static func create(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, workflow TEXT NOT NULL, profile TEXT,
                vars TEXT NOT NULL, sets TEXT NOT NULL, digests TEXT NOT NULL, started REAL NOT NULL, version TEXT
            );
            ALTER TABLE jobs ADD COLUMN run INTEGER;
            ALTER TABLE dead_letters ADD COLUMN run INTEGER;
            """)
    }

    /// `[[name, value or null], ...]`: the order given is kept.
    static func encode(_ overrides: [RunConfiguration.Override]) -> String {
        Value.list(overrides.map { .list([.string($0.name), $0.value.map(Value.string) ?? .null]) }).json
    }

    static func decode(_ text: String) -> [RunConfiguration.Override] {
        ((try? Value(json: Data(text.utf8)))?.listValue ?? []).compactMap { pair in
            guard let items = pair.listValue, let name = items.first?.stringValue else { return nil }
            return RunConfiguration.Override(name: name, value: items.dropFirst().first?.stringValue)
        }
    }

    static func configuration(_ row: Row) -> RunConfiguration {
        let digests = (try? Value(json: Data((row["digests"] as String).utf8)))?.recordValue
        return RunConfiguration(
            id: row["id"], runID: row["run_id"], workflow: row["workflow"], profile: row["profile"],
            vars: decode(row["vars"]), sets: decode(row["sets"]),
            digests: Dictionary(digests?.fields.compactMap { name, value in value.stringValue.map { (name, $0) } } ?? [],
                                uniquingKeysWith: { first, _ in first }),
            started: row["started"], version: row["version"])
    }
}

extension SQLiteStateStore {
    /// The run this process records, once `runStarted` has been said.
    public var currentRun: Int64? {
        let id = currentRunID.load(ordering: .acquiring)
        return id == 0 ? nil : id
    }

    public func runStarted(_ configuration: RunConfiguration) async throws -> Int64 {
        let id = SendableBox<Int64>(0)
        let digests = Value.map(Engine.Record(configuration.digests.sorted { $0.key < $1.key }.map { ($0.key, Value.string($0.value)) })).json
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO runs (run_id, workflow, profile, vars, sets, digests, started, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [configuration.runID, configuration.workflow, configuration.profile,
                                 RunTable.encode(configuration.vars), RunTable.encode(configuration.sets), digests,
                                 configuration.started, configuration.version])
            id.set(db.lastInsertedRowID)
        }
        currentRunID.store(id.value, ordering: .releasing)
        return id.value
    }

    public func run(id: Int64) async throws -> RunConfiguration? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]).map(RunTable.configuration)
        }
    }

    /// The newest `limit` runs, newest first (`hypha jobs --runs`).
    public func runs(limit: Int) async throws(StateStoreError) -> [RunConfiguration] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runs ORDER BY id DESC LIMIT ?", arguments: [max(0, limit)])
                .map(RunTable.configuration)
        }
    }
}
