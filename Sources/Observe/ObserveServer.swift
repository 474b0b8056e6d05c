import Engine
import Foundation
import HTTPServing
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// How a retry asked for on the endpoint went.
public enum DeadLetterRetry: Sendable {
    /// The message is on its way through the DAG again; its letter goes when it ends.
    case started
    case notFound
    /// Why it cannot be retried now.
    case refused(String)
}

/// The observability endpoint of a running Hypha (docs/OBSERVE.md): `/metrics`, the JSON API
/// under `/api/v1`, server-sent events, taps of what leaves a node and the web view at `/`. It lives as long as the run
/// (and `--http-linger` after it); with a token, every route answers 401 without
/// `Authorization: Bearer TOKEN`.
public final class ObserveServer: Sendable {
    /// The run watched, and its metrics (replaced when a reload starts a new version).
    private let watching: Mutex<(watcher: RunWatcher, metrics: MetricsExporter)>
    public var watcher: RunWatcher { watching.withLock { $0.watcher } }
    var metrics: MetricsExporter { watching.withLock { $0.metrics } }
    let host: String
    let port: Int
    let token: String?
    let store: (any StateStore)?
    let logger: Logger
    let limits: EndpointLimits
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let stopping = Atomic<Bool>(false)
    /// Tap streams answering now (`/api/v1/tap/NODE`), which `stop` lets end before the server.
    let openTaps = Atomic<Int>(0)
    /// Runs a dead letter again in the running workflow (the page's retry button); nil without
    /// a state folder.
    private let retrier = Mutex<(@Sendable (Int64) async -> DeadLetterRetry)?>(nil)

    /// - Parameters:
    ///   - store: the state store, whose journal `/api/v1/jobs` lists and whose dead letters
    ///     the page shows (nil with `--no-state`: the jobs of this run, from memory).
    ///   - limits: the names it answers, its connections' limits.
    public init(watcher: RunWatcher, host: String, port: Int, token: String?, store: (any StateStore)?, logger: Logger,
                limits: EndpointLimits = EndpointLimits()) {
        watching = Mutex((watcher, MetricsExporter(watcher: watcher)))
        self.host = host
        self.port = port
        self.token = token
        self.store = store
        self.logger = logger
        self.limits = limits
    }

    /// Watches `watcher`'s run from now on (a new version of the workflow after a reload that
    /// restarted it): its counters start from zero, and the old run's event streams end (a
    /// browser's EventSource connects again).
    public func watch(_ watcher: RunWatcher) {
        let old = watching.withLock { current -> RunWatcher in
            defer { current = (watcher, MetricsExporter(watcher: watcher)) }
            return current.watcher
        }
        old.finish()
        old.events.finishAll()
    }

    /// Serves `POST /api/v1/dead-letters/ID/retry` with `retry` (the running version's).
    public func serveRetries(_ retry: @escaping @Sendable (Int64) async -> DeadLetterRetry) {
        retrier.withLock { $0 = retry }
    }

    /// Starts listening; returns the address bound (the port chosen when 0 was asked).
    public func start() async throws -> (host: String, port: Int) {
        let (bound, reportBound) = AsyncStream<Result<(String, Int), any Error>>.makeStream()
        // No route reads a body: one must arrive as fast as a head.
        let serving = ServerLimits(
            server: "the observability endpoint", idleTimeout: limits.idleTimeout, bodyTimeout: limits.idleTimeout,
            maxConnections: limits.maxConnections, maxConnectionsSetting: "--http-max-connections",
            hosts: HostCheck(boundTo: host, allowed: limits.allowedHosts, hint: "give it to --http-allowed-hosts"),
            logger: logger)
        let app = Application(
            router: makeRouter(),
            server: serving.http1(),
            configuration: serving.configuration(host: host, port: port),
            onServerRunning: { channel in
                reportBound.yield(.success((channel.localAddress?.ipAddress ?? "?", channel.localAddress?.port ?? 0)))
            },
            logger: {
                var quiet = logger
                quiet.logLevel = .critical  // its shutdown reports a cancelled accept loop as an error
                return quiet
            }())
        let host = host, port = port
        task.withLock {
            $0 = Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.publishStatus() }
                    do {
                        try await app.runService(gracefulShutdownSignals: [])
                    } catch is CancellationError {
                    } catch {
                        reportBound.yield(.failure(ObserveError("cannot serve the observability endpoint on \(host):\(port): \(error); "
                                                                + "give another address with --http (a free port, or 0 for any)")))
                    }
                    group.cancelAll()
                }
                reportBound.finish()
            }
        }
        for await result in bound { return try result.get() }
        throw ObserveError("the observability endpoint on \(host):\(port) stopped before it listened; give another address with --http")
    }

    /// Sends the status to every events subscriber once a second: one status for all of them,
    /// and none while there are none.
    private func publishStatus() async {
        while !Task.isCancelled {
            let events = watcher.events
            if events.hasSubscribers { events.publish("nodes", status()) }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Ends the event streams and log follows, then the server. Taps first send what their
    /// readers' buffers hold and their end (for up to 2 s), so `hypha tap` can tell the run ended.
    public func stop() async {
        stopping.store(true, ordering: .relaxed)
        watcher.events.finishAll()
        watcher.endTaps()
        for _ in 0..<100 where openTaps.load(ordering: .relaxed) > 0 {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard let running = task.withLock({ $0 }) else { return }
        running.cancel()
        await withTaskGroup(of: Void.self) { race in
            race.addTask { await running.value }
            race.addTask { try? await Task.sleep(for: .seconds(3)) }
            await race.next()
            race.cancelAll()
        }
    }

    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    // MARK: Routes

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { request, _ in
            try self.guarded(request) { Self.answer(.ok, WebPage.html, type: "text/html; charset=utf-8") }
        }
        router.get("/metrics") { request, _ in
            try self.guarded(request) {
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: .init(byteBuffer: ByteBuffer(bytes: self.metrics.render())))
            }
        }
        router.get("/api/v1/status") { request, _ in
            try self.guarded(request) { Self.json(self.status()) }
        }
        router.get("/api/v1/jobs") { request, _ in
            guard self.authorized(request) else { return Self.unauthorized() }
            var limit = 100
            if let asked = request.uri.queryParameters.get("limit") {
                guard let number = Int(asked), number >= 1 else {
                    return Self.answer(.badRequest, "limit must be a number from 1 (at most 5000 jobs are listed), got '\(asked)'\n",
                                       type: "text/plain")
                }
                limit = min(number, 5000)
            }
            return Self.json(try await self.jobs(limit: limit))
        }
        router.get("/api/v1/jobs/:name/logs") { request, context in
            guard self.authorized(request) else { return Self.unauthorized() }
            let name = context.parameters.get("name")?.removingPercentEncoding ?? ""
            return await self.logs(job: name, request: request)
        }
        router.get("/api/v1/events") { request, _ in
            guard self.authorized(request) else { return Self.unauthorized() }
            return self.eventStream()
        }
        router.get("/api/v1/tap/:node") { request, context in
            guard self.authorized(request) else { return Self.unauthorized() }
            return self.tap(node: context.parameters.get("node")?.removingPercentEncoding ?? "", request: request)
        }
        router.get("/api/v1/dead-letters") { request, _ in
            guard self.authorized(request) else { return Self.unauthorized() }
            return Self.json(await self.deadLetters())
        }
        router.post("/api/v1/dead-letters/:id/retry") { request, context in
            guard self.authorized(request) else { return Self.unauthorized() }
            return await self.retry(context.parameters.get("id").flatMap { Int64($0) }, request: request)
        }
        return router
    }

    /// The header a retry must carry. A page of another site cannot send it without the browser
    /// asking this server first (a CORS preflight), which it never allows: no retries forged by
    /// a site the user happens to visit.
    static let requestHeader = HTTPField.Name("X-Hypha-Request")

    func retry(_ id: Int64?, request: Request) async -> Response {
        guard let header = Self.requestHeader, request.headers[header] != nil else {
            return Self.error(.forbidden, "send the header X-Hypha-Request (any value) with a retry; the web page does")
        }
        guard let id else { return Self.error(.notFound, "a dead letter's id is a number (see /api/v1/dead-letters)") }
        guard let retry = retrier.withLock({ $0 }) else {
            return Self.error(.conflict, "this run keeps no state (--no-state), so it has no dead letters to retry")
        }
        switch await retry(id) {
        case .started: return Self.answer(.accepted, Value.map(Record([("retrying", .int(id))])).json + "\n", type: "application/json")
        case .notFound: return Self.error(.notFound, "no dead letter #\(id) (retried already, or dropped)")
        case .refused(let why): return Self.error(.conflict, why)
        }
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        answer(status, Value.map(Record([("error", .string(message))])).json + "\n", type: "application/json")
    }

    func authorized(_ request: Request) -> Bool {
        guard let token else { return true }
        return HTTPAccess.bearerMatches(request.headers[.authorization], token: token)
    }

    func guarded(_ request: Request, _ answer: () throws -> Response) throws -> Response {
        guard authorized(request) else { return Self.unauthorized() }
        return try answer()
    }

    static func unauthorized() -> Response {
        var response = answer(.unauthorized, "{\"error\":\"missing or wrong bearer token: send Authorization: Bearer TOKEN\"}\n",
                              type: "application/json")
        response.headers[.wwwAuthenticate] = "Bearer"
        return response
    }


    static func answer(_ status: HTTPResponse.Status, _ text: String, type: String) -> Response {
        Response(status: status, headers: [.contentType: type, .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ value: Value) -> Response { answer(.ok, value.json + "\n", type: "application/json") }

    // MARK: JSON

    func status() -> Value {
        let plan = watcher.plan
        let readings = watcher.readNodes()
        let nodes: [Value] = plan.nodes.enumerated().map { index, node in
            let r = readings[index]
            let kind = node.plugin.isSource ? "source" : node.plugin.isExecutor ? "executor" : node.spec.output == nil ? "sink" : "processor"
            var fields: [(String, Value)] = [
                ("id", .string(node.config.id)), ("plugin", .string(node.config.plugin)), ("kind", .string(kind)),
                ("from", .list(node.config.upstream.map(Value.string))),
                ("output", node.spec.output.map { .string($0.rawValue) } ?? .null),
                ("received", .int(Int64(r.stats.received))), ("emitted", .int(Int64(r.stats.emitted))),
                ("failed", .int(Int64(r.stats.failed))), ("retries", .int(Int64(r.stats.retries))),
                ("active", .int(Int64(r.stats.active))),
                ("done", .int(Int64(r.stats.done))),
                ("queue_depth", r.queueDepth.map { .int(Int64($0)) } ?? .null),
                ("queue_capacity", r.queueCapacity.map { .int(Int64($0)) } ?? .null),
            ]
            if node.plugin.isExecutor {
                fields.append(("jobs_running", .int(Int64(r.jobsRunning))))
                fields.append(("jobs", .map(Record(MetricsExporter.jobStates.map { ($0, .int(Int64(r.jobCounts[$0] ?? 0))) }))))
            }
            if let lag = r.sourceLag { fields.append(("source_lag_seconds", .float(lag))) }
            return .map(Record(fields))
        }
        return .map(Record([
            ("workflow", .map(Record([("name", .string(plan.info.name)), ("file", .string(plan.info.file))]))),
            ("run_id", .string(watcher.runID)), ("run_directory", .string(watcher.runDirectory)),
            ("started", .float(watcher.startedAt.timeIntervalSince1970)),
            ("uptime_seconds", .float(Date().timeIntervalSince(watcher.startedAt))),
            ("finished", .bool(watcher.isFinished)), ("state", .bool(store != nil)),
            ("nodes", .list(nodes)),
            ("jobs_running", .list(watcher.runningJobs().map(\.value))),
            ("failures", .list(watcher.recentFailures().suffix(50).map { f in
                .map(Record([("node", .string(f.node)), ("message", .string(f.message)), ("time", .float(f.time))]))
            })),
        ]))
    }

    /// Recent jobs: the journal's when there is state (this run's running jobs first, as the
    /// journal may not have committed them yet), this run's from memory otherwise.
    func jobs(limit: Int) async throws -> Value {
        var entries: [JobEntry]
        var source = "memory"
        if let store {
            source = "journal"
            let running = watcher.runningJobs()
            let names = Set(running.map { "\($0.node)\u{0}\($0.name)" })
            let journal = try await store.jobs(state: nil, file: nil, name: nil, limit: max(1, limit)).map(JobEntry.init)
                .filter { !names.contains("\($0.node)\u{0}\($0.name)") }
            entries = Array((running.reversed() + journal).prefix(limit))
        } else {
            entries = watcher.recentJobs(limit: limit)
        }
        return .map(Record([("source", .string(source)), ("jobs", .list(entries.map(\.value)))]))
    }

    func deadLetters() async -> Value {
        guard let store else {
            return .map(Record([("state", .bool(false)), ("dead_letters", .list([]))]))
        }
        do {
            let letters = try await store.deadLetters(ids: nil, limit: 200)
            return .map(Record([
                ("state", .bool(true)),
                ("retry", .string("hypha dead-letters retry \(watcher.plan.info.file) --all")),
                ("dead_letters", .list(letters.map { letter in
                    .map(Record([
                        ("id", .int(letter.id)), ("node", .string(letter.node)), ("reason", .string(letter.reason)),
                        ("file", letter.file.map(Value.string) ?? .null), ("logs", .list(letter.logs.map(Value.string))),
                        ("created", .float(letter.created)),
                    ]))
                })),
            ]))
        } catch {
            return .map(Record([("state", .bool(true)), ("error", .string("\(error)")), ("dead_letters", .list([]))]))
        }
    }

    // MARK: Streams

    /// Server-sent events: `job` (started, finished), `failure`, `nodes` (counters, every
    /// second) and `run` (finished), until the client goes or the endpoint stops.
    func eventStream() -> Response {
        let (id, stream) = watcher.events.subscribe()
        let hub = watcher.events
        // The status now, then what the hub sends (`publishStatus` adds it every second).
        let first = "event: nodes\ndata: \(status().json)\n\n"
        let body = ResponseBody { writer in
            defer { hub.cancel(id) }
            try await writer.write(ByteBuffer(string: ": hypha events\nretry: 2000\n\n" + first))
            for await frame in stream {
                try await writer.write(ByteBuffer(string: frame))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    /// The most `?bytes=` may ask of a log's tail: the tail is read into memory whole.
    static let maxTailBytes = 16 << 20

    /// A job's log: its tail (`?bytes=N`, default 64 KiB, at most ``maxTailBytes``), or with
    /// `?follow=1` the whole of it, streamed as it grows until the job ends. `?stream=stderr`
    /// picks the other stream.
    func logs(job name: String, request: Request) async -> Response {
        guard !name.isEmpty else { return Self.answer(.badRequest, "give a job name: /api/v1/jobs/NAME/logs\n", type: "text/plain") }
        let stream = request.uri.queryParameters.get("stream") ?? "stdout"
        guard stream == "stdout" || stream == "stderr" else {
            return Self.answer(.badRequest, "stream must be stdout or stderr, got '\(stream)'\n", type: "text/plain")
        }
        var limit = 65_536
        if let asked = request.uri.queryParameters.get("bytes") {
            guard let bytes = Int(asked), (1...Self.maxTailBytes).contains(bytes) else {
                return Self.answer(.badRequest, "bytes must be a number from 1 to \(Self.maxTailBytes) (16 MiB), got '\(asked)'; "
                                   + "use ?follow=1 for the whole log\n", type: "text/plain")
            }
            limit = bytes
        }
        let path = await logPath(job: name, stream: stream)
        let follow = ["1", "true", "yes"].contains(request.uri.queryParameters.get("follow") ?? "")
        guard let path else {
            return Self.answer(.notFound, "no job \(name) in this run or the journal; /api/v1/jobs lists them\n", type: "text/plain")
        }
        let headers: HTTPFields = [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"]
        guard follow else {
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: Self.tail(path, limit))))
        }
        let body = ResponseBody { writer in
            // Opened once it exists (a log file is made on the job's first byte), then read on.
            var handle: FileHandle?
            defer { try? handle?.close() }
            while true {
                let running = self.watcher.isRunning(job: name)
                if handle == nil { handle = FileHandle(forReadingAtPath: path) }
                let chunk = handle.map { [UInt8]((try? $0.read(upToCount: 1 << 20)) ?? Data()) } ?? []
                if !chunk.isEmpty {
                    try await writer.write(ByteBuffer(bytes: chunk))
                    continue
                }
                // Ends once the job has ended (after a last read) or the endpoint stops.
                if !running || self.isStopping || Task.isCancelled { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Where `job`'s `stream` log is: this run's job folder, else what the journal recorded.
    func logPath(job name: String, stream: String) async -> String? {
        let paths = JobLogs.paths(for: name, runDirectory: watcher.runDirectory)
        let own = stream == "stdout" ? paths.stdout : paths.stderr
        if FileManager.default.fileExists(atPath: own) || watcher.job(named: name) != nil { return own }
        if let store, let job = try? await store.jobs(state: nil, file: nil, name: name, limit: 1).first {
            // A stream the job wrote nothing to has no file: an empty log.
            return (stream == "stdout" ? job.stdoutPath : job.stderrPath) ?? own
        }
        return nil
    }

    static func tail(_ path: String, _ limit: Int) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > UInt64(limit) ? size - UInt64(limit) : 0)
        return [UInt8]((try? handle.readToEnd()) ?? Data())
    }

}

/// A problem starting the endpoint, said so the user can act on it.
public struct ObserveError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
