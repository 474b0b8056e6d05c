import Engine
import Foundation
import Yams

/// A job template from the jobstore: a YAML job spec with `{{ expr }}` placeholders,
/// parsed once and rendered scalar by scalar.
///
/// `@unchecked Sendable`: Yams' `Node` is an immutable value tree that Yams does not mark
/// Sendable; the template never changes after loading.
struct JobTemplate: @unchecked Sendable {
    let name: String
    let file: String
    let root: Node
    /// `root` prepared once for rendering.
    let compiled: CompiledYAML

    /// The jobs in a jobstore folder: `NAME.yml` or `NAME.yaml`, name = file stem.
    static func jobNames(in jobstore: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: jobstore)) ?? []
        return entries.filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }
            .map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }.sorted()
    }

    static func file(for job: String, in jobstore: String) -> String? {
        for ext in ["yml", "yaml"] {
            let path = URL(fileURLWithPath: jobstore).appendingPathComponent("\(job).\(ext)").path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    /// Loads and parses a template; problems come back as diagnostics with the template's
    /// file:line:col.
    static func load(job: String, jobstore: String, at location: SourceLocation?) throws(Diagnostic) -> JobTemplate {
        guard FileManager.default.fileExists(atPath: jobstore) else {
            throw Diagnostic("jobstore folder '\(jobstore)' does not exist; set 'jobstore:' in the workflow to the folder of job templates",
                             at: location)
        }
        guard let file = file(for: job, in: jobstore) else {
            let names = jobNames(in: jobstore)
            throw Diagnostic("job '\(job)' is not in the jobstore \(jobstore)\(didYouMean(job, names)); jobs there: "
                             + (names.isEmpty ? "none" : names.joined(separator: ", ")), at: location)
        }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw Diagnostic("cannot read job template: \(error.localizedDescription)", at: SourceLocation(file: file, line: 1, column: 1))
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw Diagnostic("job template is empty", at: SourceLocation(file: file, line: 1, column: 1))
            }
            root = node
        } catch let error as Diagnostic {
            throw error
        } catch let error as YamlError {
            throw templateSyntaxError(error, file: file)
        } catch {
            throw Diagnostic("malformed YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
        guard case .mapping = root else {
            throw Diagnostic("a job template must be a mapping (a Bacalhau Job: Type, Count, Tasks, ...)",
                             at: YAMLValue.location(of: root, in: file))
        }
        let compiled: CompiledYAML
        do {
            compiled = try CompiledYAML(root, file: file)
        } catch {
            throw Diagnostic(error.message, at: error.location)
        }
        return JobTemplate(name: job, file: file, root: root, compiled: compiled)
    }

    static func templateSyntaxError(_ error: YamlError, file: String) -> Diagnostic {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
            return Diagnostic("malformed YAML in job template: \(problem)", at: SourceLocation(file: file, line: mark.line, column: mark.column))
        default:
            return Diagnostic("malformed YAML in job template: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }

    /// Every placeholder in the template with its place, for static checks.
    func placeholders() throws(Diagnostic) -> [(Interpolator.Expression, SourceLocation)] {
        var found: [(Interpolator.Expression, SourceLocation)] = []
        var stack = [root]
        while let node = stack.popLast() {
            switch node {
            case .scalar(let scalar) where Interpolator.hasPlaceholder(scalar.string):
                do {
                    let start = YAMLValue.location(of: node, in: file)
                    for case .placeholder(let expression, let offset) in try Interpolator.parse(scalar.string) {
                        found.append((expression, Self.location(of: offset, in: scalar, at: start)))
                    }
                } catch {
                    throw Diagnostic(error.description, at: YAMLValue.location(of: node, in: file))
                }
            case .sequence(let items): stack.append(contentsOf: items.reversed())
            case .mapping(let mapping): stack.append(contentsOf: mapping.flatMap { [$0.key, $0.value] }.reversed())
            default: break
            }
        }
        return found
    }

    /// Where the placeholder at character `offset` of `scalar`'s value stands in the file: on
    /// the scalar's line, past its opening quote, when the text before it is written as it
    /// reads (no escapes, no line breaks); at the scalar's start otherwise.
    static func location(of offset: Int, in scalar: Node.Scalar, at start: SourceLocation) -> SourceLocation {
        let before = scalar.string.prefix(offset)
        let quote: Int
        switch scalar.style {
        case .plain: quote = 0
        case .singleQuoted: quote = before.contains("'") ? -1 : 1
        case .doubleQuoted: quote = before.contains(where: { $0 == "\"" || $0 == "\\" }) ? -1 : 1
        default: quote = -1
        }
        guard quote >= 0, !before.contains(where: \.isNewline), !before.contains("\t") else { return start }
        var location = start
        location.column += quote + offset
        return location
    }

    /// Renders the spec for one input. Each scalar is rendered on its own, so no value can
    /// change the spec's structure.
    func render(scope: Record) throws(Diagnostic) -> Record {
        do {
            guard case .map(let spec) = try compiled.render(in: scope) else {
                throw Diagnostic("a job template must be a mapping", at: SourceLocation(file: file, line: 1, column: 1))
            }
            return spec
        } catch let failure as YAMLValue.Failure {
            throw Diagnostic(failure.message, at: failure.location)
        } catch {
            throw Diagnostic("\(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }
}
