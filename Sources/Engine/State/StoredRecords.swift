/// One job as the journal records it (`hypha jobs`, the observability endpoint).
public struct JournalJob: Sendable {
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
    /// The id Bacalhau gave it.
    public var remoteID: String?
    public var reason: String?
    /// How many times it was taken up (its intents).
    public var attempts: Int
    /// Seconds since 1970.
    public var started: Double?
    public var ended: Double?

    public init(node: String, name: String, state: String, file: String?, input: String, exitCode: Int64?,
                duration: Double?, stdoutPath: String?, stderrPath: String?, remoteID: String? = nil, reason: String?,
                attempts: Int = 1, started: Double?, ended: Double?) {
        self.node = node
        self.name = name
        self.state = state
        self.file = file
        self.input = input
        self.exitCode = exitCode
        self.duration = duration
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.remoteID = remoteID
        self.reason = reason
        self.attempts = attempts
        self.started = started
        self.ended = ended
    }
}

/// A dead letter as it was kept (`hypha dead-letters`, the observability endpoint): its
/// payload as stored JSON text (`StoredPayload`).
public struct StoredDeadLetter: Sendable {
    public var id: Int64
    public var node: String
    public var reason: String
    /// The port type of its payload.
    public var port: String
    public var payload: String
    public var file: String?
    public var logs: [String]
    /// Seconds since 1970.
    public var created: Double

    public init(id: Int64, node: String, reason: String, port: String, payload: String, file: String?, logs: [String],
                created: Double) {
        self.id = id
        self.node = node
        self.reason = reason
        self.port = port
        self.payload = payload
        self.file = file
        self.logs = logs
        self.created = created
    }
}
