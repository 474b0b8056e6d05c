import ArgumentParser
import Engine
import Foundation
import HyphaState
import Logging
import Observe

/// `--http`, `--http-token`, `--http-linger` and the endpoint's connection limits: the
/// observability endpoint (docs/OBSERVE.md).
struct HTTPOptions: ParsableArguments {
    @Option(name: .customLong("http"), help: ArgumentHelp(
        "Serve metrics, the JSON API and the web view at HOST:PORT while running (:PORT or PORT: loopback; overrides the workflow's http:).",
        valueName: "address"))
    var address: String?

    @Option(name: .customLong("http-token"), help: ArgumentHelp(
        "A bearer token every request must carry: env:NAME (read from the environment) or the token; required for a non-loopback address.",
        valueName: "token"))
    var token: String?

    @Option(name: .customLong("http-linger"), help: ArgumentHelp(
        "Seconds the endpoint stays up after the run ends (to scrape a --once run's final figures; Ctrl-C ends it early).",
        valueName: "seconds"))
    var linger: Double = 0

    @Option(name: .customLong("http-allowed-hosts"), help: ArgumentHelp(
        "Names the endpoint answers as Host besides its own, comma-separated ('*': any); others get 421.",
        valueName: "names"))
    var allowedHosts: String?

    @Option(name: .customLong("http-max-connections"), help: ArgumentHelp(
        "Connections the endpoint keeps open at once; more wait until one closes.", valueName: "count"))
    var maxConnections: Int = EndpointLimits.defaultMaxConnections

    @Option(name: .customLong("http-idle-timeout"), help: ArgumentHelp(
        "Seconds an endpoint connection may take to send a whole request (since it opened or its previous answer) before it is closed.",
        valueName: "seconds"))
    var idleTimeout: Double = EndpointLimits.defaultIdleTimeout.inSeconds

    func validate() throws {
        guard maxConnections >= 1 else { throw ValidationError("--http-max-connections must be at least 1, got \(maxConnections)") }
        guard idleTimeout > 0, idleTimeout.isFinite else {
            throw ValidationError("--http-idle-timeout must be a number of seconds above 0, got \(idleTimeout)")
        }
    }

    var limits: EndpointLimits {
        EndpointLimits(allowedHosts: (allowedHosts ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                       maxConnections: maxConnections, idleTimeout: .milliseconds(Int64(min(idleTimeout, 1e9) * 1000)))
    }
}

/// `--log-format`.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Starts the observability endpoint for a run, when asked for, and stops it after.
struct ObserveHook {
    let server: ObserveServer?
    let linger: Double
    /// The run the endpoint watches now.
    var watcher: RunWatcher? { server?.watcher }

    /// A watcher and an endpoint when `--http` or the workflow's `http:` ask for one; prints
    /// why it cannot start and exits 2 when the address or token is wrong or the port taken.
    static func start(_ options: HTTPOptions, plan: WorkflowPlan, runID: String, runDirectory: String,
                      state: StateFolder?, logger: Logger) async throws -> ObserveHook {
        let settings: EndpointSettings?
        do {
            settings = try EndpointSettings.resolve(address: options.address, token: options.token, workflow: plan.info.http)
        } catch {
            Console.error("hypha: \(error)")
            throw ExitCode(2)
        }
        guard let settings else { return ObserveHook(server: nil, linger: 0) }
        let watcher = RunWatcher(plan: plan, runID: runID, runDirectory: runDirectory)
        let server = ObserveServer(watcher: watcher, host: settings.host, port: settings.port, token: settings.token,
                                   store: state?.store, logger: logger, limits: options.limits)
        do {
            let (host, port) = try await server.start()
            let shown = host.contains(":") ? "[\(host)]" : host
            Console.error("hypha: observability endpoint at http://\(shown):\(port)/ (metrics at /metrics)"
                          + (settings.token == nil ? "" : "; bearer token required"))
        } catch {
            Console.error("hypha: \(error)")
            throw ExitCode(2)
        }
        return ObserveHook(server: server, linger: options.linger)
    }

    /// Watches a new version of the workflow (a reload that restarted the run), on the same
    /// address.
    func watch(_ plan: WorkflowPlan, runID: String, runDirectory: String) {
        server?.watch(RunWatcher(plan: plan, runID: runID, runDirectory: runDirectory))
    }

    /// The run is over: keeps serving `linger` seconds (or until `signal`), then stops.
    func finish(until signal: ShutdownSignal) async {
        guard let server else { return }
        watcher?.finish()
        if linger > 0 { await signal.wait(atMost: linger) }
        await server.stop()
    }
}
