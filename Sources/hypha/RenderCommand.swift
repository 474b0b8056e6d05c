import ArgumentParser
import CorePlugins
import Engine
import Foundation
import HyphaArrow
import Logging
import Yams

/// `hypha render WORKFLOW --node NODE`: the job specs a template node would make, offline.
struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Print the job spec(s) a template node would produce, without running anything.",
        discussion: """
            Loads the workflow as `run` does (vars, --var, --set, --profile) and renders the template \
            node's job for one input record made of the --input pairs (values typed as in YAML; a dotted \
            key such as record.name=a.zip makes a nested field), or for each record of --input-file \
            (JSON lines, one record per line, or an Arrow IPC file or stream, a record per row as \
            arrow-decode makes them; a line that `capture` wrote stands for its record, result, or \
            for a job the record that produced it, so a capture file renders again); --input pairs are added to each record of the file. For a node \
            fed by a job's results, each record is that result's record (name, state, exit_code, ..., \
            record). Nothing runs and nothing is written: no state, no job, no log. YAML output \
            separates several specs with ---; JSON output is one spec per line. A record that cannot \
            be rendered is reported as `run` reports it (the template's PATH:LINE:COL) and the exit \
            code is 1.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case yaml, json }

    @OptionGroup var workflow: WorkflowArguments

    @Option(help: "The template node to render.")
    var node: String

    @Option(name: .customLong("input"), help: ArgumentHelp("A field of the input record (repeatable).", valueName: "KEY=VALUE"))
    var inputs: [String] = []

    @Option(help: "Records to render: JSON lines or an Arrow IPC file or stream.")
    var inputFile: String?

    @Option(help: "yaml or json.")
    var format: Format = .yaml

    func run() async throws {
        let plan = try workflow.load()
        let node = try Self.templateNode(self.node, in: plan)
        let plugin: TemplatePlugin
        do {
            plugin = try TemplatePlugin(node: node.config, context: Self.offlineContext())
        } catch {
            Console.error("\(error)")
            throw ExitCode(1)
        }
        let given = try Self.record(from: inputs)
        var records: [(String, Record)] = []
        if let inputFile {
            for (place, record) in try Self.records(inFile: inputFile) {
                var merged = record
                for (key, value) in given.fields { merged[key] = value }
                records.append((place, merged))
            }
        } else {
            records.append(("the --input record", given))
        }
        let fieldOrder = node.config.upstreamSpecs.compactMap(\.outputFields).flatMap { $0 }
        let takesResults = Self.takesResults(node, in: plan)
        var failed = 0
        var documents: [String] = []
        for (what, record) in records {
            let ordered = Self.ordered(record, by: fieldOrder)
            let input: RecordOrResult = takesResults ? .result(Self.result(from: ordered)) : .record(ordered)
            let job: Job
            do {
                job = try plugin.render(input)
            } catch {
                failed += 1
                let place = error.location.map { "\($0): " } ?? ""
                Console.error("\(place)error: \(error.reason) (node '\(node.config.id)', \(what))")
                continue
            }
            documents.append(try Self.text(of: job.spec, format: format))
        }
        switch format {
        case .yaml: if !documents.isEmpty { Console.out(documents.joined(separator: "---\n").trimmingSuffixNewline()) }
        case .json: for document in documents { Console.out(document) }
        }
        if failed > 0 {
            Console.error("\(failed) of \(records.count) record\(records.count == 1 ? "" : "s") could not be rendered")
            throw ExitCode(1)
        }
    }

    /// A run context that writes nothing: the template plugin only renders.
    static func offlineContext() -> RunContext {
        RunContext(runID: "render", runDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("hypha-render").path,
                   logger: Logger(label: "hypha.render"))
    }

    /// The node `id` of `plan` when it is a template node; otherwise a clear error and exit 1.
    static func templateNode(_ id: String, in plan: WorkflowPlan) throws -> WorkflowPlan.Node {
        let templates = plan.nodes.filter { $0.plugin == TemplatePlugin.self }.map(\.config.id)
        let list = templates.isEmpty ? "this workflow has no template nodes" : "template nodes: " + templates.joined(separator: ", ")
        guard let node = plan.node(id) else {
            Console.error("\(plan.info.file): error: no node '\(id)' in workflow '\(plan.info.name)'"
                          + "\(didYouMean(id, plan.nodes.map(\.config.id))); \(list)")
            throw ExitCode(1)
        }
        guard node.plugin == TemplatePlugin.self else {
            let place = node.config.location.map { "\($0): " } ?? ""
            Console.error("\(place)error: node '\(id)' is a \(node.config.plugin) node, not a template node; "
                          + "render takes a template node: \(list)")
            throw ExitCode(1)
        }
        return node
    }

    /// Whether every node `node` reads from emits job results.
    static func takesResults(_ node: WorkflowPlan.Node, in plan: WorkflowPlan) -> Bool {
        let produced = node.config.upstream.compactMap { plan.node($0)?.spec.output }
        return !produced.isEmpty && produced.allSatisfy { $0 == .result }
    }

    /// A job result whose record is `record`: `name` is the job's name, `record` the record that
    /// produced the job, the other fields (but `state`) the executor's.
    static func result(from record: Record) -> JobResult {
        let details = Record(record.fields.filter { !["name", "state", "record"].contains($0.0) }.map { ($0, $1) })
        let job = Job(name: record["name"]?.stringValue ?? "", spec: Record(), renderedBy: "",
                      input: record["record"]?.recordValue ?? Record())
        return JobResult(job: job, state: .completed, details: details)
    }

    /// `record`'s fields in the order the upstream node emits them (the rest after, as given),
    /// so a record given by hand names its job as the same record would in a run.
    static func ordered(_ record: Record, by order: [String]) -> Record {
        guard !order.isEmpty else { return record }
        let known = order.compactMap { name in record[name].map { (name, $0) } }
        let rest = record.fields.filter { !order.contains($0.0) }.map { ($0, $1) }
        return Record(known + rest)
    }

    /// A record from KEY=VALUE pairs, values typed as plain YAML scalars.
    static func record(from pairs: [String]) throws -> Record {
        var record = Record()
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw ValidationError("--input takes KEY=VALUE, got '\(pair)'")
            }
            let path = pair[..<eq].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !path.contains(where: \.isEmpty) else {
                throw ValidationError("--input '\(pair)': the key must be a name or names joined by dots, like record.name")
            }
            set(&record, path[...], YAMLValue.parseArgument(String(pair[pair.index(after: eq)...])))
        }
        return record
    }

    static func set(_ record: inout Record, _ path: ArraySlice<String>, _ value: Value) {
        guard let first = path.first else { return }
        if path.count == 1 {
            record[first] = value
            return
        }
        var inner = record[first]?.recordValue ?? Record()
        set(&inner, path.dropFirst(), value)
        record[first] = .map(inner)
    }

    /// The records of a JSON-lines file or an Arrow IPC file or stream, each with where it is
    /// (`FILE:LINE` or `FILE row N`); a bad file is an error naming it (and the line), exit 1.
    static func records(inFile path: String) throws -> [(String, Record)] {
        guard let data = FileManager.default.contents(atPath: path) else {
            Console.error("error: cannot read input file '\(path)': no such file or not readable")
            throw ExitCode(1)
        }
        let bytes = [UInt8](data)
        let firstByte = bytes.first { ![UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t")].contains($0) }
        if firstByte == UInt8(ascii: "{") || bytes.isEmpty {
            return try jsonLines(bytes, path: path)
        }
        do {
            return ArrowDecodePlugin.records(try ArrowIPC.read(bytes)).enumerated().map { ("\(path) row \($0 + 1)", $1) }
        } catch {
            Console.error("error: input file '\(path)' is neither JSON lines (one object per line) nor Arrow IPC data: \(error)")
            throw ExitCode(1)
        }
    }

    /// One record per non-empty line. A line that `capture` wrote (`{"type": ..., "value": ...}`)
    /// stands for its record or result, or, for a job, the record that produced it.
    static func jsonLines(_ bytes: [UInt8], path: String) throws -> [(String, Record)] {
        var records: [(String, Record)] = []
        for (number, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            let value: Value
            do {
                value = try Value(json: text)
            } catch {
                Console.error("\(path):\(number + 1):1: error: not a JSON object: \(error); give one JSON object per line")
                throw ExitCode(1)
            }
            guard case .map(var record) = value else {
                Console.error("\(path):\(number + 1):1: error: a line must be a JSON object (a record), got \(value.typeName)")
                throw ExitCode(1)
            }
            if record.count == 2, let type = record["type"]?.stringValue, case .map(let inner)? = record["value"] {
                switch type {
                case "record", "result": record = inner
                case "job": record = inner["input"]?.recordValue ?? inner
                default: break
                }
            }
            records.append(("\(path):\(number + 1)", record))
        }
        return records
    }

    /// A spec as a YAML document or one line of JSON.
    static func text(of spec: Record, format: Format) throws -> String {
        switch format {
        case .json: return Value.map(spec).json
        case .yaml: return try YAMLText.document(.map(spec))
        }
    }
}

/// Values as YAML text that reads back as the same values (key order kept).
enum YAMLText {
    static func document(_ value: Value) throws -> String {
        try Yams.serialize(node: node(value), width: -1, allowUnicode: true)
    }

    static func node(_ value: Value) -> Node {
        switch value {
        case .null: return .scalar(.init("null", .implicit, .plain))
        case .bool(let b): return .scalar(.init(b ? "true" : "false", .implicit, .plain))
        case .int(let i): return .scalar(.init(String(i), .implicit, .plain))
        case .float(let d):
            if d.isNaN { return .scalar(.init(".nan", .implicit, .plain)) }
            if d.isInfinite { return .scalar(.init(d < 0 ? "-.inf" : ".inf", .implicit, .plain)) }
            return .scalar(.init(value.json, .implicit, .plain))
        case .string(let s): return string(s)
        case .bytes, .timestamp: return string(value.text)
        case .list(let items): return .sequence(.init(items.map(node)))
        case .map(let record): return .mapping(.init(record.fields.map { (string($0), node($1)) }))
        }
    }

    /// A string scalar; quoted where plain text would read as another type (`123`, `true`,
    /// `null`, and YAML 1.1's `yes`/`no`/`on`/`off`).
    static func string(_ s: String) -> Node {
        let ambiguous = ["y", "n", "yes", "no", "on", "off"].contains(s.lowercased())
        if ambiguous || YAMLValue.parseArgument(s) != .string(s) {
            return .scalar(.init(s, .implicit, .doubleQuoted))
        }
        return .scalar(.init(s, .implicit, .any))
    }
}

extension String {
    func trimmingSuffixNewline() -> String {
        var s = self
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }
}
