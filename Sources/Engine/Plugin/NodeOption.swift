import Foundation

/// Anything that declares a plugin option: an `Option`, an `OptionalNodeOption`, or a bare
/// `OptionSpec`. `PluginSpec` lists these.
public protocol OptionDeclaration: Sendable {
    var spec: OptionSpec { get }
}

extension OptionSpec: OptionDeclaration {
    public var spec: OptionSpec { self }
}

/// A plugin option with a value in every checked configuration (it has a default or is
/// required), declared once: name, type, default, range, choices and help. The loader checks
/// the value against all of them; the plugin reads it typed with `node[option]`.
///
///     static let maxParallel = NodeOption.int("max_parallel", default: 4, atLeast: 1, help: "jobs at once")
///     ...
///     concurrency = node[Self.maxParallel]
public struct NodeOption<T: Sendable>: OptionDeclaration {
    public let spec: OptionSpec
    let decode: @Sendable (Value, WorkflowInfo) -> T?
    /// What a configuration without the option reads (one not checked by the loader): the
    /// default, or an empty value for a required option.
    let fallback: T
}

/// A plugin option that may be absent (no default): `node[option]` is nil then.
public struct OptionalNodeOption<T: Sendable>: OptionDeclaration {
    public let spec: OptionSpec
    let decode: @Sendable (Value, WorkflowInfo) -> T?
}

extension NodeOption where T == Int {
    public static func int(_ name: String, default value: Int, atLeast minimum: Int? = nil, atMost maximum: Int? = nil,
                           help: String) -> NodeOption {
        NodeOption(spec: OptionSpec(name, .int, default: .int(Int64(value)), range: OptionRange(minimum.map(Double.init), maximum.map(Double.init)), help: help),
               decode: { v, _ in v.intValue.map { Int($0) } }, fallback: value)
    }
}

extension NodeOption where T == Int {
    /// An integer the workflow must give.
    public static func requiredInt(_ name: String, atLeast minimum: Int? = nil, atMost maximum: Int? = nil,
                                   help: String) -> NodeOption {
        NodeOption(spec: OptionSpec(name, .int, required: true, range: OptionRange(minimum.map(Double.init), maximum.map(Double.init)),
                                    help: help),
                   decode: { v, _ in v.intValue.map { Int($0) } }, fallback: 0)
    }
}

extension OptionalNodeOption where T == Int {
    public static func int(_ name: String, atLeast minimum: Int? = nil, atMost maximum: Int? = nil, help: String) -> OptionalNodeOption {
        OptionalNodeOption(spec: OptionSpec(name, .int, range: OptionRange(minimum.map(Double.init), maximum.map(Double.init)), help: help),
                           decode: { v, _ in v.intValue.map { Int($0) } })
    }
}

extension NodeOption where T == Bool {
    public static func bool(_ name: String, default value: Bool, help: String) -> NodeOption {
        NodeOption(spec: OptionSpec(name, .bool, default: .bool(value), help: help), decode: { v, _ in v.boolValue }, fallback: value)
    }
}

extension NodeOption where T == Duration {
    /// A duration: seconds as a number, or "500ms", "10s", "5m", "1h".
    public static func duration(_ name: String, default value: Duration, atLeast minimum: Duration? = nil,
                                help: String) -> NodeOption {
        NodeOption(spec: OptionSpec(name, .duration, default: .float(value.inSeconds),
                                range: OptionRange(minimum.map(\.inSeconds), nil), help: help),
               decode: { v, _ in OptionParsing.seconds(v).map(Duration.seconds) }, fallback: value)
    }
}

extension NodeOption where T == String {
    public static func string(_ name: String, default value: String, help: String) -> NodeOption {
        NodeOption(spec: OptionSpec(name, .string, default: .string(value), help: help), decode: { v, _ in v.text }, fallback: value)
    }

    /// A string the workflow must give.
    public static func required(_ name: String, help: String) -> NodeOption {
        NodeOption(spec: OptionSpec(name, .string, required: true, help: help), decode: { v, _ in v.text }, fallback: "")
    }

    /// A path the workflow must give, resolved against the workflow file's folder.
    public static func requiredPath(_ name: String, help: String) -> NodeOption {
        NodeOption(spec: OptionSpec(name, .path, required: true, help: help), decode: { v, info in info.resolve(v.text) },
               fallback: "")
    }

    /// One word of `choices`; anything else is a load error with "did you mean".
    public static func choice(_ name: String, _ choices: [String], default value: String, help: String) -> NodeOption {
        NodeOption(spec: OptionSpec(name, .string, default: .string(value), choices: choices, help: help),
               decode: { v, _ in v.text }, fallback: value)
    }
}

extension NodeOption where T == [String] {
    /// A list of strings (one string counts as a list of one).
    public static func strings(_ name: String, default value: [String], help: String) -> NodeOption {
        NodeOption(spec: OptionSpec(name, .stringList, default: .list(value.map(Value.string)), help: help),
               decode: { v, _ in OptionParsing.strings(v) }, fallback: value)
    }
}

extension OptionalNodeOption where T == String {
    public static func string(_ name: String, help: String) -> OptionalNodeOption {
        OptionalNodeOption(spec: OptionSpec(name, .string, help: help), decode: { v, _ in v.text })
    }

    /// A path, resolved against the workflow file's folder.
    public static func path(_ name: String, help: String) -> OptionalNodeOption {
        OptionalNodeOption(spec: OptionSpec(name, .path, help: help), decode: { v, info in info.resolve(v.text) })
    }
}

extension OptionalNodeOption where T == Double {
    /// A number more than `minimum`.
    public static func number(_ name: String, above minimum: Double, help: String) -> OptionalNodeOption {
        OptionalNodeOption(spec: OptionSpec(name, .float, range: OptionRange(above: minimum), help: help),
                           decode: { v, _ in v.doubleValue })
    }
}

extension OptionalNodeOption where T == Duration {
    public static func duration(_ name: String, atLeast minimum: Duration? = nil, help: String) -> OptionalNodeOption {
        OptionalNodeOption(spec: OptionSpec(name, .duration, range: OptionRange(minimum.map(\.inSeconds), nil), help: help),
                       decode: { v, _ in OptionParsing.seconds(v).map(Duration.seconds) })
    }
}

extension OptionalNodeOption where T == [String] {
    /// A list of strings (one string counts as a list of one).
    public static func strings(_ name: String, help: String) -> OptionalNodeOption {
        OptionalNodeOption(spec: OptionSpec(name, .stringList, help: help), decode: { v, _ in OptionParsing.strings(v) })
    }

    /// A list of paths, each resolved against the workflow file's folder.
    public static func paths(_ name: String, help: String) -> OptionalNodeOption {
        OptionalNodeOption(spec: OptionSpec(name, .stringList, help: help),
                       decode: { v, info in OptionParsing.strings(v)?.map(info.resolve) })
    }
}

extension OptionalNodeOption where T == [RecordField] {
    /// Declared record fields: `{ name: string, size: int }`.
    public static func fields(_ name: String, help: String) -> OptionalNodeOption {
        OptionalNodeOption(spec: OptionSpec(name, .fields, help: help), decode: { v, _ in
            v.recordValue.map { record in
                record.fields.map { RecordField($0.0, FieldType(rawValue: $0.1.text) ?? .any) }
            }
        })
    }
}

extension NodeConfig {
    /// The option's value, typed; its default when the workflow does not set it.
    public subscript<T>(_ option: NodeOption<T>) -> T {
        value(option.spec.name).flatMap { option.decode($0, workflow) } ?? option.fallback
    }

    /// The option's value, typed; nil when the workflow does not set it.
    public subscript<T>(_ option: OptionalNodeOption<T>) -> T? {
        value(option.spec.name).flatMap { option.decode($0, workflow) }
    }

    /// Where the option is written (or the node, when it is not).
    public func location(of option: some OptionDeclaration) -> SourceLocation? {
        location(of: option.spec.name)
    }
}

extension Duration {
    /// The duration in seconds, with its fraction.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
