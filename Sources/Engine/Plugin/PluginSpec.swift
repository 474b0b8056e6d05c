/// The type of a plugin option, checked by the loader before anything runs.
public enum OptionType: String, Sendable {
    case string, int, float, bool
    /// A path; relative paths resolve against the workflow file's folder.
    case path
    /// A list of strings (a single string is taken as a one-item list).
    case stringList = "list of strings"
    /// Seconds, as a number or a string like "500ms", "10s", "5m", "1h".
    case duration
}

/// One option a plugin takes.
public struct OptionSpec: Sendable {
    public var name: String
    public var type: OptionType
    public var required: Bool
    public var defaultValue: Value?
    public var help: String

    public init(_ name: String, _ type: OptionType, required: Bool = false, default defaultValue: Value? = nil,
                help: String) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.help = help
    }
}

/// What a plugin is: its name, its ports and its options. `hypha plugins` prints these.
public struct PluginSpec: Sendable {
    public var name: String
    public var summary: String
    public var input: InputPorts
    /// Nil for a sink.
    public var output: PortType?
    public var options: [OptionSpec]
    /// The fields of the records this plugin emits, when they are known before running
    /// (file-watch's columns, a job result). Lets the loader check template variables.
    public var outputFields: [String]?
    /// Whether the records this plugin emits carry the fields its input carried (a decoder
    /// of what a source encoded), so static field checks can see through it.
    public var forwardsFields: Bool

    public init(name: String, summary: String, input: InputPorts, output: PortType?, options: [OptionSpec],
                outputFields: [String]? = nil, forwardsFields: Bool = false) {
        self.forwardsFields = forwardsFields
        self.name = name
        self.summary = summary
        self.input = input
        self.output = output
        self.options = options
        self.outputFields = outputFields
    }

    public var isSource: Bool { input == .none }
}
