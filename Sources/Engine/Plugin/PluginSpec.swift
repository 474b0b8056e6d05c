/// The type of a plugin option, checked by the loader before anything runs.
public enum OptionType: String, Sendable {
    case string, int, float, bool
    /// A path; relative paths resolve against the workflow file's folder.
    case path
    /// A list of strings (a single string is taken as a one-item list).
    case stringList = "list of strings"
    /// Seconds, as a number or a string like "500ms", "10s", "5m", "1h".
    case duration
    /// The fields of records and their types, `{ name: string, size: int }` (`FieldType`s).
    case fields
}

/// The bounds of a number or duration option (durations in seconds), either end open.
public struct OptionRange: Sendable, Equatable, CustomStringConvertible {
    public var minimum: Double?
    public var maximum: Double?
    /// Whether `minimum` itself is outside the range (a number of days must be more than 0).
    public var excludesMinimum = false

    /// Nil when neither end is given.
    public init?(_ minimum: Double?, _ maximum: Double?) {
        guard minimum != nil || maximum != nil else { return nil }
        self.minimum = minimum
        self.maximum = maximum
    }

    /// Numbers more than `minimum`.
    public init(above minimum: Double) {
        self.minimum = minimum
        excludesMinimum = true
    }

    public func contains(_ x: Double) -> Bool {
        (minimum.map { excludesMinimum ? x > $0 : x >= $0 } ?? true) && (maximum.map { x <= $0 } ?? true)
    }

    public var description: String {
        func text(_ d: Double) -> String { d == d.rounded() ? String(Int64(d)) : String(d) }
        switch (minimum, maximum) {
        case let (lo?, hi?): return "\(text(lo))...\(text(hi))"
        case let (lo?, nil): return "\(excludesMinimum ? "more than" : "at least") \(text(lo))"
        case let (nil, hi?): return "at most \(text(hi))"
        case (nil, nil): return "any"
        }
    }
}

/// One option a plugin takes: what the loader checks and `hypha plugins` prints. Plugins
/// declare options with `Option` / `OptionalOption`, which make one of these.
public struct OptionSpec: Sendable {
    public var name: String
    public var type: OptionType
    public var required: Bool
    public var defaultValue: Value?
    /// Bounds for a number or a duration.
    public var range: OptionRange?
    /// The words a string option may be.
    public var choices: [String]?
    public var help: String

    public init(_ name: String, _ type: OptionType, required: Bool = false, default defaultValue: Value? = nil,
                range: OptionRange? = nil, choices: [String]? = nil, help: String) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.range = range
        self.choices = choices
        self.help = help
    }
}

/// What a plugin is: its name, what it emits and its options. `hypha plugins` prints these;
/// what it takes is the plugin type's `input` (a processor's from the value it takes).
public struct PluginSpec: Sendable {
    public var name: String
    public var summary: String
    /// Nil for a sink.
    public var output: PortType?
    public var options: [OptionSpec]
    /// The fields of the records this plugin emits and their types, when they are known before
    /// running (file-watch's columns, a job result). Lets the loader check template variables
    /// and the filters applied to them.
    public var outputSchema: [RecordField]?
    /// The names of `outputSchema`'s fields; setting names gives fields of unknown type.
    public var outputFields: [String]? {
        get { outputSchema?.map(\.name) }
        set { outputSchema = newValue?.map { RecordField($0, .any) } }
    }
    /// Whether the records this plugin emits carry the fields its input carried (a decoder
    /// of what a source encoded), so static field checks can see through it.
    public var forwardsFields: Bool

    /// `outputSchema` (names and types) or, where only names are known, `outputFields`.
    public init(name: String, summary: String, output: PortType?, options: [any OptionDeclaration],
                outputFields: [String]? = nil, outputSchema: [RecordField]? = nil, forwardsFields: Bool = false) {
        self.name = name
        self.summary = summary
        self.output = output
        self.options = options.map(\.spec)
        self.outputSchema = outputSchema ?? outputFields?.map { RecordField($0, .any) }
        self.forwardsFields = forwardsFields
    }
}
