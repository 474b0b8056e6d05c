import Foundation

/// Loads a workflow file and checks it completely before anything runs: YAML syntax,
/// structure, plugins, options, edges and their port types, cycles, profiles and each
/// plugin's own checks. All problems are reported together.
public struct WorkflowLoader: Sendable {
    public var registry: PluginRegistry
    public var environment: [String: String]

    public init(registry: PluginRegistry, environment: [String: String] = ProcessEnvironment.values) {
        self.registry = registry
        self.environment = environment
    }

    /// Loads and checks the workflow at `path`. Throws `Diagnostics` listing every problem.
    public func load(path: String, overrides: RunOverrides = RunOverrides()) throws(Diagnostics) -> WorkflowPlan {
        let start = SourceLocation(file: path, line: 1, column: 1)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw Diagnostics([Diagnostic("no such workflow file; give the path of a workflow YAML file", at: start)])
        }
        guard !isDirectory.boolValue else {
            throw Diagnostics([Diagnostic("this is a folder; give the path of a workflow YAML file in it", at: start)])
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Diagnostics([Diagnostic("cannot read the workflow file as UTF-8 text (\(error.localizedDescription))", at: start)])
        }
        return try load(text: text, path: path, overrides: overrides)
    }

    /// Loads and checks workflow `text` as if read from `path`.
    public func load(text: String, path: String, overrides: RunOverrides = RunOverrides()) throws(Diagnostics) -> WorkflowPlan {
        var parser = WorkflowParser(file: path)
        let parsed = parser.parse(text)
        guard var workflow = parsed else { throw Diagnostics(parser.diagnostics) }
        var diagnostics = parser.diagnostics
        apply(overrides, to: &workflow, diagnostics: &diagnostics)
        let plan = check(workflow, diagnostics: &diagnostics)
        guard diagnostics.isEmpty, let plan else { throw Diagnostics(diagnostics) }
        return plan
    }

    // MARK: - Overrides

    func apply(_ overrides: RunOverrides, to workflow: inout Workflow, diagnostics: inout [Diagnostic]) {
        if let name = overrides.profile {
            if let profile = workflow.profiles[name] {
                for entry in profile.nodes {
                    guard let index = workflow.nodes.firstIndex(where: { $0.id == entry.id }) else {
                        diagnostics.append(Diagnostic(
                            "profile '\(name)' overrides node '\(entry.id)', which does not exist"
                                + didYouMean(entry.id, workflow.nodes.map(\.id)), at: entry.location))
                        continue
                    }
                    override(&workflow.nodes[index], plugin: entry.plugin, options: entry.options, swapped: &workflow.swapped)
                }
            } else {
                let known = workflow.profiles.keys.sorted()
                let list = known.isEmpty ? "this workflow defines no profiles" : "profiles: " + known.joined(separator: ", ")
                diagnostics.append(Diagnostic("unknown profile '\(name)'\(didYouMean(name, known)); \(list)",
                                              at: workflow.profilesLocation ?? SourceLocation(file: workflow.file, line: 1, column: 1)))
            }
        }
        for set in overrides.sets {
            guard let index = workflow.nodes.firstIndex(where: { $0.id == set.node }) else {
                diagnostics.append(Diagnostic(
                    "--set \(set.node).\(set.option): no node '\(set.node)'\(didYouMean(set.node, workflow.nodes.map(\.id)))",
                    at: nil))
                continue
            }
            let value = OptionValue(YAMLValue.parseArgument(set.value), at: nil, text: set.value)
            if set.option == "plugin" {
                override(&workflow.nodes[index], plugin: value, options: [:], swapped: &workflow.swapped)
            } else {
                override(&workflow.nodes[index], plugin: nil, options: [set.option: value], swapped: &workflow.swapped)
            }
        }
        for v in overrides.vars {
            if workflow.vars[v.name] == nil { workflow.varOrder.append(v.name) }
            workflow.vars[v.name] = OptionValue(YAMLValue.parseArgument(v.value), at: nil)
        }
    }

    /// A new plugin replaces the node's options (they belonged to the old plugin); the same
    /// plugin merges them.
    func override(_ node: inout NodeDeclaration, plugin: OptionValue?, options: [String: OptionValue],
                  swapped: inout Set<String>) {
        if let plugin, plugin.value.text != node.plugin {
            swapped.insert(node.id)
            node.plugin = plugin.value.text
            node.pluginLocation = plugin.location ?? node.pluginLocation
            node.options = [:]
            node.optionOrder = []
        }
        for (key, value) in options.sorted(by: { $0.key < $1.key }) {
            if node.options[key] == nil { node.optionOrder.append(key) }
            node.options[key] = value
        }
    }

    // MARK: - Checks

    /// When a profile or `--set` swaps a node for a sink (capture, say), the nodes that read
    /// from it have nothing to read: they are left out of this run, with a note.
    func pruneBehindSwappedSinks(_ workflow: inout Workflow) -> [String] {
        var notes: [String] = []
        var sinks = Set(workflow.nodes.filter { node in
            workflow.swapped.contains(node.id) && node.plugin.flatMap { registry[$0] }.map { $0.spec.output == nil } == true
        }.map(\.id))
        while !sinks.isEmpty {
            var removed = Set<String>()
            for index in workflow.nodes.indices {
                let before = workflow.nodes[index].from.count
                workflow.nodes[index].from.removeAll { sinks.contains($0.id) }
                if before > 0 && workflow.nodes[index].from.isEmpty { removed.insert(workflow.nodes[index].id) }
            }
            for id in removed.sorted() { notes.append("node '\(id)' is left out: what it reads from was swapped for a sink") }
            workflow.nodes.removeAll { removed.contains($0.id) }
            sinks = removed
        }
        return notes
    }

    func check(_ original: Workflow, diagnostics: inout [Diagnostic]) -> WorkflowPlan? {
        var workflow = original
        let notes = pruneBehindSwappedSinks(&workflow)
        let info = resolveInfo(workflow, diagnostics: &diagnostics)
        let scope = Record([("vars", .map(info.vars)), ("workflow", .map(Record([("name", .string(info.name)), ("dir", .string(info.directory))])))])

        var configs: [String: (NodeConfig, any Plugin.Type)] = [:]
        /// Nodes whose options are all as declared: their plugin's own checks can run.
        var optionsOK = Set<String>()
        for node in workflow.nodes {
            guard let pluginName = node.plugin else {
                diagnostics.append(Diagnostic("node '\(node.id)' has no 'plugin'; plugins: "
                                              + registry.names.joined(separator: ", "), at: node.location))
                continue
            }
            guard let plugin = registry[pluginName] else {
                diagnostics.append(Diagnostic(
                    "unknown plugin '\(pluginName)'\(didYouMean(pluginName, registry.names)); `hypha plugins` lists them",
                    at: node.pluginLocation ?? node.location))
                continue
            }
            let before = diagnostics.count
            let options = checkOptions(node, plugin.spec, scope: scope, diagnostics: &diagnostics)
            if diagnostics.count == before { optionsOK.insert(node.id) }
            var config = NodeConfig(id: node.id, plugin: pluginName, options: options, location: node.location,
                                    workflow: info, upstream: node.from.map(\.id))
            config.retry = node.retry
            configs[node.id] = (config, plugin)
        }

        let ids = workflow.nodes.map(\.id)
        var edgesOK = true
        /// Nodes whose every input is a known node emitting a type they take.
        var inputsKnown = Set<String>()
        for node in workflow.nodes {
            guard let (_, plugin) = configs[node.id] else { continue }
            let spec = plugin.spec
            var known = true
            if plugin.isSource && !node.from.isEmpty {
                diagnostics.append(Diagnostic("node '\(node.id)' uses source plugin '\(spec.name)', which takes no input; remove 'from'",
                                              at: node.fromLocation ?? node.location))
                edgesOK = false
                known = false
            } else if !plugin.isSource && node.from.isEmpty {
                diagnostics.append(Diagnostic("node '\(node.id)' (\(spec.name)) needs an input; add 'from: NODE'", at: node.location))
                edgesOK = false
                known = false
            }
            var seen = Set<String>()
            for edge in node.from where !plugin.isSource {
                if !seen.insert(edge.id).inserted {
                    diagnostics.append(Diagnostic("node '\(node.id)' lists '\(edge.id)' twice in 'from'", at: edge.location))
                    continue
                }
                guard ids.contains(edge.id) else {
                    diagnostics.append(Diagnostic("node '\(node.id)' reads from unknown node '\(edge.id)'"
                                                  + didYouMean(edge.id, ids), at: edge.location))
                    edgesOK = false
                    known = false
                    continue
                }
                guard let (_, upstream) = configs[edge.id] else {
                    known = false
                    continue
                }
                guard let produced = upstream.spec.output else {
                    diagnostics.append(Diagnostic("node '\(node.id)' reads from '\(edge.id)', but '\(edge.id)' (\(upstream.spec.name)) is a sink with no output",
                                                  at: edge.location))
                    known = false
                    continue
                }
                if !plugin.input.accepts(produced) {
                    diagnostics.append(Diagnostic(
                        "port type mismatch: '\(edge.id)' (\(upstream.spec.name)) emits \(produced), but '\(node.id)' (\(spec.name)) takes \(plugin.input)",
                        at: edge.location))
                    known = false
                }
            }
            if known { inputsKnown.insert(node.id) }
        }

        if edgesOK, let cycle = findCycle(workflow) {
            let path = cycle.map(\.id).joined(separator: " -> ") + " -> " + (cycle.first?.id ?? "")
            diagnostics.append(Diagnostic("cycle in the DAG: \(path); a workflow must not loop back on itself",
                                          at: cycle.first?.fromLocation ?? cycle.first?.location))
        }

        // Plugin-specific checks, in data-flow order, for every node whose plugin and options are
        // known, even when other nodes are broken: all problems show in one run. Where a node's
        // inputs are all known, it sees its upstream specs (their output fields seen through
        // field-forwarding decoders) for static field checks; otherwise those checks are skipped.
        let order = topologicalOrder(workflow)
        var effectiveSpecs: [String: PluginSpec] = [:]
        /// Each node's input fields, where every upstream node's are known.
        var inputSchemas: [String: [RecordField]] = [:]
        for id in order {
            guard let node = workflow.nodes.first(where: { $0.id == id }), let (initial, plugin) = configs[id] else { continue }
            var config = initial
            let upstreamSpecs = node.from.compactMap { effectiveSpecs[$0.id] }
            let upstreamKnown = inputsKnown.contains(id) && upstreamSpecs.count == node.from.count
            config.upstreamSpecs = upstreamKnown ? upstreamSpecs : []
            let upstreamSchemas = config.upstreamSpecs.map(\.outputSchema)
            if !upstreamSchemas.isEmpty, upstreamSchemas.allSatisfy({ $0 != nil }) {
                inputSchemas[id] = RecordField.union(upstreamSchemas.compactMap { $0 })
            }
            var effective = plugin.spec
            effective.outputSchema = plugin.outputSchema(for: config)
            if effective.forwardsFields, effective.outputSchema == nil {
                effective.outputSchema = inputSchemas[id]
            }
            // An executor's `record` is the input of the template node that made its job.
            if plugin.isExecutor, var schema = effective.outputSchema,
               let index = schema.firstIndex(where: { $0.name == "record" && $0.type == .map && $0.fields == nil }) {
                let jobInputs = node.from.map { inputSchemas[$0.id] }
                if !jobInputs.isEmpty, jobInputs.allSatisfy({ $0 != nil }) {
                    schema[index].fields = RecordField.union(jobInputs.compactMap { $0 })
                    effective.outputSchema = schema
                }
            }
            if upstreamKnown || plugin.isSource { effectiveSpecs[id] = effective }
            configs[id] = (config, plugin)
            if optionsOK.contains(id) { diagnostics += plugin.validate(config) }
        }
        guard diagnostics.isEmpty else { return nil }

        let nodes = order.compactMap { id -> WorkflowPlan.Node? in
            guard let (config, plugin) = configs[id] else { return nil }
            let downstream = workflow.nodes.filter { $0.from.contains { $0.id == id } }.map(\.id)
            return WorkflowPlan.Node(config: config, plugin: plugin, downstream: downstream)
        }
        return WorkflowPlan(info: info, nodes: nodes, notes: notes)
    }

    /// A node's configuration with its options checked and defaults filled in exactly as the
    /// loader does for a workflow: the way to build a plugin outside a workflow (tests).
    /// Throws every problem with the options; the plugin's own `validate` is not run.
    public func nodeConfig(_ plugin: any Plugin.Type, id: String = "node", options: [String: Value],
                           workflow: WorkflowInfo, upstream: [String] = []) throws(Diagnostics) -> NodeConfig {
        let location = SourceLocation(file: workflow.file, line: 1, column: 1)
        let names = options.keys.sorted()
        let declaration = NodeDeclaration(
            id: id, location: location, plugin: plugin.spec.name, pluginLocation: nil, from: upstream.map { ($0, location) },
            fromLocation: nil, options: Dictionary(uniqueKeysWithValues: names.map { ($0, OptionValue(options[$0] ?? .null, at: location)) }),
            optionOrder: names)
        let scope = Record([("vars", .map(workflow.vars)),
                            ("workflow", .map(Record([("name", .string(workflow.name)), ("dir", .string(workflow.directory))])))])
        var diagnostics: [Diagnostic] = []
        let checked = checkOptions(declaration, plugin.spec, scope: scope, diagnostics: &diagnostics)
        guard diagnostics.isEmpty else { throw Diagnostics(diagnostics) }
        return NodeConfig(id: id, plugin: plugin.spec.name, options: checked, location: location, workflow: workflow,
                          upstream: upstream)
    }

    func resolveInfo(_ workflow: Workflow, diagnostics: inout [Diagnostic]) -> WorkflowInfo {
        // Vars may use `{{ workflow.dir }}` (the workflow file's folder) and `{{ workflow.name }}`.
        let scope = Record([("workflow", .map(Record([("name", .string(workflow.name)), ("dir", .string(workflow.directory))])))])
        var vars = Record()
        for name in workflow.varOrder {
            guard let v = workflow.vars[name] else { continue }
            let expanded = expandEnvironment(v, what: "variable '\(name)'", diagnostics: &diagnostics)
            do {
                vars[name] = try render(expanded, scope: scope)
            } catch {
                diagnostics.append(Diagnostic("variable '\(name)': \(error.description)", at: v.location))
            }
        }
        var info = WorkflowInfo(name: workflow.name, file: workflow.file, directory: workflow.directory, jobstore: nil, vars: vars)
        if let jobstore = workflow.jobstore {
            info.jobstore = info.resolve(expandEnvironment(jobstore, what: "jobstore", diagnostics: &diagnostics).text)
        }
        if let stateDir = workflow.stateDir {
            info.stateDirectory = info.resolve(expandEnvironment(stateDir, what: "state_dir", diagnostics: &diagnostics).text)
        }
        if let retention = workflow.retention { info.retention = retention }
        info.http = workflow.http
        return info
    }

    func checkOptions(_ node: NodeDeclaration, _ spec: PluginSpec, scope: Record, diagnostics: inout [Diagnostic]) -> [String: OptionValue] {
        var options: [String: OptionValue] = [:]
        let known = spec.options.map(\.name)
        for key in node.optionOrder {
            guard var raw = node.options[key] else { continue }
            guard let option = spec.options.first(where: { $0.name == key }) else {
                let list = known.isEmpty ? "it takes no options" : "its options: " + known.joined(separator: ", ")
                diagnostics.append(Diagnostic("unknown option '\(key)' for plugin '\(spec.name)'\(didYouMean(key, known)); \(list)",
                                              at: raw.location ?? node.location))
                continue
            }
            // A string option keeps the text as written (`api_key: 0123456789`, `tag: 1.10`),
            // not the number YAML read in it.
            if [OptionType.string, .path].contains(option.type), let text = raw.text, raw.value.stringValue == nil {
                raw.value = .string(text)
            }
            var value = expandEnvironment(raw, what: "option '\(key)'", diagnostics: &diagnostics)
            do {
                value = try render(value, scope: scope)
            } catch {
                diagnostics.append(Diagnostic("node '\(node.id)', option '\(key)': \(error.description)", at: raw.location ?? node.location))
                continue
            }
            // Text that came from a variable or the environment ("7", "true") counts as the
            // number or flag it spells, as the same text written in YAML would.
            if case .string(let text) = value, [.int, .float, .bool, .duration].contains(option.type) {
                value = YAMLValue.parseArgument(text)
            }
            if let problem = option.problem(with: value) {
                diagnostics.append(Diagnostic("option '\(key)' of node '\(node.id)' \(problem)", at: raw.location ?? node.location))
                continue
            }
            options[key] = OptionValue(value, at: raw.location)
        }
        for option in spec.options where options[option.name] == nil && node.options[option.name] == nil {
            if option.required {
                diagnostics.append(Diagnostic("node '\(node.id)' (\(spec.name)) is missing required option '\(option.name)': \(option.help)",
                                              at: node.location))
            } else if let d = option.defaultValue {
                options[option.name] = OptionValue(d, at: nil)
            }
        }
        return options
    }

    func render(_ value: Value, scope: Record) throws(Interpolator.Failure) -> Value {
        switch value {
        case .string(let s): return try Interpolator.render(s, in: scope)
        case .list(let items):
            var out: [Value] = []
            for item in items { out.append(try render(item, scope: scope)) }
            return .list(out)
        case .map(let record):
            var out = Record()
            for (k, v) in record.fields { out[k] = try render(v, scope: scope) }
            return .map(out)
        default: return value
        }
    }

    /// `${NAME}` and `${NAME:-default}` in string values take environment variables.
    func expandEnvironment(_ option: OptionValue, what: String, diagnostics: inout [Diagnostic]) -> Value {
        func expand(_ value: Value) -> Value {
            switch value {
            case .string(let s): return .string(expandString(s))
            case .list(let items): return .list(items.map(expand))
            case .map(let record): return .map(Record(record.fields.map { ($0, expand($1)) }))
            default: return value
            }
        }
        func expandString(_ s: String) -> String {
            guard s.contains("${") else { return s }
            var out = ""
            var rest = s[...]
            while let open = rest.range(of: "${") {
                out += rest[..<open.lowerBound]
                guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                    diagnostics.append(Diagnostic("\(what): '${' without a closing '}'", at: option.location))
                    return s
                }
                let inner = String(rest[open.upperBound..<close])
                let name: String
                var fallback: String?
                if let sep = inner.range(of: ":-") {
                    name = String(inner[..<sep.lowerBound])
                    fallback = String(inner[sep.upperBound...])
                } else {
                    name = inner
                }
                if let v = environment[name], !(v.isEmpty && fallback != nil) {
                    out += v
                } else if let fallback {
                    out += fallback
                } else {
                    diagnostics.append(Diagnostic(
                        "\(what) uses environment variable '\(name)', which is not set; export it or write ${\(name):-default}",
                        at: option.location))
                }
                rest = rest[rest.index(after: close)...]
            }
            return out + rest
        }
        return expand(option.value)
    }

    // MARK: - Graph

    /// A cycle as the list of nodes on it, if there is one.
    func findCycle(_ workflow: Workflow) -> [NodeDeclaration]? {
        let byID = Dictionary(workflow.nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var state: [String: Int] = [:]  // 1 = on the stack, 2 = done
        var stack: [String] = []
        func visit(_ id: String) -> [String]? {
            if state[id] == 2 { return nil }
            if state[id] == 1 {
                guard let start = stack.firstIndex(of: id) else { return nil }
                return Array(stack[start...])
            }
            state[id] = 1
            stack.append(id)
            for upstream in byID[id]?.from ?? [] {
                if let cycle = visit(upstream.id) { return cycle }
            }
            stack.removeLast()
            state[id] = 2
            return nil
        }
        for node in workflow.nodes {
            if let cycle = visit(node.id) {
                // The stack follows `from` edges (downstream to upstream): print it in data-flow
                // order, starting at the node declared first.
                let flow = Array(cycle.reversed())
                let position = Dictionary(workflow.nodes.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
                let start = flow.indices.min { position[flow[$0], default: 0] < position[flow[$1], default: 0] } ?? 0
                return (flow[start...] + flow[..<start]).compactMap { byID[$0] }
            }
        }
        return nil
    }

    func topologicalOrder(_ workflow: Workflow) -> [String] {
        var order: [String] = []
        var done = Set<String>()
        let byID = Dictionary(workflow.nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func visit(_ id: String) {
            guard !done.contains(id), let node = byID[id] else { return }
            done.insert(id)
            for upstream in node.from { visit(upstream.id) }
            order.append(id)
        }
        for node in workflow.nodes { visit(node.id) }
        return order
    }
}
