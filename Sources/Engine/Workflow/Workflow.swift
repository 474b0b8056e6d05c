/// A workflow file as written: before profiles, overrides and checks are applied.
public struct Workflow: Sendable {
    public var name: String
    public var file: String
    public var directory: String
    public var jobstore: OptionValue?
    /// `state_dir:`, where durable state and run folders live.
    public var stateDir: OptionValue?
    /// `retention:`, how many run folders to keep.
    public var retention: Retention?
    /// `http:`, the observability endpoint (docs/OBSERVE.md).
    public var http: HTTPSettings?
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
    /// `retry:`, how failed messages are retried at this node.
    public var retry: RetrySettings? = nil
}

/// How many run folders (`STATE/runs/RUN-ID`) to keep: the newest `runs`, and none older than
/// `days` (when set).
public struct Retention: Sendable, Equatable {
    public var runs: Int
    public var days: Double?

    public static let standard = Retention(runs: WorkflowKeys.runs.fallback, days: nil)

    public init(runs: Int, days: Double?) {
        self.runs = runs
        self.days = days
    }
}

/// A node's `retry: { attempts: N, backoff: 2s, max_backoff: 1m }`: a failed message is tried
/// up to `attempts` times in all, waiting with exponential backoff and jitter between tries.
public struct RetrySettings: Sendable, Equatable {
    public var policy: RetryPolicy
    /// Tries in all, the first one included.
    public var attempts: Int { policy.maxAttempts }

    public init(attempts: Int, backoff: Double, maxBackoff: Double) {
        policy = RetryPolicy(maxAttempts: attempts, initialDelay: backoff, maxDelay: maxBackoff)
    }
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
