import ArgumentParser
import Engine

struct GraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph", abstract: "Print a workflow's DAG, with the port type on each edge.",
        discussion: "With --schemas each edge also shows the fields of the records on it and their types, where they are known.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case mermaid, dot }

    @OptionGroup var workflow: WorkflowArguments
    @Option(help: "mermaid or dot.") var format: Format = .mermaid
    @Flag(help: "Show the fields and their types on each edge.") var schemas = false

    func run() async throws {
        let plan = try workflow.load()
        Console.out(format == .mermaid ? Self.mermaid(plan, schemas: schemas) : Self.dot(plan, schemas: schemas))
    }

    /// What travels on the edge `from` → `to`: its port type and, with `schemas`, one
    /// `name: type` line per field (or "fields unknown").
    static func edgeLines(_ from: WorkflowPlan.Node, to target: String, in plan: WorkflowPlan, schemas: Bool) -> [String] {
        let port = from.spec.output?.rawValue ?? "?"
        guard schemas, from.spec.output != .job else { return [port] }
        let consumer = plan.node(target)?.config
        let index = consumer?.upstream.firstIndex(of: from.config.id)
        let schema = index.flatMap { i in consumer.flatMap { $0.upstreamSpecs.indices.contains(i) ? $0.upstreamSpecs[i].outputSchema : nil } }
        guard let schema else { return [port, "(fields unknown)"] }
        return [port] + schema.map(\.description)
    }

    static func label(_ node: WorkflowPlan.Node) -> String { "\(node.config.id)\\n(\(node.config.plugin))" }

    static func mermaid(_ plan: WorkflowPlan, schemas: Bool = false) -> String {
        var lines = ["flowchart LR"]
        for node in plan.nodes {
            let text = "\(node.config.id)<br/>(\(node.config.plugin))".replacingOccurrences(of: "\"", with: "'")
            lines.append("  \(mermaidID(node.config.id))[\"\(text)\"]")
        }
        for node in plan.nodes {
            for target in node.downstream {
                let label = edgeLines(node, to: target, in: plan, schemas: schemas).joined(separator: "<br/>")
                    .replacingOccurrences(of: "\"", with: "'").replacingOccurrences(of: "{", with: "#123;")
                    .replacingOccurrences(of: "}", with: "#125;")
                lines.append("  \(mermaidID(node.config.id)) -- \(schemas ? "\"\(label)\"" : label) --> \(mermaidID(target))")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func mermaidID(_ id: String) -> String {
        "n_" + String(id.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    static func dot(_ plan: WorkflowPlan, schemas: Bool = false) -> String {
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        var lines = ["digraph \(q(plan.info.name)) {", "  rankdir=LR;", "  node [shape=box];"]
        for node in plan.nodes {
            lines.append("  \(q(node.config.id)) [label=\(q("\(node.config.id)\n(\(node.config.plugin))"))];")
        }
        for node in plan.nodes {
            for target in node.downstream {
                let label = edgeLines(node, to: target, in: plan, schemas: schemas).joined(separator: "\n")
                lines.append("  \(q(node.config.id)) -> \(q(target)) [label=\(q(label))];")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }
}
