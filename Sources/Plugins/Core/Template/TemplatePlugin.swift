import Engine
import Foundation

/// `template` (record or result → job): renders a job spec from the jobstore for each input.
///
/// Variables: the input record's fields at the top level (for a job result: `name`, `state`,
/// `exit_code`, ... and `record`, the record that produced that job), `vars.NAME` (the
/// workflow's vars) and `workflow.name`. A missing variable fails that message with the
/// template's file:line:col.
public struct TemplatePlugin: ProcessorPlugin {
    static let job = NodeOption.required("job", help: "the job template's name (a file NAME.yml in the jobstore)")
    static let jobstore = OptionalNodeOption.path("jobstore", help: "the jobstore folder (default: the workflow's 'jobstore')")

    public static let spec = PluginSpec(
        name: "template",
        summary: "Renders a job spec from a jobstore template for each input record or job result.",
        output: .job, options: [job, jobstore])

    let template: JobTemplate
    /// The start of every generated job name: the workflow's and the job's slugs.
    let namePrefix: String
    /// The hash of what every input's identity is prefixed with (workflow and node).
    let identitySeed: StableHash
    /// `vars.NAME` and `workflow.name`, as templates see them.
    let varsScope: Value
    let workflowScope: Value
    /// This node's id, recorded in each job.
    let renderedBy: String

    public init(node: NodeConfig, context: RunContext) throws {
        template = try Self.loadTemplate(node)
        namePrefix = [SafeName.slug(node.workflow.name), SafeName.slug(template.name)].filter { !$0.isEmpty }.joined(separator: "-")
        var seed = StableHash()
        seed.add("\(node.workflow.name)\u{0}\(node.id)\u{0}".utf8)
        identitySeed = seed
        varsScope = .map(node.workflow.vars)
        workflowScope = .map(Record([("name", .string(node.workflow.name))]))
        renderedBy = node.id
    }

    static func loadTemplate(_ node: NodeConfig) throws(Diagnostic) -> JobTemplate {
        guard let jobstore = node[Self.jobstore] ?? node.workflow.jobstore else {
            throw Diagnostic("node '\(node.id)' (template) needs a jobstore: set 'jobstore:' at the top of the workflow or on the node",
                             at: node.location)
        }
        return try JobTemplate.load(job: node[Self.job], jobstore: jobstore, at: node.location(of: Self.job))
    }

    public static func validate(_ node: NodeConfig) -> [Diagnostic] {
        let template: JobTemplate
        do {
            template = try loadTemplate(node)
        } catch {
            return [error]
        }
        let placeholders: [(Interpolator.Expression, SourceLocation)]
        do {
            placeholders = try template.placeholders()
        } catch {
            return [error]
        }
        // Where every upstream node's fields are known, every variable must exist.
        let upstreamFields = node.upstreamSpecs.map(\.outputFields)
        guard !upstreamFields.isEmpty, upstreamFields.allSatisfy({ $0 != nil }) else { return [] }
        let available = Set(upstreamFields.compactMap { $0 }.reduce([], +) + ["vars", "workflow"])
        var diagnostics: [Diagnostic] = []
        for (expression, location) in placeholders {
            guard let root = expression.path.first else { continue }
            if expression.filters.contains(where: { $0.name == "default" }) { continue }
            if !available.contains(root) {
                diagnostics.append(Diagnostic(
                    "template variable '\(expression.path.joined(separator: "."))' is not provided by node "
                        + node.upstream.map { "'\($0)'" }.joined(separator: ", ") + " (used by node '\(node.id)')"
                        + didYouMean(root, Array(available)) + "; available: " + available.sorted().joined(separator: ", "),
                    at: location))
            } else if root == "vars", expression.path.count > 1, node.workflow.vars[expression.path[1]] == nil {
                diagnostics.append(Diagnostic(
                    "workflow variable '\(expression.path[1])' is not defined\(didYouMean(expression.path[1], node.workflow.vars.names)); "
                        + "add it under 'vars:' or pass --var \(expression.path[1])=VALUE", at: location))
            }
        }
        return diagnostics
    }

    public func process(_ input: RecordOrResult, _ output: Output) async throws {
        var scope: Record
        // What identifies the input across runs: a record's own fields; for a job result, the
        // name of the job that produced it (its record also holds run-specific fields such as
        // log paths and durations). Hashed as it is written, without building the text.
        var identity = identitySeed
        let label: String?
        switch input {
        case .record(let record):
            scope = record
            var json: [UInt8] = []
            Value.map(record).writeJSON(into: &json)
            identity.add(json)
            label = record["name"]?.stringValue
        case .result(let result):
            scope = result.record
            identity.add("after:\(result.job.name)".utf8)
            label = result.job.input["name"]?.stringValue
        }
        let record = scope
        scope["vars"] = varsScope
        scope["workflow"] = workflowScope
        var spec: Record
        do {
            spec = try template.render(scope: scope)
        } catch {
            throw MessageFailure(error.message, at: error.location)
        }
        let name: String
        if let given = spec["Name"]?.stringValue, !given.isEmpty {
            name = given
        } else {
            name = Self.jobName(prefix: namePrefix, label: label, identity: identity)
            spec = Self.withName(name, spec)
        }
        try await output.emit(.job(Job(name: name, spec: spec, renderedBy: renderedBy, input: record)))
    }

    /// A deterministic, readable job name: the same workflow, node and input give the same
    /// name in every run, so a resubmission after a crash finds the job already there.
    /// `prefix` is the workflow's and job's slugs; `label` (the input's file name) adds its stem.
    static func jobName(prefix: String, label: String?, identity: StableHash) -> String {
        var name = prefix
        for part in [label.map { SafeName.slug(PathParts.stem($0)) } ?? "", identity.hex] where !part.isEmpty {
            if !name.isEmpty { name += "-" }
            name += part
        }
        return name
    }

    /// Puts `Name` first, as Bacalhau's own examples do.
    static func withName(_ name: String, _ spec: Record) -> Record {
        Record([("Name", .string(name))] + spec.fields.filter { $0.0 != "Name" })
    }
}

