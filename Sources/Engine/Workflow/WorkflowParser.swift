import Foundation
import Yams

/// Reads a workflow file into a `Workflow`, keeping every value's place for error messages.
/// Reports every structural problem it finds, not just the first.
struct WorkflowParser {
    let file: String
    var diagnostics: [Diagnostic] = []

    init(file: String) { self.file = file }

    func location(_ node: Node) -> SourceLocation { YAMLValue.location(of: node, in: file) }

    mutating func error(_ message: String, _ node: Node) {
        diagnostics.append(Diagnostic(message, at: location(node)))
    }

    mutating func parse(_ text: String) -> Workflow? {
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else {
                diagnostics.append(Diagnostic("the workflow file is empty; it needs at least 'nodes:'",
                                              at: SourceLocation(file: file, line: 1, column: 1)))
                return nil
            }
            root = composed
        } catch let error as YamlError {
            diagnostics.append(Self.diagnostic(for: error, file: file, text: text))
            return nil
        } catch {
            diagnostics.append(Diagnostic("cannot parse YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1)))
            return nil
        }
        guard case .mapping(let top) = root else {
            error("a workflow must be a mapping with 'name' and 'nodes'", root)
            return nil
        }
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().standardizedFileURL.path
        var workflow = Workflow(
            name: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent, file: file,
            directory: directory, jobstore: nil, vars: [:], varOrder: [], nodes: [], profiles: [:])
        var sawNodes = false
        for (keyNode, valueNode) in top {
            guard let key = keyNode.string else { continue }
            switch key {
            case "name":
                if let s = valueNode.scalar?.string { workflow.name = s } else { error("'name' must be a string", valueNode) }
            case "description": break
            case "jobstore":
                if let s = valueNode.scalar?.string {
                    workflow.jobstore = OptionValue(.string(s), at: location(valueNode))
                } else {
                    error("'jobstore' must be a path to a folder of job templates", valueNode)
                }
            case "state_dir":
                if let s = valueNode.scalar?.string {
                    workflow.stateDir = OptionValue(.string(s), at: location(valueNode))
                } else {
                    error("'state_dir' must be a path to a folder (relative to this file)", valueNode)
                }
            case "retention":
                workflow.retention = parseRetention(valueNode)
            case "http":
                workflow.http = parseHTTP(valueNode)
            case "vars":
                guard case .mapping(let vars) = valueNode else {
                    error("'vars' must be a mapping of names to values", valueNode)
                    continue
                }
                for (nameNode, v) in vars {
                    guard let name = nameNode.string else { continue }
                    if workflow.vars[name] != nil { error("duplicate variable '\(name)'", nameNode) }
                    do {
                        workflow.vars[name] = OptionValue(try YAMLValue.value(of: v, file: file), at: location(v))
                        workflow.varOrder.append(name)
                    } catch { diagnostics.append(Diagnostic(error.message, at: error.location)) }
                }
            case "nodes":
                sawNodes = true
                workflow.nodes = parseNodes(valueNode)
            case "profiles":
                workflow.profilesLocation = location(keyNode)
                workflow.profiles = parseProfiles(valueNode)
            default:
                let known = WorkflowKeys.topLevelNames
                error("unknown key '\(key)'\(didYouMean(key, known)); a workflow has " + known.joined(separator: ", "), keyNode)
            }
        }
        if !sawNodes {
            error("the workflow has no 'nodes:'; add at least one source node", root)
        }
        return workflow
    }

    mutating func parseNodes(_ node: Node) -> [NodeDeclaration] {
        guard case .mapping(let mapping) = node else {
            error("'nodes' must be a mapping of node ids to node settings", node)
            return []
        }
        var seen: [String: SourceLocation] = [:]
        var nodes: [NodeDeclaration] = []
        for (idNode, body) in mapping {
            guard let id = idNode.string, !id.isEmpty else {
                error("a node id must be a non-empty string", idNode)
                continue
            }
            if let first = seen[id] {
                error("duplicate node id '\(id)' (first declared at \(first)); node ids must be unique", idNode)
                continue
            }
            seen[id] = location(idNode)
            if let declaration = parseNode(id: id, idNode: idNode, body: body) { nodes.append(declaration) }
        }
        return nodes
    }

    mutating func parseNode(id: String, idNode: Node, body: Node) -> NodeDeclaration? {
        guard case .mapping(let mapping) = body else {
            error("node '\(id)' must be a mapping with at least 'plugin:'", body)
            return nil
        }
        var declaration = NodeDeclaration(
            id: id, location: location(idNode), plugin: nil, pluginLocation: nil, from: [], fromLocation: nil,
            options: [:], optionOrder: [])
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.string else { continue }
            switch key {
            case "plugin":
                guard let name = valueNode.scalar?.string else {
                    error("'plugin' must be a plugin name", valueNode)
                    continue
                }
                declaration.plugin = name
                declaration.pluginLocation = location(valueNode)
            case "from":
                declaration.fromLocation = location(valueNode)
                switch valueNode {
                case .scalar(let s): declaration.from = [(s.string, location(valueNode))]
                case .sequence(let items):
                    for item in items {
                        if let s = item.scalar?.string {
                            declaration.from.append((s, location(item)))
                        } else {
                            error("'from' lists node ids; this item is not a string", item)
                        }
                    }
                default: error("'from' must be a node id or a list of node ids", valueNode)
                }
            case "description": break
            case "retry":
                declaration.retry = parseRetry(valueNode, node: id)
            default:
                if declaration.options[key] != nil { error("duplicate option '\(key)' in node '\(id)'", keyNode) }
                do {
                    declaration.options[key] = OptionValue(try YAMLValue.value(of: valueNode, file: file), at: location(valueNode),
                                                           text: valueNode.scalar?.string)
                    declaration.optionOrder.append(key)
                } catch { diagnostics.append(Diagnostic(error.message, at: error.location)) }
            }
        }
        return declaration
    }

    /// `retry: { attempts: 3, backoff: 2s, max_backoff: 1m }` (or just a number of attempts).
    mutating func parseRetry(_ node: Node, node id: String) -> RetrySettings? {
        guard let values = parseSection(node, WorkflowKeys.retry, of: " of node '\(id)'")?.values else { return nil }
        let backoff = WorkflowKeys.backoff.read(values, sectionInfo).inSeconds
        return RetrySettings(attempts: WorkflowKeys.attempts.read(values, sectionInfo), backoff: backoff,
                             maxBackoff: max(backoff, WorkflowKeys.maxBackoff.read(values, sectionInfo).inSeconds))
    }

    /// `retention: { runs: 20, days: 30 }`.
    mutating func parseRetention(_ node: Node) -> Retention? {
        guard let values = parseSection(node, WorkflowKeys.retention)?.values else { return nil }
        return Retention(runs: WorkflowKeys.runs.read(values, sectionInfo), days: WorkflowKeys.days.read(values, sectionInfo))
    }

    /// The values of a `KeySection`'s keys: a mapping of them, or a lone scalar for its shorthand
    /// key; each value checked against its declaration. Nil, with an error at the first problem.
    mutating func parseSection(_ node: Node, _ section: KeySection, of owner: String = "") -> ParsedSection? {
        var entries: [(key: String, keyNode: Node, value: Node)] = []
        if node.scalar != nil, let shorthand = section.shorthand {
            entries = [(shorthand.name, node, node)]
        } else if case .mapping(let mapping) = node {
            entries = mapping.compactMap { keyNode, value in keyNode.string.map { ($0, keyNode, value) } }
        } else {
            error("'\(section.name)'\(owner) must be \(section.example)", node)
            return nil
        }
        let names = section.keys.map(\.name)
        var parsed = ParsedSection()
        for (key, keyNode, valueNode) in entries {
            guard let option = section.keys.first(where: { $0.name == key }) else {
                error("unknown key '\(key)' in '\(section.name)'\(owner)\(didYouMean(key, names)); it takes "
                      + names.joined(separator: ", "), keyNode)
                return nil
            }
            guard let scalar = valueNode.scalar else {
                error("'\(section.name).\(key)'\(owner) must be a single value: \(option.help)", valueNode)
                return nil
            }
            // A string keeps the text as written (`token: 0123`), not the number YAML reads in it.
            let value = [OptionType.string, .path].contains(option.type) ? .string(scalar.string) : YAMLValue.typedScalar(scalar)
            if let problem = option.problem(with: value) {
                error("'\(section.name).\(key)'\(owner) \(problem)", valueNode)
                return nil
            }
            parsed.values[key] = value
            parsed.places[key] = valueNode
        }
        return parsed
    }

    /// What a `KeySection`'s values are read against (none of them is a path or a template).
    var sectionInfo: WorkflowInfo {
        WorkflowInfo(name: "", file: file, directory: URL(fileURLWithPath: file).deletingLastPathComponent().path,
                     jobstore: nil, vars: Record())
    }

    mutating func parseProfiles(_ node: Node) -> [String: Profile] {
        guard case .mapping(let mapping) = node else {
            error("'profiles' must be a mapping of profile names to node overrides", node)
            return [:]
        }
        var profiles: [String: Profile] = [:]
        for (nameNode, body) in mapping {
            guard let name = nameNode.string else { continue }
            guard case .mapping(let nodes) = body else {
                error("profile '\(name)' must map node ids to overrides", body)
                continue
            }
            var profile = Profile(name: name, location: location(nameNode), nodes: [])
            for (idNode, overrides) in nodes {
                guard let id = idNode.string else { continue }
                guard case .mapping(let entries) = overrides else {
                    error("profile '\(name)': overrides of node '\(id)' must be a mapping", overrides)
                    continue
                }
                var plugin: OptionValue?
                var options: [String: OptionValue] = [:]
                for (keyNode, valueNode) in entries {
                    guard let key = keyNode.string else { continue }
                    do {
                        let v = OptionValue(try YAMLValue.value(of: valueNode, file: file), at: location(valueNode),
                                            text: valueNode.scalar?.string)
                        if key == "plugin" { plugin = v } else { options[key] = v }
                    } catch { diagnostics.append(Diagnostic(error.message, at: error.location)) }
                }
                profile.nodes.append((id, location(idNode), plugin, options))
            }
            profiles[name] = profile
        }
        return profiles
    }

    static func diagnostic(for error: YamlError, file: String, text: String) -> Diagnostic {
        switch error {
        case .duplicatedKeysInMapping(let keys, let context):
            let key = keys.first ?? ""
            let first = SourceLocation(file: file, line: context.mark.line, column: context.mark.column)
            let at = secondOccurrence(of: key, after: first, in: text) ?? first
            return Diagnostic("duplicate key '\(key)' (first at line \(first.line)); node ids and option names must be unique in a mapping", at: at)
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            let what = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return Diagnostic("malformed YAML: \(what)", at: SourceLocation(file: file, line: mark.line, column: mark.column))
        default:
            return Diagnostic("malformed YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }

    /// Yams reports a duplicate key at its first place; the mistake is usually the later
    /// one, at the same indentation in the same block.
    static func secondOccurrence(of key: String, after first: SourceLocation, in text: String) -> SourceLocation? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let indent = first.column - 1
        guard first.line >= 1, indent >= 0 else { return nil }
        for number in first.line..<lines.count {
            let line = lines[number]
            let leading = line.prefix { $0 == " " }.count
            let content = line.dropFirst(leading)
            if content.isEmpty || content.hasPrefix("#") { continue }
            if leading < indent { return nil }  // the block ended
            if leading == indent, content.hasPrefix(key + ":") || content.hasPrefix("\"\(key)\":") || content.hasPrefix("'\(key)':") {
                return SourceLocation(file: first.file, line: number + 1, column: first.column)
            }
        }
        return nil
    }
}

/// A `KeySection` as written: its values, checked, and the YAML node of each (for later errors).
struct ParsedSection {
    var values: [String: Value] = [:]
    var places: [String: Node] = [:]
}
