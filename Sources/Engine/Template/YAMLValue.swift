import Yams

/// Converts parsed YAML into `Value`s, substituting placeholders scalar by scalar.
public enum YAMLValue {
    /// A failure at a place in a YAML file.
    public struct Failure: Error, Sendable {
        public var message: String
        public var location: SourceLocation
    }

    public static func location(of node: Node, in file: String) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    /// The plain value of a node; placeholders stay as text (`CompiledYAML` renders them).
    public static func value(of node: Node, file: String) throws(Failure) -> Value {
        switch node {
        case .scalar(let scalar):
            return typedScalar(scalar)
        case .sequence(let sequence):
            var items: [Value] = []
            for item in sequence { items.append(try value(of: item, file: file)) }
            return .list(items)
        case .mapping(let mapping):
            var record = Record()
            for (key, item) in mapping {
                guard let name = key.string else {
                    throw Failure(message: "mapping keys must be strings", location: location(of: key, in: file))
                }
                record[name] = try value(of: item, file: file)
            }
            return .map(record)
        case .alias:
            throw Failure(message: "YAML aliases are not supported here; repeat the value",
                          location: location(of: node, in: file))
        }
    }

    /// A scalar's value: plain scalars follow YAML's core schema (bool, int, float, null);
    /// quoted scalars are always strings.
    public static func typedScalar(_ scalar: Node.Scalar) -> Value {
        let s = scalar.string
        guard scalar.style == .plain else { return .string(s) }
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        // Digits with a leading zero (`0123456789`) or too many for an integer are identifiers
        // (keys, account numbers, zip codes), not numbers: as in YAML 1.1, they stay text.
        let unsigned = s.first == "-" || s.first == "+" ? s.dropFirst() : s[...]
        if !unsigned.isEmpty, unsigned.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            if unsigned.count > 1 && unsigned.first == "0" { return .string(s) }
            return Int64(s).map(Value.int) ?? .string(s)
        }
        if s.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true, let d = Double(s), d.isFinite {
            return .float(d)
        }
        return .string(s)
    }

    /// Parses a command-line value (`--set`, `--var`) the way a plain YAML scalar would be.
    public static func parseArgument(_ text: String) -> Value {
        typedScalar(Node.Scalar(text, .implicit, .plain))
    }
}

/// A YAML tree with placeholders, prepared once for many renders: plain scalars are typed once
/// and strings with placeholders parsed once, so a render only evaluates the expressions (a job
/// template is rendered for every message). Each scalar is rendered on its own, so no value can
/// change the structure; a scalar that is one placeholder keeps the value's type.
public struct CompiledYAML: Sendable {
    indirect enum Part: Sendable {
        case constant(Value)
        case interpolated([Interpolator.Segment], SourceLocation)
        case list([Part])
        case map([(String, Part)])
    }

    let root: Part

    public init(_ node: Node, file: String) throws(YAMLValue.Failure) {
        root = try Self.compile(node, file: file)
    }

    /// The value of the tree with every placeholder filled from `scope`.
    public func render(in scope: Record) throws(YAMLValue.Failure) -> Value {
        try Self.render(root, in: scope)
    }

    static func compile(_ node: Node, file: String) throws(YAMLValue.Failure) -> Part {
        switch node {
        case .scalar(let scalar):
            guard Interpolator.hasPlaceholder(scalar.string) else { return .constant(YAMLValue.typedScalar(scalar)) }
            let location = YAMLValue.location(of: node, in: file)
            do {
                return .interpolated(try Interpolator.parse(scalar.string), location)
            } catch {
                throw YAMLValue.Failure(message: error.description, location: location)
            }
        case .sequence(let sequence):
            var items: [Part] = []
            for item in sequence { items.append(try compile(item, file: file)) }
            return .list(items)
        case .mapping(let mapping):
            var fields: [(String, Part)] = []
            for (key, item) in mapping {
                guard let name = key.string else {
                    throw YAMLValue.Failure(message: "mapping keys must be strings", location: YAMLValue.location(of: key, in: file))
                }
                let part = try compile(item, file: file)
                // A repeated key: the last value wins, in the first one's place (as in `YAMLValue.value`).
                if let index = fields.firstIndex(where: { $0.0 == name }) { fields[index].1 = part } else { fields.append((name, part)) }
            }
            return .map(fields)
        case .alias:
            throw YAMLValue.Failure(message: "YAML aliases are not supported here; repeat the value",
                                    location: YAMLValue.location(of: node, in: file))
        }
    }

    static func render(_ part: Part, in scope: Record) throws(YAMLValue.Failure) -> Value {
        switch part {
        case .constant(let value):
            return value
        case .interpolated(let segments, let location):
            do {
                return try Interpolator.render(segments, in: scope)
            } catch {
                throw YAMLValue.Failure(message: error.description, location: location)
            }
        case .list(let items):
            var values: [Value] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try render(item, in: scope)) }
            return .list(values)
        case .map(let fields):
            var rendered: [(String, Value)] = []
            rendered.reserveCapacity(fields.count)
            for (name, item) in fields { rendered.append((name, try render(item, in: scope))) }
            return .map(Record(rendered))
        }
    }
}
