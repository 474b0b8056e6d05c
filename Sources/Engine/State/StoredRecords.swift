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
    /// The run that last took it up (`StateStore.run(id:)`); nil for a job recorded before runs were.
    public var run: Int64?

    public init(node: String, name: String, state: String, file: String?, input: String, exitCode: Int64?,
                duration: Double?, stdoutPath: String?, stderrPath: String?, remoteID: String? = nil, reason: String?,
                attempts: Int = 1, started: Double?, ended: Double?, run: Int64? = nil) {
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
        self.run = run
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
    /// The run that made it (`StateStore.run(id:)`); nil for a letter kept before runs were recorded.
    public var run: Int64?

    public init(id: Int64, node: String, reason: String, port: String, payload: String, file: String?, logs: [String],
                created: Double, run: Int64? = nil) {
        self.id = id
        self.node = node
        self.reason = reason
        self.port = port
        self.payload = payload
        self.file = file
        self.logs = logs
        self.created = created
        self.run = run
    }
}

/// The configuration a run ran with (`hypha run`'s `--var`, `--profile` and `--set`, and what
/// the files it read looked like), recorded at its start: `hypha dead-letters retry` loads the
/// workflow with it again, so a retried message meets the plan that failed it.
public struct RunConfiguration: Sendable, Equatable {
    /// A `--var NAME=VALUE` or `--set NODE.OPTION=VALUE` (named `NODE.OPTION`) as given.
    public struct Override: Sendable, Equatable {
        public var name: String
        /// Nil when the name looks like a secret's (`ProcessEnvironment.isSecret`): its value is
        /// not kept, and a retry takes it from the command line or the workflow again.
        public var value: String?

        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }

    /// The id the store gave it (nil until recorded).
    public var id: Int64?
    /// The run's own id, the name of its folder of job logs (`runs/RUN-ID`).
    public var runID: String
    /// The workflow file's path.
    public var workflow: String
    public var profile: String?
    public var vars: [Override]
    public var sets: [Override]
    /// A digest of each file the plan read (the workflow, its jobstore templates, the files
    /// its nodes say they read), by path: a retry says which changed since.
    public var digests: [String: String]
    /// Seconds since 1970.
    public var started: Double
    /// The Hypha that ran it.
    public var version: String?

    public init(id: Int64? = nil, runID: String, workflow: String, profile: String?, vars: [Override], sets: [Override],
                digests: [String: String], started: Double, version: String?) {
        self.id = id
        self.runID = runID
        self.workflow = workflow
        self.profile = profile
        self.vars = vars
        self.sets = sets
        self.digests = digests
        self.started = started
        self.version = version
    }

    /// Whether two runs were given the same `--var`s, `--profile` and `--set`s (in any order).
    public func sameOverrides(as other: RunConfiguration) -> Bool {
        func sorted(_ list: [Override]) -> [Override] { list.sorted { $0.name < $1.name } }
        return profile == other.profile && sorted(vars) == sorted(other.vars) && sorted(sets) == sorted(other.sets)
    }
}
