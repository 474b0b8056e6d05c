import Synchronization

/// Live counters for one node: messages in, out and failed, and work in flight.
public final class NodeStats: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var received = 0
        public var emitted = 0
        public var failed = 0
        /// Messages (or jobs) being handled right now.
        public var active = 0
        /// Messages (or jobs) finished, successfully or not.
        public var done = 0
        /// Bytes received (a download source's progress).
        public var bytes = 0
        /// Attempts made again after a failure (the node's `retry:`).
        public var retries = 0
    }

    public let node: String
    private let counters = Mutex(Snapshot())

    public init(node: String) { self.node = node }

    public var snapshot: Snapshot { counters.withLock { $0 } }

    public func update(_ change: (inout Snapshot) -> Void) {
        counters.withLock { change(&$0) }
    }
}
