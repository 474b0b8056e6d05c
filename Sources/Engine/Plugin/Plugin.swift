import Logging

/// A plugin: a node's behaviour. Every plugin has a static spec and is built from its node's
/// checked configuration. Sources conform to `SourcePlugin`, transforms and sinks to
/// `ProcessorPlugin`.
public protocol Plugin: Sendable {
    static var spec: PluginSpec { get }

    /// The port types the plugin takes: none for a source, what its `Input` arrives as for a
    /// processor.
    static var input: InputPorts { get }

    /// Checks that go beyond what the options declare (for example that a template's job
    /// exists). Runs at load time, before anything starts; the default finds nothing.
    static func validate(_ node: NodeConfig) -> [Diagnostic]

    /// Builds the node. Throw a `Diagnostic` for a configuration that can't work.
    init(node: NodeConfig, context: RunContext) throws

    /// The fields this node emits, where its options say (a declared `schema:`); the default is
    /// the spec's `outputSchema`.
    static func outputSchema(for node: NodeConfig) -> [RecordField]?

    /// What the node's behaviour depends on besides its options, its plugin, its inputs and
    /// `filesRead` (the workflow vars a template renders): live reload restarts the node when
    /// this changes. The default is nothing.
    static func reloadFingerprint(for node: NodeConfig) -> String

    /// Files the node reads when it starts (a template, a program's script): `run --watch`
    /// watches them, and live reload restarts the node when one changes. The default is none.
    static func filesRead(by node: NodeConfig) -> [String]
}

extension Plugin {
    public static func validate(_ node: NodeConfig) -> [Diagnostic] { [] }
    public static func outputSchema(for node: NodeConfig) -> [RecordField]? { spec.outputSchema }
    public static func reloadFingerprint(for node: NodeConfig) -> String { "" }
    public static func filesRead(by node: NodeConfig) -> [String] { [] }
    public static var isSource: Bool { input == .none }
    /// Whether the plugin runs jobs: it takes jobs and emits their results.
    public static var isExecutor: Bool { input.accepts(.job) && spec.output == .result }
}

/// A node with no input that emits messages, such as a folder watcher.
public protocol SourcePlugin: Plugin {
    /// Emits messages until done (`--once`: what is present now) or cancelled (shutdown).
    func run(_ output: SourceOutput) async throws

    /// Waits until what it records about the messages it emitted (checkpoints) is written, once
    /// they have all ended. Live reload calls it between stopping a source and starting its
    /// replacement, which reads those records. The default returns at once.
    func settle() async
    /// Whether the source calls `SourceOutput.ready()` once it listens or watches. One that
    /// does not counts as ready once it has emitted its first message or returned.
    static var announcesReadiness: Bool { get }
}

extension SourcePlugin {
    public static var input: InputPorts { .none }
    public func settle() async {}
    public static var announcesReadiness: Bool { false }
}

/// A node that handles one message at a time: a transform (it emits) or a sink (it doesn't).
/// It takes the value its `Input` says (a `Record`, a `Job`, ...): the loader has checked
/// every edge, so no message of another type reaches it.
public protocol ProcessorPlugin: Plugin {
    associatedtype Input: PortValue

    /// How many messages this node handles at once.
    var concurrency: Int { get }

    /// Handles one message. Everything emitted through `output` is derived from it.
    /// Throwing (a `MessageFailure`, say) fails this message: counted, logged with the node's
    /// id, reported to its source; the run goes on.
    func process(_ input: Input, _ output: Output) async throws

    /// Runs once after the last message, before the node's output closes (flush files, say).
    func finish() async throws
}

extension ProcessorPlugin {
    public static var input: InputPorts { Input.accepted }
    public var concurrency: Int { 1 }
    public func finish() async throws {}
}

/// Where a source sends what it finds.
public struct SourceOutput: Sendable {
    let send: @Sendable (Payload, Acknowledgement) async throws -> Void
    /// Whether the run should stop once what is present now has been emitted.
    public let once: Bool
    /// Whether every channel downstream has room now, so `emit` would not wait. Sources that
    /// can refuse work (an HTTP endpoint answering 503) use it to push back on their senders.
    public let hasRoom: @Sendable () -> Bool
    /// Counts the messages emitted and not yet ended (the runtime's, for live reload).
    let inFlight: InFlightCount?
    /// Called by `ready()`.
    let onReady: @Sendable () -> Void
    /// Called by `fail(_:keeping:as:)` and `recovered(_:)`.
    let onFailure: @Sendable (SourceFailure) async -> Void
    let onRecovered: @Sendable (String) async -> Void
    /// Adds to the bytes the node has received so far (download progress on the live display).
    public let received: @Sendable (Int) -> Void

    public init(once: Bool, hasRoom: @escaping @Sendable () -> Bool = { true }, onReady: @escaping @Sendable () -> Void = {},
                onFailure: @escaping @Sendable (SourceFailure) async -> Void = { _ in },
                onRecovered: @escaping @Sendable (String) async -> Void = { _ in },
                received: @escaping @Sendable (Int) -> Void = { _ in },
                send: @escaping @Sendable (Payload, Acknowledgement) async throws -> Void) {
        self.init(once: once, hasRoom: hasRoom, onReady: onReady, onFailure: onFailure, onRecovered: onRecovered,
                  received: received, inFlight: nil, send: send)
    }

    init(once: Bool, hasRoom: @escaping @Sendable () -> Bool, onReady: @escaping @Sendable () -> Void,
         onFailure: @escaping @Sendable (SourceFailure) async -> Void, onRecovered: @escaping @Sendable (String) async -> Void,
         received: @escaping @Sendable (Int) -> Void, inFlight: InFlightCount?,
         send: @escaping @Sendable (Payload, Acknowledgement) async throws -> Void) {
        self.once = once
        self.hasRoom = hasRoom
        self.inFlight = inFlight
        self.onReady = onReady
        self.onFailure = onFailure
        self.onRecovered = onRecovered
        self.received = received
        self.send = send
    }

    /// A failure that produced no message (a download that failed: no file to emit). It counts
    /// as the node's, so the run reports it and `--once` exits 1; the source goes on.
    ///
    /// With `item` (what the source was asked for, in the form it emits: a row naming the URL)
    /// and `key` (what it names, e.g. the URL), the failure is also kept as a dead letter of
    /// this node: one per key, a later failure replacing it. `hypha dead-letters retry` hands
    /// `item` back to the source (`RetryingSource`).
    public func fail(_ reason: String, keeping item: Payload? = nil, as key: String? = nil) async {
        await onFailure(SourceFailure(reason: reason, item: item, key: key))
    }

    /// What `key` names succeeded after all: its dead letter, if any, goes.
    public func recovered(_ key: String) async { await onRecovered(key) }

    /// Says the source is up: listening (after its port is bound) or watching (after its watch
    /// is set up). The run is ready (sd_notify `READY=1`) once every source is; calling it
    /// again does nothing.
    public func ready() { onReady() }

    /// Emits a payload; `onComplete` runs once every sink downstream has finished with it
    /// (or failed on it). Suspends while downstream is full.
    public func emit(_ payload: Payload, onComplete: @escaping @Sendable (Delivery) -> Void = { _ in })
        async throws
    {
        guard let inFlight else {
            try await send(payload, Acknowledgement(onComplete: onComplete))
            return
        }
        inFlight.begin()
        try await send(payload, Acknowledgement { delivery in
            onComplete(delivery)
            inFlight.end()
        })
    }
}

/// A failure a source reports with `SourceOutput.fail(_:keeping:as:)`.
public struct SourceFailure: Sendable {
    public var reason: String
    public var item: Payload?
    public var key: String?
}

/// A source that can try again what one of its dead letters describes (a download that
/// failed), for `hypha dead-letters retry`.
public protocol RetryingSource: SourcePlugin {
    /// Tries each item (a dead letter's payload, kept with `SourceOutput.fail(_:keeping:as:)`)
    /// again, each through its own output: emits what it yields, or fails it again.
    func retry(_ items: [(payload: Payload, output: SourceOutput)]) async throws
}

/// Where a processor sends what it derives from the message it is handling.
public struct Output: Sendable {
    let send: @Sendable (Payload) async throws -> Void

    public init(send: @escaping @Sendable (Payload) async throws -> Void) {
        self.send = send
    }

    /// Emits a payload derived from the message being handled. Suspends while downstream is full.
    public func emit(_ payload: Payload) async throws {
        try await send(payload)
    }
}
