import Engine

extension SQLiteStateStore {
    /// The newest `limit` jobs of the journal, newest first (`StateStore.recentJobs`).
    public func recentJobs(limit: Int) async throws -> [JournalJob] {
        try await jobs(state: nil, file: nil, limit: max(1, limit)).map { row in
            JournalJob(node: row.node, name: row.name, state: row.state, file: row.file, input: row.input,
                       exitCode: row.exitCode, duration: row.duration, stdoutPath: row.stdoutPath,
                       stderrPath: row.stderrPath, reason: row.reason, started: row.started, ended: row.ended)
        }
    }
}
