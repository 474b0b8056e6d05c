import Engine
import Foundation
import Yams

/// One test of a `*.test.yml` file: a workflow run once in a temporary folder with no state,
/// some nodes mocked, inputs fed at nodes, and expectations on what reaches nodes.
struct WorkflowTest {
    var name: String
    var location: SourceLocation
    /// The workflow file, resolved against the test file's folder.
    var workflow: String
    var profile: String?
    var sets: [(node: String, option: String, value: String)] = []
    var vars: [(name: String, value: String)] = []
    var mocks: [Mock] = []
    var inputs: [Inputs] = []
    var expectations: [Expectation] = []
    /// How many messages may fail (0 unless the test says).
    var failures = 0
    var timeout: Double = 60

    /// A node replaced by a stand-in.
    struct Mock {
        enum Kind {
            /// An executor that returns this result for every job, running nothing.
            case result(Record)
            /// A sink that keeps what reaches it and sends nothing anywhere.
            case capture
        }
        var node: String
        var kind: Kind
        var location: SourceLocation
    }

    /// What is fed in at one node.
    struct Inputs {
        var node: String
        var location: SourceLocation
        /// Files dropped into the folder a file-watch node watches: name and contents.
        var files: [(name: String, contents: Data)] = []
        var records: [Record] = []
        var results: [Record] = []
        var arrowFiles: [String] = []

        var feedsMessages: Bool { !records.isEmpty || !results.isEmpty || !arrowFiles.isEmpty }
    }

    /// What must reach one node.
    struct Expectation {
        var node: String
        var location: SourceLocation
        var count: Int?
        var equals: [Value]?
        var subset: [Value]?
        var fields: [(path: String, value: Value, location: SourceLocation)] = []
    }
}

/// Reads `*.test.yml` files: `workflow:` and a list of `tests:`. Every problem is a diagnostic
/// at its PATH:LINE:COL.
struct TestFileParser {
    let file: String
    var diagnostics: [Diagnostic] = []

    static let fileKeys = ["workflow", "tests"]
    static let testKeys = ["name", "workflow", "profile", "set", "vars", "mocks", "inputs", "expect", "failures", "timeout"]
    static let inputKeys = ["files", "records", "results", "arrow_file"]
    static let fileItemKeys = ["name", "content", "copy"]
    static let expectKeys = ["count", "equals", "subset", "fields"]
    static let mockKeys = ["result", "capture"]

    init(file: String) { self.file = file }

    var directory: String { URL(fileURLWithPath: file).deletingLastPathComponent().path }

    func location(_ node: Node) -> SourceLocation { YAMLValue.location(of: node, in: file) }

    mutating func error(_ message: String, _ node: Node) {
        diagnostics.append(Diagnostic(message, at: location(node)))
    }

    /// The tests of the file, or nil with `diagnostics` saying why.
    mutating func parse() -> [WorkflowTest]? {
        let start = SourceLocation(file: file, line: 1, column: 1)
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            diagnostics.append(Diagnostic("cannot read the test file; give the path of a *.test.yml file", at: start))
            return nil
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                diagnostics.append(Diagnostic("the test file is empty; it needs 'workflow:' and 'tests:'", at: start))
                return nil
            }
            root = node
        } catch let error as YamlError {
            diagnostics.append(JobTemplateSyntax.diagnostic(error, file: file))
            return nil
        } catch {
            diagnostics.append(Diagnostic("malformed YAML: \(error)", at: start))
            return nil
        }
        guard case .mapping(let top) = root else {
            error("a test file is a mapping with 'workflow:' and 'tests:'", root)
            return nil
        }
        var workflow: String?
        var testsNode: Node?
        for (key, value) in top {
            switch key.string ?? "" {
            case "workflow": workflow = string(value, "workflow")
            case "tests": testsNode = value
            default: unknownKey(key, Self.fileKeys, in: "a test file")
            }
        }
        guard let testsNode, case .sequence(let items) = testsNode else {
            error("'tests:' must be a list of tests, each with a 'name:'", testsNode ?? root)
            return nil
        }
        var tests: [WorkflowTest] = []
        for item in items {
            if let test = parseTest(item, workflow: workflow) { tests.append(test) }
        }
        return diagnostics.isEmpty ? tests : nil
    }

    mutating func parseTest(_ node: Node, workflow defaultWorkflow: String?) -> WorkflowTest? {
        guard case .mapping(let mapping) = node else {
            error("a test is a mapping with 'name:', 'inputs:', 'expect:' ...", node)
            return nil
        }
        let before = diagnostics.count
        var test = WorkflowTest(name: "", location: location(node), workflow: "")
        var workflow = defaultWorkflow
        for (key, value) in mapping {
            switch key.string ?? "" {
            case "name": test.name = string(value, "name") ?? ""
            case "workflow": workflow = string(value, "workflow")
            case "profile": test.profile = string(value, "profile")
            case "set":
                for (path, setting) in entries(value, "set") {
                    let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
                    guard parts.count == 2, let text = scalarText(setting, "set \(path)") else {
                        if parts.count != 2 { error("'set' keys are NODE.OPTION, like extract.plugin; got '\(path)'", setting) }
                        continue
                    }
                    test.sets.append((parts[0], parts[1], text))
                }
            case "vars":
                for (name, setting) in entries(value, "vars") {
                    if let text = scalarText(setting, "vars \(name)") { test.vars.append((name, text)) }
                }
            case "mocks":
                for (id, body) in entries(value, "mocks") { if let mock = parseMock(id, body) { test.mocks.append(mock) } }
            case "inputs":
                for (id, body) in entries(value, "inputs") { if let inputs = parseInputs(id, body) { test.inputs.append(inputs) } }
            case "expect":
                for (id, body) in entries(value, "expect") {
                    if let expectation = parseExpectation(id, body) { test.expectations.append(expectation) }
                }
            case "failures": test.failures = integer(value, "failures") ?? 0
            case "timeout":
                let seconds = YAMLValue.typedScalar(value.scalar ?? Node.Scalar("")).doubleValue
                if let seconds, seconds > 0 { test.timeout = seconds } else { error("'timeout' must be a number of seconds", value) }
            default: unknownKey(key, Self.testKeys, in: "a test")
            }
        }
        if test.name.isEmpty { error("a test needs a 'name:'", node) }
        if let workflow {
            test.workflow = URL(fileURLWithPath: workflow, relativeTo: URL(fileURLWithPath: directory + "/")).standardizedFileURL.path
        } else {
            error("no workflow: add 'workflow: PATH' (relative to this file) at the top of the file or in the test", node)
        }
        if test.expectations.isEmpty { error("test '\(test.name)' expects nothing; add 'expect:' with what must reach a node", node) }
        return diagnostics.count == before ? test : nil
    }

    mutating func parseMock(_ id: String, _ body: Node) -> WorkflowTest.Mock? {
        if body.string == "capture" { return WorkflowTest.Mock(node: id, kind: .capture, location: location(body)) }
        guard case .mapping(let mapping) = body else {
            error("mock of '\(id)' must be 'capture' or { result: { exit_code: 0, stdout: ... } }", body)
            return nil
        }
        var kind = WorkflowTest.Mock.Kind.result(Record())
        for (key, value) in mapping {
            switch key.string ?? "" {
            case "result":
                guard case .map(let record)? = self.value(value) else {
                    error("'result' of mock '\(id)' must be a mapping like { state: Completed, exit_code: 0, stdout: \"...\" }", value)
                    continue
                }
                kind = .result(record)
            case "capture":
                if YAMLValue.typedScalar(value.scalar ?? Node.Scalar("")) == .bool(true) { kind = .capture }
            default: unknownKey(key, Self.mockKeys, in: "a mock")
            }
        }
        return WorkflowTest.Mock(node: id, kind: kind, location: location(body))
    }

    mutating func parseInputs(_ id: String, _ body: Node) -> WorkflowTest.Inputs? {
        guard case .mapping(let mapping) = body else {
            error("inputs of '\(id)' must be a mapping with files:, records:, results: or arrow_file:", body)
            return nil
        }
        var inputs = WorkflowTest.Inputs(node: id, location: location(body))
        for (key, value) in mapping {
            switch key.string ?? "" {
            case "files":
                guard case .sequence(let items) = value else {
                    error("'files' must be a list of { name: ..., content: ... } or { name: ..., copy: PATH }", value)
                    continue
                }
                for item in items { if let file = parseFile(item) { inputs.files.append(file) } }
            case "records", "results":
                guard case .list(let items)? = self.value(value) else {
                    error("'\(key.string ?? "")' must be a list of mappings", value)
                    continue
                }
                var records: [Record] = []
                for item in items {
                    guard case .map(let record) = item else {
                        error("each of '\(key.string ?? "")' must be a mapping (a record)", value)
                        break
                    }
                    records.append(record)
                }
                if key.string == "records" { inputs.records += records } else { inputs.results += records }
            case "arrow_file":
                let paths: [Node]
                if case .sequence(let items) = value { paths = Array(items) } else { paths = [value] }
                for path in paths {
                    if let text = string(path, "arrow_file") { inputs.arrowFiles.append(resolve(text)) }
                }
            default: unknownKey(key, Self.inputKeys, in: "inputs")
            }
        }
        return inputs
    }

    mutating func parseFile(_ node: Node) -> (name: String, contents: Data)? {
        guard case .mapping(let mapping) = node else {
            error("a file is { name: NAME, content: TEXT } or { name: NAME, copy: PATH }", node)
            return nil
        }
        var name: String?
        var contents: Data?
        for (key, value) in mapping {
            switch key.string ?? "" {
            case "name": name = string(value, "name")
            case "content": contents = Data((value.string ?? "").utf8)
            case "copy":
                guard let path = string(value, "copy") else { continue }
                guard let data = FileManager.default.contents(atPath: resolve(path)) else {
                    error("cannot read '\(resolve(path))' to copy; the path is relative to the test file", value)
                    continue
                }
                contents = data
            default: unknownKey(key, Self.fileItemKeys, in: "a file")
            }
        }
        guard let name, PathParts.isSafeComponent(name) else {
            error("a file needs a 'name:' that is a plain file name (no '/')", node)
            return nil
        }
        return (name, contents ?? Data())
    }

    mutating func parseExpectation(_ id: String, _ body: Node) -> WorkflowTest.Expectation? {
        guard case .mapping(let mapping) = body else {
            error("what is expected at '\(id)' must be a mapping with count:, equals:, subset: or fields:", body)
            return nil
        }
        var expectation = WorkflowTest.Expectation(node: id, location: location(body))
        for (key, value) in mapping {
            switch key.string ?? "" {
            case "count": expectation.count = integer(value, "count")
            case "equals", "subset":
                guard case .list(let items)? = self.value(value) else {
                    error("'\(key.string ?? "")' must be a list of messages (records, jobs, results)", value)
                    continue
                }
                if key.string == "equals" { expectation.equals = items } else { expectation.subset = items }
            case "fields":
                guard case .mapping(let fields) = value else {
                    error("'fields' must map paths like spec.Tasks[0].Name to values", value)
                    continue
                }
                for (path, expected) in fields {
                    guard let text = path.string, let v = self.value(expected) else { continue }
                    expectation.fields.append((text, v, location(path)))
                }
            default: unknownKey(key, Self.expectKeys, in: "an expectation")
            }
        }
        return expectation
    }

    // MARK: - Helpers

    func resolve(_ path: String) -> String {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: directory + "/")).standardizedFileURL.path
    }

    mutating func unknownKey(_ key: Node, _ known: [String], in what: String) {
        let name = key.string ?? ""
        error("unknown key '\(name)' in \(what)\(didYouMean(name, known)); it takes " + known.joined(separator: ", "), key)
    }

    mutating func string(_ node: Node, _ what: String) -> String? {
        guard let scalar = node.scalar else {
            error("'\(what)' must be a string", node)
            return nil
        }
        return scalar.string
    }

    mutating func scalarText(_ node: Node, _ what: String) -> String? {
        guard let scalar = node.scalar else {
            error("'\(what)' must be a single value, as on the command line", node)
            return nil
        }
        return scalar.string
    }

    mutating func integer(_ node: Node, _ what: String) -> Int? {
        guard let n = YAMLValue.typedScalar(node.scalar ?? Node.Scalar("")).intValue, n >= 0 else {
            error("'\(what)' must be a whole number, 0 or more", node)
            return nil
        }
        return Int(n)
    }

    mutating func value(_ node: Node) -> Value? {
        do {
            return try YAMLValue.value(of: node, file: file)
        } catch {
            diagnostics.append(Diagnostic(error.message, at: error.location))
            return nil
        }
    }

    /// The keys and values of a mapping, in order.
    mutating func entries(_ node: Node, _ what: String) -> [(String, Node)] {
        guard case .mapping(let mapping) = node else {
            error("'\(what)' must be a mapping", node)
            return []
        }
        return mapping.compactMap { key, value in key.string.map { ($0, value) } }
    }
}

/// YAML syntax errors of test files, at their place.
enum JobTemplateSyntax {
    static func diagnostic(_ error: YamlError, file: String) -> Diagnostic {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
            return Diagnostic("malformed YAML: \(problem)", at: SourceLocation(file: file, line: mark.line, column: mark.column))
        default:
            return Diagnostic("malformed YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }
}
