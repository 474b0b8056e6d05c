/// One job as the journal records it, for what shows recent jobs (the observability endpoint).
public struct JournalJob: Sendable, Codable {
    public var node: String
    public var name: String
    /// A `JournalState` raw value: intent, running, completed, failed, interrupted.
    public var state: String
    /// The source file the job came from, when known.
    public var file: String?
    /// The job's input record, as JSON.
    public var input: String
    public var exitCode: Int64?
    /// Seconds, once it ended.
    public var duration: Double?
    public var stdoutPath: String?
    public var stderrPath: String?
    public var reason: String?
    /// Seconds since 1970.
    public var started: Double?
    public var ended: Double?

    public init(node: String, name: String, state: String, file: String?, input: String, exitCode: Int64?,
                duration: Double?, stdoutPath: String?, stderrPath: String?, reason: String?, started: Double?, ended: Double?) {
        self.node = node
        self.name = name
        self.state = state
        self.file = file
        self.input = input
        self.exitCode = exitCode
        self.duration = duration
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.reason = reason
        self.started = started
        self.ended = ended
    }
}

extension StateStore {
    /// A store that keeps no journal to read answers with none.
    public func recentJobs(limit: Int) async throws -> [JournalJob] { [] }
}
