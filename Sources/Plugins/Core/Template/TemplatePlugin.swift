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
        guard let jobstore = jobstore(of: node) else {
            throw Diagnostic("node '\(node.id)' (template) needs a jobstore: set 'jobstore:' at the top of the workflow or on the node",
                             at: node.location)
        }
        return try JobTemplate.load(job: node[Self.job], jobstore: jobstore, at: node.location(of: Self.job))
    }

    static func jobstore(of node: NodeConfig) -> String? { node[Self.jobstore] ?? node.workflow.jobstore }

    /// The workflow vars it renders: a node is replaced when they change.
    public static func reloadFingerprint(for node: NodeConfig) -> String {
        Value.map(node.workflow.vars).json
    }

    /// Its template file (found, not parsed: a template that does not parse still counts).
    public static func filesRead(by node: NodeConfig) -> [String] {
        jobstore(of: node).flatMap { JobTemplate.file(for: node[Self.job], in: $0) }.map { [$0] } ?? []
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
        // Where every upstream node's fields are known, every variable must exist and every
        // filter must fit the type of what it is applied to.
        let edges = Array(zip(node.upstream, node.upstreamSpecs.map(\.outputSchema)))
        let known = !edges.isEmpty && edges.allSatisfy { $0.1 != nil }
        let schema = RecordField.union(edges.compactMap(\.1))
        var diagnostics: [Diagnostic] = []
        for (expression, location) in placeholders {
            guard let root = expression.path.first else { continue }
            let hasDefault = expression.filters.contains { $0.name == "default" }
            let variable = expression.path.joined(separator: ".")
            if root == "vars" {
                guard expression.path.count > 1 else { continue }
                let name = expression.path[1]
                guard let value = node.workflow.vars[name] else {
                    diagnostics.append(Diagnostic(
                        "workflow variable '\(name)' is not defined\(didYouMean(name, node.workflow.vars.names)); "
                            + "add it under 'vars:' or pass --var \(name)=VALUE", at: location))
                    continue
                }
                if expression.path.count == 2, let (filter, type) = misfit(FieldType(of: value), expression.filters) {
                    diagnostics.append(Diagnostic(
                        "filter '\(filter)' needs a string, but workflow variable '\(name)' is \(article(type)) \(type.rawValue) "
                            + "(\(value.json)); quote it under 'vars:' or drop the filter", at: location))
                }
                continue
            }
            guard root != "workflow", known else { continue }
            switch RecordField.lookup(expression.path, in: schema) {
            case .missing(let path, let available) where !hasDefault:
                let upstream = node.upstream.map { "'\($0)'" }.joined(separator: ", ")
                if path.count == 1 {
                    let names = available + ["vars", "workflow"]
                    diagnostics.append(Diagnostic(
                        "template variable '\(variable)' is not provided by node \(upstream) (used by node '\(node.id)')"
                            + didYouMean(root, names) + "; available: " + names.sorted().joined(separator: ", "), at: location))
                } else {
                    let missing = path[path.count - 1], parent = path.dropLast().joined(separator: ".")
                    diagnostics.append(Diagnostic(
                        "template variable '\(variable)' is not provided: '\(parent)' from node \(upstream) has no field '\(missing)'"
                            + " (used by node '\(node.id)')\(didYouMean(missing, available)); its fields: "
                            + available.joined(separator: ", "), at: location))
                }
            case .found:
                // Checked on each edge, so the message names the one the misfit comes through.
                for (upstream, fields) in edges {
                    guard case .found(let field) = RecordField.lookup(expression.path, in: fields ?? []),
                          let (filter, type) = misfit(field.type, expression.filters) else { continue }
                    diagnostics.append(Diagnostic(
                        "filter '\(filter)' needs a string, but '\(variable)' is \(article(type)) \(type.rawValue) "
                            + "(through the edge '\(upstream)' → '\(node.id)'); filters basename, dirname, stem, ext, lower "
                            + "and upper take text: use a string field or drop the filter", at: location))
                    break
                }
            default:
                break
            }
        }
        return diagnostics
    }

    /// Filters that take a string (and make one).
    static let stringFilters: Set = ["basename", "dirname", "stem", "ext", "lower", "upper"]

    /// The first filter of `filters` that does not fit the type it would get, starting from
    /// `type`, and that type; nil when they all fit (or a type is unknown).
    static func misfit(_ type: FieldType, _ filters: [Interpolator.Filter]) -> (String, FieldType)? {
        var current = type
        for filter in filters {
            switch filter.name {
            case "default":
                if let argument = filter.argument, FieldType(of: argument) != current { current = .any }
            case "json", "quote":
                current = .string
            case let name where stringFilters.contains(name):
                if current != .string && current != .any { return (name, current) }
                current = .string
            default:
                current = .any
            }
        }
        return nil
    }

    static func article(_ type: FieldType) -> String {
        type == .int || type == .any ? "an" : "a"
    }

    public func process(_ input: RecordOrResult, _ output: Output) async throws {
        try await output.emit(.job(try render(input)))
    }

    /// The job this node makes of one input: what `process` emits for it, and what
    /// `hypha render` prints. Renders only; touches nothing. A missing variable throws a
    /// `MessageFailure` at the template's placeholder.
    public func render(_ input: RecordOrResult) throws(MessageFailure) -> Job {
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
        return Job(name: name, spec: spec, renderedBy: renderedBy, input: record)
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

