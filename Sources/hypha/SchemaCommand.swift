import ArgumentParser
import Engine

/// `hypha schema [--job]`: JSON Schemas (draft 2020-12) for editors: the workflow format with
/// every plugin's options, or a Bacalhau job spec (a jobstore template).
struct SchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print a JSON Schema of the workflow format (or, with --job, of a job template) for editors.",
        discussion: """
            The workflow schema is built from the plugins' own declarations: every option with its type, \
            default, choices, range and help. Save it and point yaml-language-server at it, with a first \
            line `# yaml-language-server: $schema=PATH` in a workflow file or with the `yaml.schemas` \
            setting of VS Code (README.md, "Editor support"). Values may be `{{ ... }}` or `${...}` \
            placeholders wherever a number, flag or duration is expected.
            """)

    @Flag(help: "The schema of a job template (a Bacalhau Job spec) instead of a workflow.")
    var job = false

    func run() async throws {
        Console.out(PrettyJSON.text(job ? JobSchema.schema() : WorkflowSchema.schema(BuiltinPlugins.all)))
    }
}

/// Small builders for schema objects, in key order.
private func object(_ fields: [(String, Value)]) -> Value { .map(Record(fields)) }
private func ref(_ name: String) -> Value { object([("$ref", .string("#/$defs/\(name)"))]) }
private func anyOf(_ items: [Value]) -> Value { object([("anyOf", .list(items))]) }
private func typed(_ type: String, _ more: [(String, Value)] = []) -> Value { object([("type", .string(type))] + more) }

/// The JSON Schema of a workflow file, from the plugins' specs.
enum WorkflowSchema {
    /// A string holding a `{{ ... }}` or `${...}` placeholder: a value known only once loaded.
    static let placeholderPattern = #"\{\{.*\}\}|\$\{[^}]+\}"#
    static let durationPattern = #"^\s*[0-9]+(\.[0-9]*)?\s*(ms|s|m|h)?\s*$"#

    static func schema(_ plugins: [any Plugin.Type]) -> Value {
        let specs = plugins.map { $0.spec }.sorted { $0.name < $1.name }
        var defs: [(String, Value)] = [
            ("placeholder", typed("string", [
                ("pattern", .string(placeholderPattern)),
                ("description", "a value filled in when the workflow loads: {{ vars.NAME }}, ${ENV} or ${ENV:-default}"),
            ])),
            ("duration", anyOf([
                typed("number", [("minimum", .int(0))]),
                typed("string", [("pattern", .string(durationPattern))]),
                ref("placeholder"),
            ])),
            ("from", object([
                ("description", "the node (or nodes) this one reads from"),
                ("anyOf", .list([typed("string"), typed("array", [("items", typed("string")), ("minItems", .int(1))])])),
            ])),
            ("retry", section(WorkflowKeys.retry)),
            ("node", node(specs)),
            ("node-override", override(specs)),
        ]
        for spec in specs { defs.append(("plugin-" + spec.name, pluginNode(spec))) }
        return object([
            ("$schema", "https://json-schema.org/draft/2020-12/schema"),
            ("title", "Hypha workflow"),
            ("description", "A DAG of source, transform and sink plugins (hypha validate checks everything else)."),
            ("type", "object"),
            ("required", ["nodes"]),
            ("additionalProperties", .bool(false)),
            ("properties", object(WorkflowKeys.topLevel.map { ($0.name, topLevel($0)) })),
            ("$defs", .map(Record(defs))),
        ])
    }

    /// A key at the top of a workflow file, from its declaration.
    static func topLevel(_ key: TopLevelKey) -> Value {
        let help: (String, Value) = ("description", .string(key.help))
        switch key.kind {
        case .text: return typed("string", [help])
        case .section(let section): return self.section(section)
        case .vars: return typed("object", [help])
        case .nodes: return typed("object", [help, ("minProperties", .int(1)), ("additionalProperties", ref("node"))])
        case .profiles:
            return typed("object", [help, ("additionalProperties", typed("object", [
                ("description", "node id → the plugin and options to put in its place"),
                ("additionalProperties", ref("node-override")),
            ]))])
        }
    }

    /// A key whose value is a mapping of declared keys (or a lone value for its shorthand key).
    static func section(_ section: KeySection) -> Value {
        let mapping = typed("object", [
            ("additionalProperties", .bool(false)),
            ("properties", object(section.keys.map { ($0.name, option($0, placeholders: false)) })),
        ])
        guard let shorthand = section.shorthand else { return object([("description", .string(section.help))] + fields(of: mapping)) }
        return object([("description", .string(section.help)), ("anyOf", .list([option(shorthand, placeholders: false), mapping]))])
    }

    static func fields(of value: Value) -> [(String, Value)] {
        guard case .map(let record) = value else { return [] }
        return Array(record.fields).map { ($0, $1) }
    }

    static func pluginNames(_ specs: [PluginSpec]) -> Value {
        .list(specs.map { .string($0.name) })
    }

    /// A node: `plugin` picks which plugin's options apply.
    static func node(_ specs: [PluginSpec]) -> Value {
        object([
            ("type", "object"),
            ("required", ["plugin"]),
            ("properties", object([
                ("plugin", object([("description", "the plugin that runs this node (hypha plugins lists them)"),
                                   ("enum", pluginNames(specs))])),
                ("from", ref("from")),
                ("description", typed("string")),
                ("retry", ref("retry")),
            ])),
            ("allOf", .list(specs.map { spec in
                object([
                    ("if", object([("properties", object([("plugin", object([("const", .string(spec.name))]))])),
                                   ("required", ["plugin"])])),
                    ("then", ref("plugin-" + spec.name)),
                ])
            })),
        ])
    }

    /// A profile's override of a node: a plugin and any options (checked once applied).
    static func override(_ specs: [PluginSpec]) -> Value {
        object([
            ("type", "object"),
            ("properties", object([
                ("plugin", object([("description", "the plugin to put in the node's place"), ("enum", pluginNames(specs))])),
            ])),
        ])
    }

    /// The keys a node of `spec`'s plugin may have.
    static func pluginNode(_ spec: PluginSpec) -> Value {
        var properties: [(String, Value)] = [
            ("plugin", object([("const", .string(spec.name)), ("description", .string(spec.summary))])),
            ("from", .bool(true)), ("description", .bool(true)), ("retry", .bool(true)),
        ]
        for option in spec.options { properties.append((option.name, self.option(option))) }
        let required = spec.options.filter(\.required).map { Value.string($0.name) }
        var fields: [(String, Value)] = [("type", "object")]
        if !required.isEmpty { fields.append(("required", .list(required))) }
        fields += [("additionalProperties", .bool(false)), ("properties", .map(Record(properties)))]
        return object(fields)
    }

    /// One option: its type (or a placeholder, where the loader fills them in: plugin options,
    /// not the workflow's own keys), bounds, choices, default and help.
    static func option(_ option: OptionSpec, placeholders: Bool = true) -> Value {
        var bounds: [(String, Value)] = []
        if let range = option.range {
            if let lo = range.minimum { bounds.append((range.excludesMinimum ? "exclusiveMinimum" : "minimum", number(lo))) }
            if let hi = range.maximum { bounds.append(("maximum", number(hi))) }
        }
        // Plain scalars of any kind are read as text by a string option (`tag: 1.10`).
        let text = object([("type", ["string", "number", "boolean"])])
        var alternatives: [Value]
        if let choices = option.choices {
            alternatives = [object([("enum", .list(choices.map(Value.string)))]), ref("placeholder")]
        } else {
            switch option.type {
            case .string, .path: alternatives = [text]
            case .int:
                alternatives = [typed("integer", bounds), typed("string", [("pattern", #"^\s*[-+]?[0-9]+\s*$"#)]), ref("placeholder")]
            case .float:
                alternatives = [typed("number", bounds), typed("string", [("pattern", #"^\s*[-+]?[0-9.]+([eE][-+]?[0-9]+)?\s*$"#)]),
                                ref("placeholder")]
            case .bool: alternatives = [typed("boolean"), object([("enum", ["true", "false"])]), ref("placeholder")]
            case .duration:
                alternatives = [typed("number", bounds.isEmpty ? [("minimum", .int(0))] : bounds),
                                typed("string", [("pattern", .string(durationPattern))]), ref("placeholder")]
            case .stringList:
                alternatives = [text, typed("array", [("items", object([("type", ["string", "number"])]))])]
            case .fields:
                alternatives = [typed("object", [("additionalProperties",
                                                  object([("enum", .list(FieldType.allCases.map { .string($0.rawValue) }))]))])]
            }
        }
        if !placeholders { alternatives.removeAll { $0 == ref("placeholder") } }
        var fields: [(String, Value)] = []
        if alternatives.count == 1 {
            fields = self.fields(of: alternatives[0])
        } else {
            fields = [("anyOf", .list(alternatives))]
        }
        var help = option.help
        if option.type == .duration { help += " (seconds, or like 500ms, 10s, 5m, 1h)" }
        if option.required { help += " (required)" }
        fields.append(("description", .string(help)))
        if let value = option.defaultValue { fields.append(("default", value)) }
        return object(fields)
    }

    static func number(_ d: Double) -> Value {
        d == d.rounded() && abs(d) < 9e15 ? .int(Int64(d)) : .float(d)
    }
}

/// The JSON Schema of a job template: a Bacalhau Job spec (the shape `bacalhau` submits and
/// `process` runs), with `{{ ... }}` placeholders allowed for numbers.
enum JobSchema {
    static func schema() -> Value {
        let placeholder = typed("string", [("pattern", .string(WorkflowSchema.placeholderPattern))])
        func integer(_ help: String, minimum: Int64? = nil) -> Value {
            var bounds: [(String, Value)] = []
            if let minimum { bounds.append(("minimum", .int(minimum))) }
            return object([("anyOf", .list([typed("integer", bounds), placeholder])), ("description", .string(help))])
        }
        let stringMap = typed("object", [("additionalProperties", object([("type", ["string", "number", "boolean"])]))])
        let specConfig = typed("object", [
            ("required", ["Type"]),
            ("properties", object([
                ("Type", typed("string", [("description", "the engine, publisher or source type (process, docker, wasm, local, s3, ...)")])),
                ("Params", typed("object", [("description", "the type's parameters (process: Name, Arguments, WorkingDirectory)")])),
            ])),
        ])
        let task = typed("object", [
            ("required", ["Name", "Engine"]),
            ("additionalProperties", .bool(false)),
            ("properties", object([
                ("Name", typed("string")),
                ("Engine", object([("$ref", "#/$defs/SpecConfig"), ("description", "what runs: Type process (Params.Name, Params.Arguments), docker, wasm")])),
                ("Publisher", object([("$ref", "#/$defs/SpecConfig"), ("description", "where results go: noop, local, ipfs, s3, s3managed")])),
                ("Env", object([("description", "environment variables of the task"), ("type", "object"),
                                ("additionalProperties", object([("type", ["string", "number", "boolean"])]))])),
                ("Meta", stringMap),
                ("InputSources", typed("array", [("items", typed("object", [
                    ("properties", object([
                        ("Source", ref("SpecConfig")), ("Alias", typed("string")), ("Target", typed("string")),
                    ])),
                ]))])),
                ("ResultPaths", typed("array", [("items", typed("object", [
                    ("required", ["Name", "Path"]),
                    ("properties", object([("Name", typed("string")), ("Path", typed("string"))])),
                ]))])),
                ("Resources", typed("object", [("properties", object([
                    ("CPU", typed("string")), ("Memory", typed("string")), ("Disk", typed("string")), ("GPU", typed("string")),
                ]))])),
                ("Network", typed("object", [("properties", object([
                    ("Type", object([("enum", ["Default", "None", "Host", "Full", "HTTP", "Bridge",
                                               "default", "none", "host", "full", "http", "bridge"])])),
                    ("Domains", typed("array", [("items", typed("string"))])),
                    ("Ports", typed("array")),
                ]))])),
                ("Timeouts", typed("object", [
                    ("additionalProperties", .bool(false)),
                    ("properties", object([
                        ("ExecutionTimeout", integer("seconds a run may take", minimum: 0)),
                        ("QueueTimeout", integer("seconds a job may wait for a node", minimum: 0)),
                        ("TotalTimeout", integer("seconds from submission to the end", minimum: 0)),
                    ])),
                ])),
            ])),
        ])
        return object([
            ("$schema", "https://json-schema.org/draft/2020-12/schema"),
            ("title", "Hypha job template (a Bacalhau Job)"),
            ("type", "object"),
            ("required", ["Type", "Tasks"]),
            ("additionalProperties", .bool(false)),
            ("properties", object([
                ("Name", typed("string", [("description", "the job's name (default: made by the template node, deterministic per input)")])),
                ("Namespace", typed("string")),
                ("Type", object([("anyOf", .list([object([("enum", ["batch", "ops", "service", "daemon"])]), placeholder])),
                                 ("description", "batch, ops, service or daemon")])),
                ("Priority", integer("the job's priority")),
                ("Count", integer("how many copies run (batch and service)", minimum: 0)),
                ("Constraints", typed("array", [("items", typed("object", [
                    ("required", ["Key", "Operator"]),
                    ("properties", object([
                        ("Key", typed("string")),
                        ("Operator", object([("enum", ["in", "notin", "exists", "!", "=", "==", "!=", "gt", "lt"])])),
                        ("Values", typed("array", [("items", typed("string"))])),
                    ])),
                ]))])),
                ("Labels", stringMap),
                ("Meta", stringMap),
                ("Tasks", typed("array", [("minItems", .int(1)), ("items", ref("Task"))])),
            ])),
            ("$defs", object([("SpecConfig", specConfig), ("Task", task)])),
        ])
    }
}

/// JSON with two-space indentation, keys in record order.
enum PrettyJSON {
    static func text(_ value: Value, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .list(let items) where !items.isEmpty:
            if items.allSatisfy({ if case .map = $0 { return false }; if case .list = $0 { return false }; return true }) {
                return "[" + items.map(\.json).joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { inner + text($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .map(let record) where !record.isEmpty:
            return "{\n" + record.fields.map { inner + Value.string($0).json + ": " + text($1, indent: inner) }.joined(separator: ",\n")
                + "\n" + indent + "}"
        default:
            return value.json
        }
    }
}
