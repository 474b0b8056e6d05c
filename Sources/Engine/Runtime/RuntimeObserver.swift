/// Read hooks into a running `WorkflowRuntime`, for whatever watches it (the observability
/// endpoint, docs/OBSERVE.md). Nodes are named by their index in `WorkflowPlan.nodes`.
///
/// The runtime calls these on the path of every message, so an observer must be quick and
/// must not take a lock shared by all nodes per message: it should keep per-node state and do
/// its heavier work (formatting, exporting) when it is read. Every hook has an empty default,
/// so an observer implements only what it needs.
public protocol RuntimeObserver: Sendable {
    /// The run has built its channels: each processor node's input queue, by node index, and
    /// each node's counters.
    func runStarted(queues: [Int: any QueueGauge], stats: [NodeStats])
    /// A node takes a message (for an executor, a job starts).
    func messageStarted(node: Int, payload: Payload)
    /// A node emits a message (for an executor, the job's result).
    func messageEmitted(node: Int, output: Payload)
    /// A node is done with a message: `failure` is nil when it succeeded; `interrupted` when a
    /// shutdown left it unfinished.
    func messageFinished(node: Int, payload: Payload, failure: (any Error)?, interrupted: Bool)
    /// A failure the run records (a message that failed for good, a source or finish error).
    func failureRecorded(node: Int, message: String)
    /// A source emits `payload`; the observer may return another acknowledgement that stands
    /// for `ack` (released when everything downstream is done) to see when the message ends.
    func sourceEmitted(node: Int, payload: Payload, ack: Acknowledgement) -> Acknowledgement
}

extension RuntimeObserver {
    public func runStarted(queues: [Int: any QueueGauge], stats: [NodeStats]) {}
    public func messageStarted(node: Int, payload: Payload) {}
    public func messageEmitted(node: Int, output: Payload) {}
    public func messageFinished(node: Int, payload: Payload, failure: (any Error)?, interrupted: Bool) {}
    public func failureRecorded(node: Int, message: String) {}
    public func sourceEmitted(node: Int, payload: Payload, ack: Acknowledgement) -> Acknowledgement { ack }
}

/// A queue an observer may read: how many elements wait, and how many fit.
public protocol QueueGauge: Sendable {
    var count: Int { get }
    var capacity: Int { get }
}

extension BoundedChannel: QueueGauge {}

extension Acknowledgement {
    /// A new acknowledgement that, when it completes, releases one hold of `self` with the same
    /// outcome and then calls `then`: lets a watcher see a message end without owning it.
    public func relayed(then: @escaping @Sendable (Delivery) -> Void) -> Acknowledgement {
        Acknowledgement { delivery in
            switch delivery {
            case .delivered: self.release()
            case .failed(let reason): self.release(failure: reason)
            case .interrupted: self.release(interrupted: true)
            }
            then(delivery)
        }
    }
}
