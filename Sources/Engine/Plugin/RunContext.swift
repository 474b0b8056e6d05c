import Logging

/// What the runtime gives every node: where to write and how to log.
public struct RunContext: Sendable {
    /// A unique id for this run (also in job labels).
    public var runID: String
    /// This run's folder (job logs go under it, see `JobLogs`).
    public var runDirectory: String
    /// Logs with the node's id attached.
    public var logger: Logger
    /// What is remembered between runs (source checkpoints, the job journal); nil when the
    /// run keeps no state (tests, `hypha render`).
    public var state: (any StateStore)?
    /// Keeps local jobs from outliving Hypha (see `JobGuard`); nil when none is running.
    public var jobGuard: (any JobGuard)?

    public init(runID: String, runDirectory: String, logger: Logger, state: (any StateStore)? = nil,
                jobGuard: (any JobGuard)? = nil) {
        self.runID = runID
        self.runDirectory = runDirectory
        self.logger = logger
        self.state = state
        self.jobGuard = jobGuard
    }
}
