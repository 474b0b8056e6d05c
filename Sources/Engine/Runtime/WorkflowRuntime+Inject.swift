extension WorkflowRuntime {
    /// Why a message could not be put into a running node.
    public enum InjectRefusal: Error, CustomStringConvertible {
        case notRunning
        case unknownNode(String)
        case source(String)
        case ended(String)

        public var description: String {
            switch self {
            case .notRunning: "the workflow is not running"
            case .unknownNode(let node): "the workflow has no node '\(node)' (any more)"
            case .source(let node):
                "'\(node)' is a source: it takes its failures up again itself (a download at its next poll), "
                    + "or stop Hypha and run `hypha dead-letters retry`"
            case .ended(let node): "the input of '\(node)' has ended (the run is finishing); run `hypha dead-letters retry` after it"
            }
        }
    }

    /// Puts a message into the input of processor node `injection.node` while this run runs (a
    /// dead letter retried from the web view): it flows through the rest of the DAG like any
    /// other, and `onComplete` says how it ended. Returns once it is queued (waiting while the
    /// input is full).
    public func inject(_ injection: Injection) async throws(InjectRefusal) {
        guard let index = plan.nodes.firstIndex(where: { $0.config.id == injection.node }) else {
            throw .unknownNode(injection.node)
        }
        guard let running = slots.withLock({ $0 }) else { throw .notRunning }
        guard let input = running.inputs[index] else {
            throw running.sources[index] != nil ? .source(injection.node) : .notRunning
        }
        // Joined as a producer, so the input cannot end while the message is being sent.
        guard input.join() else { throw .ended(injection.node) }
        defer { input.finish() }
        let ack = Acknowledgement(onComplete: injection.onComplete)
        do {
            try await input.send(Message(injection.payload, ack: ack))
        } catch {
            ack.release(interrupted: true)
        }
    }
}
