import Foundation
import Synchronization

extension WorkflowRuntime {
    /// The instances of a running workflow's nodes, by index in the plan.
    struct Slots: Sendable {
        var sources: [Int: SourceSlot]
        var processors: [Int: ProcessorSlot]
        /// Each processor's input channel, by node index (`inject(_:)`).
        var inputs: [Int: BoundedChannel<Message>] = [:]
    }

    /// Builds a node's plugin instance, with its own logger and the run's context.
    func makeInstance(of node: WorkflowPlan.Node) throws -> any Plugin {
        var nodeLogger = logger
        nodeLogger[metadataKey: "node"] = "\(node.config.id)"
        let context = RunContext(runID: runID, runDirectory: runDirectory, logger: nodeLogger, state: state, jobGuard: jobGuard)
        return try node.plugin.init(node: node.config, context: context)
    }

    /// Why a new version of the workflow cannot replace nodes of the running one in place.
    public struct ShapeChanged: Error, CustomStringConvertible {
        public var description: String
    }

    /// Why a reload changed nothing.
    public struct ReloadFailed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Replaces the nodes whose configuration differs in `newPlan` (a new version of the running
    /// workflow, checked by the loader), leaving the others running, and returns their ids.
    ///
    /// A processor's new instance takes the next message from its input; the old one finishes
    /// the messages it holds and is then finished. A source is stopped, every message it emitted
    /// ends and its records are written, and the new instance starts from those records, so no
    /// file is lost or emitted twice. Every new instance is built before anything is replaced:
    /// if one cannot be, nothing changes (`ReloadFailed`). A workflow whose shape changed (a
    /// node added, removed, of another plugin or with other inputs) or whose name or state
    /// folder changed throws `ShapeChanged`: it needs the run started again.
    public func reload(to newPlan: WorkflowPlan) async throws -> [String] {
        let busy = reloading.withLock { busy in
            defer { busy = true }
            return busy
        }
        guard !busy else { throw ReloadFailed(description: "a reload is already in progress") }
        defer { reloading.withLock { $0 = false } }
        if let reason = Self.shapeChange(from: plan, to: newPlan) { throw ShapeChanged(description: reason) }
        guard let slots = slots.withLock({ $0 }) else { throw ReloadFailed(description: "the workflow is not running") }

        var changed: [(index: Int, node: WorkflowPlan.Node, instance: any Plugin)] = []
        var behaviours: [Int: String] = [:]
        for (index, node) in newPlan.nodes.enumerated() {
            let behaviour = Self.behaviour(of: node)
            guard behaviour != runningBehaviour.withLock({ $0[index] }) else { continue }
            behaviours[index] = behaviour
            do {
                changed.append((index, node, try makeInstance(of: node)))
            } catch {
                throw ReloadFailed(description: "node '\(node.config.id)' cannot start with its new configuration: \(error)")
            }
        }
        runningBehaviour.withLock { $0.merge(behaviours) { $1 } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, node, instance) in changed {
                let id = node.config.id
                if let processor = instance as? any ProcessorPlugin, let slot = slots.processors[index] {
                    group.addTask {
                        guard let old = await slot.swap(to: node, processor: processor) else {
                            self.logger.notice("node had finished; its new configuration is not started", metadata: ["node": "\(id)"])
                            try? await processor.finish()
                            return
                        }
                        do {
                            try await old.finish()
                        } catch {
                            self.recordFailure(node: index, "finishing the replaced instance: \(error)")
                        }
                    }
                } else if let source = instance as? any SourcePlugin, let slot = slots.sources[index] {
                    group.addTask {
                        if await !slot.replace(with: source) {
                            self.logger.notice("source had ended; its new configuration is not started", metadata: ["node": "\(id)"])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return changed.map(\.node.config.id)
    }

    /// What decides whether a running node must be replaced: its options' values, its retry
    /// settings, what its plugin says it depends on (`reloadFingerprint`) and the content of
    /// the files it reads (`filesRead`). Where options are written does not matter.
    static func behaviour(of node: WorkflowPlan.Node) -> String {
        let config = node.config
        var parts = config.options.keys.sorted().map { key in "\(key)=\(config.options[key]?.value.json ?? "")" }
        if let retry = config.retry {
            parts.append("retry=\(retry.attempts),\(retry.policy.initialDelay),\(retry.policy.maxDelay)")
        }
        parts.append("plugin:" + node.plugin.reloadFingerprint(for: config))
        for file in node.plugin.filesRead(by: config) {
            var hash = StableHash()
            hash.add(FileManager.default.contents(atPath: file) ?? Data())
            parts.append("file:\(file)=\(hash.hex)")
        }
        return parts.joined(separator: "\u{0}")
    }

    /// How `new` differs from `old` in a way nodes cannot be replaced in place, if it does.
    static func shapeChange(from old: WorkflowPlan, to new: WorkflowPlan) -> String? {
        if old.info.name != new.info.name { return "the workflow's name changed (\(old.info.name) → \(new.info.name))" }
        if old.info.stateDirectory != new.info.stateDirectory { return "its state_dir changed" }
        let oldIDs = old.nodes.map(\.config.id)
        let newIDs = new.nodes.map(\.config.id)
        if let added = newIDs.first(where: { !oldIDs.contains($0) }) { return "node '\(added)' was added" }
        if let removed = oldIDs.first(where: { !newIDs.contains($0) }) { return "node '\(removed)' was removed" }
        if oldIDs != newIDs { return "the order of the nodes changed" }
        for (a, b) in zip(old.nodes, new.nodes) {
            if a.config.plugin != b.config.plugin {
                return "node '\(a.config.id)' changed plugin (\(a.config.plugin) → \(b.config.plugin))"
            }
            if a.config.upstream != b.config.upstream || a.downstream != b.downstream {
                return "the inputs of node '\(a.config.id)' changed"
            }
        }
        return nil
    }
}
