import Foundation

/// An option's value and where it was written.
public struct OptionValue: Sendable {
    public var value: Value
    public var location: SourceLocation?
    /// The text as written, for a plain scalar (`0123`, `1e3`, `true`): an option whose type
    /// is a string takes this text rather than the number or flag YAML read in it.
    public var text: String?

    public init(_ value: Value, at location: SourceLocation?, text: String? = nil) {
        self.value = value
        self.location = location
        self.text = text
    }
}

/// A node's checked configuration, as its plugin sees it. Options have been checked against
/// their declarations and defaults filled in by the loader; a plugin reads them typed with
/// `node[option]` (see `Option`).
public struct NodeConfig: Sendable {
    public var id: String
    public var plugin: String
    public var options: [String: OptionValue]
    /// Where the node is declared (its id in the workflow file).
    public var location: SourceLocation?
    public var workflow: WorkflowInfo
    /// The ids of the nodes this one reads from.
    public var upstream: [String]
    /// The plugin specs of the upstream nodes (for static checks such as template variables).
    public var upstreamSpecs: [PluginSpec]
    /// How the runtime retries a failed message here (`retry:`); nil: not at all.
    public var retry: RetrySettings?

    public init(id: String, plugin: String, options: [String: OptionValue], location: SourceLocation?,
                workflow: WorkflowInfo, upstream: [String] = [], upstreamSpecs: [PluginSpec] = []) {
        self.id = id
        self.plugin = plugin
        self.options = options
        self.location = location
        self.workflow = workflow
        self.upstream = upstream
        self.upstreamSpecs = upstreamSpecs
    }

    public func location(of option: String) -> SourceLocation? { options[option]?.location ?? location }

    public func value(_ name: String) -> Value? {
        guard let v = options[name]?.value, v != .null else { return nil }
        return v
    }

    /// An option's value as text (for messages); plugins read options typed, with `node[option]`.
    public func string(_ name: String) -> String? { value(name).map(\.text) }
}

/// What every node may know about its workflow.
public struct WorkflowInfo: Sendable {
    public var name: String
    /// The workflow file's path.
    public var file: String
    /// The workflow file's folder: relative paths resolve against it.
    public var directory: String
    /// The jobstore folder, resolved.
    public var jobstore: String?
    /// `vars`, after `--var` overrides.
    public var vars: Record
    /// Where durable state and run folders live (`state_dir:`, default `.hypha` beside the file).
    public var stateDirectory: String
    public var retention: Retention
    /// `http:`, the observability endpoint to serve while running (docs/OBSERVE.md).
    public var http: HTTPSettings?

    public init(name: String, file: String, directory: String, jobstore: String?, vars: Record,
                stateDirectory: String? = nil, retention: Retention = .standard) {
        self.name = name
        self.file = file
        self.directory = directory
        self.jobstore = jobstore
        self.vars = vars
        // One folder per workflow under `.hypha`, so two workflows of one folder (the two-node
        // pair) can run at once.
        self.stateDirectory = stateDirectory
            ?? URL(fileURLWithPath: directory).appendingPathComponent(".hypha").appendingPathComponent(SafeName.file(name)).path
        self.retention = retention
    }

    /// Resolves a path against the workflow file's folder; `~` is the home folder.
    public func resolve(_ path: String) -> String {
        var p = path
        if p == "~" || p.hasPrefix("~/") {
            p = FileManager.default.homeDirectoryForCurrentUser.path + p.dropFirst()
        }
        let url = p.hasPrefix("/") ? URL(fileURLWithPath: p) : URL(fileURLWithPath: directory).appendingPathComponent(p)
        return url.standardizedFileURL.path
    }
}

enum OptionParsing {
    /// Seconds from a number or from "250ms", "10s", "5m", "2h".
    static func seconds(_ value: Value) -> Double? {
        if let d = value.doubleValue { return d >= 0 ? d : nil }
        guard let s = value.stringValue?.trimmingCharacters(in: .whitespaces) else { return nil }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            if let n = Double(s.dropLast(suffix.count)), n >= 0 { return n * factor }
        }
        return Double(s).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// A list of strings, or one string as a list of one.
    static func strings(_ value: Value) -> [String]? {
        switch value {
        case .list(let items): items.map(\.text)
        case .null: nil
        default: [value.text]
        }
    }
}
