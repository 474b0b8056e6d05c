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

    /// The plain value of a node. With a `scope`, placeholders in every scalar are rendered
    /// against it; each scalar is rendered on its own, so no value can change the structure.
    public static func value(of node: Node, file: String, scope: Record? = nil) throws(Failure) -> Value {
        switch node {
        case .scalar(let scalar):
            if let scope, Interpolator.hasPlaceholder(scalar.string) {
                do {
                    return try Interpolator.render(scalar.string, in: scope)
                } catch {
                    throw Failure(message: error.description, location: location(of: node, in: file))
                }
            }
            return typedScalar(scalar)
        case .sequence(let sequence):
            var items: [Value] = []
            for item in sequence { items.append(try value(of: item, file: file, scope: scope)) }
            return .list(items)
        case .mapping(let mapping):
            var record = Record()
            for (key, item) in mapping {
                guard let name = key.string else {
                    throw Failure(message: "mapping keys must be strings", location: location(of: key, in: file))
                }
                record[name] = try value(of: item, file: file, scope: scope)
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
        if let i = Int64(s) { return .int(i) }
        if s.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true, let d = Double(s) {
            return .float(d)
        }
        return .string(s)
    }

    /// Parses a command-line value (`--set`, `--var`) the way a plain YAML scalar would be.
    public static func parseArgument(_ text: String) -> Value {
        typedScalar(Node.Scalar(text, .implicit, .plain))
    }
}
