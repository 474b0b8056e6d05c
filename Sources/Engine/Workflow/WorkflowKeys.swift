/// The keys a workflow file has outside its nodes' plugin options, declared once: the parser
/// checks and reads them through these declarations, their defaults come from here, and
/// `hypha schema` is generated from them.
public enum WorkflowKeys {
    // MARK: retry (a node's key)

    public static let attempts = NodeOption.int("attempts", default: 3, atLeast: 1, help: "tries in all, the first included")
    public static let backoff = NodeOption.duration("backoff", default: .seconds(2),
                                                    help: "the wait before the first retry; doubles each time")
    public static let maxBackoff = NodeOption.duration("max_backoff", default: .seconds(60), help: "the longest wait between tries")
    public static let retry = KeySection(
        "retry", help: "retry a failed message before it becomes a dead letter: a number of attempts, or "
            + "{ attempts: 3, backoff: 2s, max_backoff: 1m }",
        keys: [attempts, backoff, maxBackoff], shorthand: attempts.spec,
        example: "a number of attempts or { attempts: N, backoff: 2s, max_backoff: 1m }")

    // MARK: retention

    public static let runs = NodeOption.int("runs", default: 20, atLeast: 1, help: "keep the newest N run folders")
    public static let days = OptionalNodeOption.number("days", above: 0, help: "and none older than this many days")
    public static let retention = KeySection(
        "retention", help: "how many run folders to keep", keys: [runs, days], example: "a mapping like { runs: 20, days: 30 }")

    // MARK: http

    public static let address = NodeOption.string("address", default: "127.0.0.1:9464",
                                                  help: "HOST:PORT; anything but loopback needs a token")
    public static let token = OptionalNodeOption.string("token", help: "env:NAME (a variable holding the bearer token) or the token")
    public static let http = KeySection(
        "http", help: "serve metrics, the JSON API and the web view while running (docs/OBSERVE.md): HOST:PORT, or a mapping",
        keys: [address, token], shorthand: address.spec,
        example: "like { address: 127.0.0.1:9464, token: env:HYPHA_HTTP_TOKEN }")

    // MARK: the top of the file

    /// The keys at the top of a workflow file, in the order the schema lists them.
    public static let topLevel: [TopLevelKey] = [
        TopLevelKey("name", .text, help: "the workflow's name (default: the file's name)"),
        TopLevelKey("description", .text, help: "what the workflow does"),
        TopLevelKey("jobstore", .text, help: "the folder of job templates NAME.yml, relative to this file"),
        TopLevelKey("state_dir", .text, help: "where durable state and run folders live (default: .hypha/NAME beside this file)"),
        TopLevelKey("retention", .section(retention), help: retention.help),
        TopLevelKey("http", .section(http), help: http.help),
        TopLevelKey("vars", .vars, help: "variables templates and options read as {{ vars.NAME }}; --var NAME=VALUE overrides"),
        TopLevelKey("nodes", .nodes, help: "the nodes, by id"),
        TopLevelKey("profiles", .profiles, help: "named sets of node overrides, applied with --profile NAME"),
    ]

    /// The names of `topLevel`, for "unknown key" errors.
    public static var topLevelNames: [String] { topLevel.map(\.name) }
}

/// A workflow key whose value is a mapping of its own keys (`retry`, `retention`, `http`).
public struct KeySection: Sendable {
    public let name: String
    public let help: String
    public let keys: [OptionSpec]
    /// The key a lone scalar in place of the mapping sets (`retry: 3` is `attempts: 3`).
    public let shorthand: OptionSpec?
    /// What the value should look like, for errors.
    public let example: String

    init(_ name: String, help: String, keys: [any OptionDeclaration], shorthand: OptionSpec? = nil, example: String) {
        self.name = name
        self.help = help
        self.keys = keys.map(\.spec)
        self.shorthand = shorthand
        self.example = example
    }
}

/// A key at the top of a workflow file and the kind of value it takes.
public struct TopLevelKey: Sendable {
    public enum Kind: Sendable {
        case text
        case section(KeySection)
        /// `vars`, `nodes` and `profiles`: mappings by name whose entries have a shape of their own.
        case vars, nodes, profiles
    }

    public let name: String
    public let kind: Kind
    public let help: String

    init(_ name: String, _ kind: Kind, help: String) {
        self.name = name
        self.kind = kind
        self.help = help
    }
}

extension NodeOption {
    /// The option's value among `values` (a parsed `KeySection`), or its default.
    func read(_ values: [String: Value], _ info: WorkflowInfo) -> T {
        values[spec.name].flatMap { decode($0, info) } ?? fallback
    }
}

extension OptionalNodeOption {
    /// The option's value among `values` (a parsed `KeySection`), or nil.
    func read(_ values: [String: Value], _ info: WorkflowInfo) -> T? {
        values[spec.name].flatMap { decode($0, info) }
    }
}
