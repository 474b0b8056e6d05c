import Logging

/// What the runtime gives every node: where to write, how to log, how to report progress.
public struct RunContext: Sendable {
    /// A unique id for this run (also in job labels).
    public var runID: String
    /// This run's folder (job logs go under it).
    public var runDirectory: String
    /// Whether the run processes what is present and then exits.
    public var once: Bool
    public var logger: Logger
    /// Counters this node reports into; the progress display reads them.
    public var stats: NodeStats

    public init(runID: String, runDirectory: String, once: Bool, logger: Logger, stats: NodeStats) {
        self.runID = runID
        self.runDirectory = runDirectory
        self.once = once
        self.logger = logger
        self.stats = stats
    }
}
