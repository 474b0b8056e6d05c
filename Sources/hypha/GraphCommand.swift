import ArgumentParser
import Engine

struct GraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph", abstract: "Print a workflow's DAG, with the port type on each edge.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case mermaid, dot }

    @OptionGroup var workflow: WorkflowArguments
    @Option(help: "mermaid or dot.") var format: Format = .mermaid

    func run() async throws {
        let plan = try workflow.load()
        Console.out(format == .mermaid ? Self.mermaid(plan) : Self.dot(plan))
    }

    static func label(_ node: WorkflowPlan.Node) -> String { "\(node.config.id)\\n(\(node.config.plugin))" }

    static func mermaid(_ plan: WorkflowPlan) -> String {
        var lines = ["flowchart LR"]
        for node in plan.nodes {
            let text = "\(node.config.id)<br/>(\(node.config.plugin))".replacingOccurrences(of: "\"", with: "'")
            lines.append("  \(mermaidID(node.config.id))[\"\(text)\"]")
        }
        for node in plan.nodes {
            for target in node.downstream {
                lines.append("  \(mermaidID(node.config.id)) -- \(node.spec.output?.rawValue ?? "?") --> \(mermaidID(target))")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func mermaidID(_ id: String) -> String {
        "n_" + String(id.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    static func dot(_ plan: WorkflowPlan) -> String {
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        var lines = ["digraph \(q(plan.info.name)) {", "  rankdir=LR;", "  node [shape=box];"]
        for node in plan.nodes {
            lines.append("  \(q(node.config.id)) [label=\(q("\(node.config.id)\n(\(node.config.plugin))"))];")
        }
        for node in plan.nodes {
            for target in node.downstream {
                lines.append("  \(q(node.config.id)) -> \(q(target)) [label=\(q(node.spec.output?.rawValue ?? "?"))];")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }
}
