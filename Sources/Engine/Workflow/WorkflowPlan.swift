/// A checked workflow, ready to run: every node's plugin is known, its options typed,
/// every edge's port types match, and there is no cycle.
public struct WorkflowPlan: Sendable {
    public struct Node: Sendable {
        public var config: NodeConfig
        public var plugin: any Plugin.Type
        public var spec: PluginSpec { plugin.spec }
        /// Ids of the nodes that read from this one.
        public var downstream: [String]
    }

    public var info: WorkflowInfo
    /// In topological order: every node comes after the nodes it reads from.
    public var nodes: [Node]
    /// Things the loader did that a user should know (nodes left out after a sink swap).
    public var notes: [String] = []

    public func node(_ id: String) -> Node? { nodes.first { $0.config.id == id } }
}
