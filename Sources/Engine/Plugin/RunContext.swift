import Logging

/// What the runtime gives every node: where to write and how to log.
public struct RunContext: Sendable {
    /// A unique id for this run (also in job labels).
    public var runID: String
    /// This run's folder (job logs go under it, see `JobLogs`).
    public var runDirectory: String
    /// Logs with the node's id attached.
    public var logger: Logger

    public init(runID: String, runDirectory: String, logger: Logger) {
        self.runID = runID
        self.runDirectory = runDirectory
        self.logger = logger
    }
}
