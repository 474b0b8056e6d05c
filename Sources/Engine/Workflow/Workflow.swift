/// A workflow file as written: before profiles, overrides and checks are applied.
public struct Workflow: Sendable {
    public var name: String
    public var file: String
    public var directory: String
    public var jobstore: OptionValue?
    public var vars: [String: OptionValue]
    public var varOrder: [String]
    public var nodes: [NodeDeclaration]
    public var profiles: [String: Profile]
    public var profilesLocation: SourceLocation?
    /// Nodes whose plugin a profile or `--set` replaced.
    public var swapped: Set<String> = []
}

/// One node as declared: its id, plugin, upstream nodes and options, each with its place.
public struct NodeDeclaration: Sendable {
    public var id: String
    public var location: SourceLocation
    public var plugin: String?
    public var pluginLocation: SourceLocation?
    public var from: [(id: String, location: SourceLocation)]
    public var fromLocation: SourceLocation?
    public var options: [String: OptionValue]
    public var optionOrder: [String]
}

/// Overrides by node id, applied by `--profile NAME`.
public struct Profile: Sendable {
    public var name: String
    public var location: SourceLocation
    /// Node id → replacement plugin (if any) and options.
    public var nodes: [(id: String, location: SourceLocation, plugin: OptionValue?, options: [String: OptionValue])]
}

/// Overrides from the command line.
public struct RunOverrides: Sendable {
    public var profile: String?
    /// `--set NODE.OPTION=VALUE`; `NODE.plugin=NAME` swaps the plugin.
    public var sets: [(node: String, option: String, value: String)]
    /// `--var NAME=VALUE`.
    public var vars: [(name: String, value: String)]

    public init(profile: String? = nil, sets: [(node: String, option: String, value: String)] = [],
                vars: [(name: String, value: String)] = []) {
        self.profile = profile
        self.sets = sets
        self.vars = vars
    }
}
