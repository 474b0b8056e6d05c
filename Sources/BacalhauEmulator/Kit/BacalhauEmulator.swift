import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A Bacalhau v1.x orchestrator emulator (API.md): the `/api/v1/orchestrator` job routes with
/// Bacalhau's wire types, error bodies, name upserts and auth modes, a local compute node that
/// runs `process` and `noop` jobs, and fault injection (error answers, dropped connections,
/// slow answers, restarts that keep jobs through a state file). For tests and demos only.
public final class BacalhauEmulator: Sendable {
    public let configuration: EmulatorConfiguration
    let store: EmulatorStore
    let runner: JobRunner
    let faults: FaultInjector
    let limiter: RateLimiter
    let counters = Counters()
    /// The running server, for a graceful stop.
    private let serviceGroup = Mutex<ServiceGroup?>(nil)

    /// Request-level counts (what the fault injector and the checks did).
    final class Counters: Sendable {
        struct Values: Sendable {
            var requests = 0
            var injectedFailures = 0
            var droppedBefore = 0
            var droppedAfter = 0
            var rateLimited = 0
            var unauthorized = 0
            var forbidden = 0
            var submissions = 0
        }

        private let values = Mutex(Values())
        func update(_ change: (inout Values) -> Void) { values.withLock { change(&$0) } }
        var snapshot: Values { values.withLock { $0 } }
    }

    public init(configuration: EmulatorConfiguration) async throws {
        self.configuration = configuration
        store = try EmulatorStore(stateFile: configuration.stateFile)
        runner = JobRunner(store: store, configuration: configuration)
        faults = FaultInjector(failRate: configuration.failRate, dropRate: configuration.dropRate, seed: configuration.seed)
        limiter = RateLimiter(perSecond: configuration.rateLimit)
        // Jobs that were not finished when the emulator stopped run again (their processes
        // died with it).
        for (id, version) in await store.unfinished() {
            runner.schedule(jobID: id, version: version)
        }
    }

    /// Serves until cancelled or `shutDownGracefully()`; `onListening` gets the bound port once
    /// connections are accepted.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "bacalhau-emulator")
        logger.logLevel = configuration.verbose ? .info : .critical
        let router = Router(context: EmulatorContext.self)
        router.add(middleware: EmulatorMiddleware(emulator: self))
        addRoutes(to: router)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                 serverName: "bacalhau-emulator"),
            onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? 0)
            },
            logger: logger)
        defer {
            runner.cancelAll()
            try? FileManager.default.removeItem(atPath: runner.logDirectory)
        }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        serviceGroup.withLock { $0 = group }
        try await group.run()
    }

    /// Stops accepting, lets requests in flight finish, then returns from `run`. (Cancelling
    /// `run` instead can trap in debug builds when a connection was accepted but not yet
    /// served: swift-nio issue 3481.)
    public func shutDownGracefully() async {
        await serviceGroup.withLock { $0 }?.triggerGracefulShutdown()
    }

    /// Starts the emulator in the background and returns once it listens.
    public static func start(_ configuration: EmulatorConfiguration) async throws -> RunningEmulator {
        let emulator = try await BacalhauEmulator(configuration: configuration)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            do {
                try await emulator.run { port in continuation.yield(port) }
            } catch {
                continuation.finish()
            }
            continuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            task.cancel()
            throw EmulatorUsageError("the emulator could not listen on \(configuration.host):\(configuration.port)")
        }
        return RunningEmulator(emulator: emulator, port: port, task: task)
    }

    /// Counts for `/api/v1/emulator/stats` and tests.
    public func stats() async -> [(String, Int)] {
        let c = counters.snapshot
        let s = await store.counts
        return [
            ("Requests", c.requests), ("Submissions", c.submissions), ("Created", s.created), ("Updated", s.updated),
            ("Unchanged", s.unchanged), ("Stopped", s.stopped), ("Jobs", await store.jobCount),
            ("InjectedFailures", c.injectedFailures), ("DroppedBefore", c.droppedBefore),
            ("DroppedAfter", c.droppedAfter), ("RateLimited", c.rateLimited), ("Unauthorized", c.unauthorized),
            ("Forbidden", c.forbidden),
        ]
    }

    /// Every stored job's namespace, name, ID, state and version.
    public func jobs() async -> [EmulatedJob] {
        await store.allJobs().map {
            EmulatedJob(id: $0.id, name: $0.name, namespace: $0.namespace, state: $0.state, version: $0.version,
                        labels: $0.labels, executions: $0.executions.count)
        }
    }
}

/// A stored job as tests see it.
public struct EmulatedJob: Sendable, Equatable {
    public var id: String
    public var name: String
    public var namespace: String
    public var state: String
    public var version: Int64
    public var labels: [String: String]
    public var executions: Int

    init(id: String, name: String, namespace: String, state: String, version: Int64, labels: [(String, String)],
         executions: Int)
    {
        self.id = id
        self.name = name
        self.namespace = namespace
        self.state = state
        self.version = version
        self.labels = Dictionary(labels, uniquingKeysWith: { $1 })
        self.executions = executions
    }
}

/// An emulator serving in the background.
public final class RunningEmulator: Sendable {
    public let emulator: BacalhauEmulator
    public let port: Int
    private let task: Task<Void, Never>

    init(emulator: BacalhauEmulator, port: Int, task: Task<Void, Never>) {
        self.emulator = emulator
        self.port = port
        self.task = task
    }

    public var endpoint: String { "http://\(emulator.configuration.host):\(port)" }

    /// Stops serving gracefully and waits until the port is closed; a request still running
    /// after 5 s is cut off.
    public func stop() async {
        await emulator.shutDownGracefully()
        let task = self.task
        let deadline = Task {
            try? await Task.sleep(for: .seconds(5))
            task.cancel()
        }
        await task.value
        deadline.cancel()
    }
}

/// The request context: Hummingbird's, plus the connection (so a fault can drop it).
public struct EmulatorContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Bacalhau's 10 MB body limit.
    public var maxUploadSize: Int { 10 * 1024 * 1024 }
}
