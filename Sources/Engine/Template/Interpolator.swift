import Foundation

/// `{{ expr }}` placeholders: a dotted path into the variables, then filters.
///
///     {{ name | stem }}   {{ record.size }}   {{ vars.work }}   {{ tag | default("none") }}
///
/// Hand-written rather than a general template engine (Stencil, Mustache): placeholders are
/// substituted into already-parsed YAML scalars, one scalar at a time, so no value can change a
/// spec's structure; and a missing variable must be an error, where those engines print nothing.
public struct Interpolator: Sendable {
    /// A piece of a scalar: literal text or a placeholder.
    public enum Segment: Sendable, Equatable {
        case text(String)
        case placeholder(Expression, offset: Int)
    }

    /// `path | filter | filter(arg)`.
    public struct Expression: Sendable, Equatable {
        public var path: [String]
        public var filters: [Filter]
        public var source: String
    }

    public struct Filter: Sendable, Equatable {
        public var name: String
        public var argument: Value?
    }

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case syntax(String)
        case missing(String)
        case unknownFilter(String)
        case filter(String)

        public var description: String {
            switch self {
            case .syntax(let m): m
            case .missing(let path):
                "template variable '\(path)' is not defined; check its spelling, or give a default: "
                    + "{{ \(path) | default(\"...\") }}"
            case .unknownFilter(let name):
                "unknown filter '\(name)'\(didYouMean(name, Interpolator.filterNames)); filters are "
                    + Interpolator.filterNames.joined(separator: ", ")
            case .filter(let m): m
            }
        }
    }

    public static let filterNames = ["basename", "dirname", "stem", "ext", "default", "lower", "upper", "json", "quote"]

    public init() {}

    /// Whether `text` contains a placeholder at all (cheap check before parsing).
    public static func hasPlaceholder(_ text: String) -> Bool { text.contains("{{") }

    /// Splits a scalar into literal text and placeholders.
    public static func parse(_ text: String) throws(Failure) -> [Segment] {
        var segments: [Segment] = []
        var rest = text[...]
        var literal = ""
        while let open = rest.range(of: "{{") {
            literal += rest[rest.startIndex..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw .syntax("'{{' without a closing '}}' in \"\(text)\"")
            }
            if !literal.isEmpty { segments.append(.text(literal)) }
            literal = ""
            let inner = String(rest[open.upperBound..<close.lowerBound])
            let offset = text.distance(from: text.startIndex, to: open.lowerBound)
            segments.append(.placeholder(try parseExpression(inner), offset: offset))
            rest = rest[close.upperBound...]
        }
        literal += rest
        if !literal.isEmpty { segments.append(.text(literal)) }
        return segments
    }

    static func parseExpression(_ inner: String) throws(Failure) -> Expression {
        let parts = splitOutsideQuotes(inner, on: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let head = parts.first, !head.isEmpty else { throw .syntax("empty placeholder '{{\(inner)}}'") }
        let path = head.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let pathIsValid = path.allSatisfy { component in
            !component.isEmpty && component.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        }
        guard pathIsValid else {
            throw .syntax("'\(head)' is not a variable path; write names joined by dots, like record.name")
        }
        var filters: [Filter] = []
        for part in parts.dropFirst() {
            var name = part
            var argument: Value?
            if let paren = part.firstIndex(of: "("), part.hasSuffix(")") {
                name = String(part[..<paren]).trimmingCharacters(in: .whitespaces)
                let raw = String(part[part.index(after: paren)..<part.index(before: part.endIndex)])
                argument = try parseLiteral(raw.trimmingCharacters(in: .whitespaces))
            }
            guard filterNames.contains(name) else { throw .unknownFilter(name) }
            filters.append(Filter(name: name, argument: argument))
        }
        return Expression(path: path, filters: filters, source: inner.trimmingCharacters(in: .whitespaces))
    }

    static func parseLiteral(_ raw: String) throws(Failure) -> Value {
        if raw.count >= 2, let first = raw.first, first == "\"" || first == "'", raw.last == first {
            return .string(String(raw.dropFirst().dropLast()))
        }
        if let i = Int64(raw) { return .int(i) }
        if let d = Double(raw) { return .float(d) }
        switch raw {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "null", "none": return .null
        default: throw .syntax("filter argument \(raw) must be a quoted string, a number, true, false or null")
        }
    }

    static func splitOutsideQuotes(_ s: String, on separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quote: Character?
        for c in s {
            if let q = quote {
                if c == q { quote = nil }
                current.append(c)
            } else if c == "\"" || c == "'" {
                quote = c
                current.append(c)
            } else if c == separator {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        return parts
    }

    /// Renders a scalar. A scalar that is exactly one placeholder keeps the value's type;
    /// otherwise values are joined as text.
    public static func render(_ text: String, in scope: Record) throws(Failure) -> Value {
        guard hasPlaceholder(text) else { return .string(text) }
        return try render(try parse(text), in: scope)
    }

    /// Renders a scalar parsed once with `parse`.
    public static func render(_ segments: [Segment], in scope: Record) throws(Failure) -> Value {
        if segments.count == 1, case .placeholder(let expression, _) = segments[0] {
            return try evaluate(expression, in: scope)
        }
        var out = ""
        for segment in segments {
            switch segment {
            case .text(let t): out += t
            case .placeholder(let expression, _): out += try evaluate(expression, in: scope).text
            }
        }
        return .string(out)
    }

    /// Evaluates one expression against the variables in `scope`.
    public static func evaluate(_ expression: Expression, in scope: Record) throws(Failure) -> Value {
        var value = scope.lookup(expression.path)
        for filter in expression.filters {
            if filter.name == "default" {
                if value == nil || value == .null { value = filter.argument ?? .string("") }
                continue
            }
            guard let current = value else { throw .missing(expression.path.joined(separator: ".")) }
            value = try apply(filter, to: current)
        }
        guard let value else { throw .missing(expression.path.joined(separator: ".")) }
        return value
    }

    static func apply(_ filter: Filter, to value: Value) throws(Failure) -> Value {
        /// `basename` and `stem` make one file-name component that templates put into paths
        /// (`{{ vars.work }}/{{ name | stem }}`): a value that would make it empty, `.`, `..`
        /// or anything with a separator could point a job outside its folder, so it fails
        /// the message instead.
        func fileName(_ result: String) throws(Failure) -> String {
            guard PathParts.isSafeComponent(result) else {
                throw .filter("filter '\(filter.name)' of \(value.json) gives \(Value.string(result).json), which is not a safe file "
                              + "name (empty, '.', '..', or with '/' or a NUL byte); the message is refused so no job writes outside its folder")
            }
            return result
        }
        func pathText() throws(Failure) -> String {
            guard case .string(let s) = value else {
                throw .filter("filter '\(filter.name)' needs a string, got \(value.typeName) \(value.json)")
            }
            return s
        }
        switch filter.name {
        case "basename": return .string(try fileName(PathParts.basename(try pathText())))
        case "dirname": return .string(PathParts.dirname(try pathText()))
        case "stem": return .string(try fileName(PathParts.stem(try pathText())))
        case "ext": return .string(PathParts.ext(try pathText()))
        case "lower": return .string(try pathText().lowercased())
        case "upper": return .string(try pathText().uppercased())
        case "json": return .string(value.json)
        case "quote": return .string(shellQuote(value.text))
        default: throw .unknownFilter(filter.name)
        }
    }

    /// POSIX shell single-quoting, for users who knowingly build a shell command string.
    static func shellQuote(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// The parts of a path the template filters `basename`, `dirname`, `stem` and `ext` return;
/// they work on the text, never on the file system.
public enum PathParts {
    /// Whether `name` can stand as one component of a path without leaving its folder:
    /// not empty, not `.` or `..`, no `/` and no NUL.
    public static func isSafeComponent(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.utf8.contains(UInt8(ascii: "/")) && !name.utf8.contains(0)
    }

    public static func basename(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        return trimmed.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? trimmed
    }

    public static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// The base name without its last extension (`a.tar.gz` → `a.tar`, `.hidden` stays).
    public static func stem(_ path: String) -> String {
        let base = basename(path)
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return base }
        return String(base[..<dot])
    }

    /// The last extension with its dot (`.zip`), or "".
    public static func ext(_ path: String) -> String {
        let base = basename(path)
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return "" }
        return String(base[dot...])
    }
}
