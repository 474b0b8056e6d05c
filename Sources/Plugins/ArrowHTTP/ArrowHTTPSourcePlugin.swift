import Engine
import Foundation
import HTTPServing
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HyphaArrow
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// `arrow-http` source (→ arrow): receives Arrow IPC streams over HTTP, so Hypha nodes on
/// several machines (or other tools) can feed this one.
///
/// `POST PATH` with `Content-Type: application/vnd.apache.arrow.stream`. The answer comes
/// only once the data is accepted into the DAG: 200 with the row count; 400 for malformed
/// Arrow (with the reason); 403 for a row whose `path` is outside `allowed_paths`; 408 when the
/// body takes longer than `read_timeout`; 413 past `max_bytes`; 415 for another content type;
/// 401 without the configured bearer token; 503 (with `Retry-After`) while `max_in_flight`
/// bodies are already being received or the DAG is saturated, so backpressure reaches the
/// sender. A connection must send a whole request head within `idle_timeout` of opening or of
/// its previous answer, and a refused request's connection is closed after the answer (its body
/// is not read); at most `max_connections` are open at once, and a `Host` other than this
/// server's names (or `allowed_hosts`) is answered 421 (``ServerLimits``), so slow, stalled or
/// rebinding clients cannot hold descriptors or post from a web page. Memory for bodies is bounded by
/// `max_in_flight` × `max_bytes`; a body is copied once, out of the server's buffer, and the
/// decoded table is a view into that copy. When the run keeps state, a message is stored before
/// it is answered 200 and forgotten once everything downstream is done with it: a restart emits
/// the ones an earlier run did not finish.
///
/// Safe to expose: on an address other than loopback the node needs a `token` (or says
/// `insecure: true`, and a warning is logged at start), since whoever can post can make the
/// workflow run jobs on paths its user can read. With `tls_cert` and `tls_key` it serves HTTPS.
public struct ArrowHTTPSourcePlugin: SourcePlugin {
    public static let contentType = "application/vnd.apache.arrow.stream"

    static let host = NodeOption.string("host", default: "127.0.0.1", help: "the address to listen on (loopback by default)")
    static let port = NodeOption.int("port", default: 8787, atLeast: 0, atMost: 65535,
                                 help: "the port to listen on (0 picks a free one, logged at start)")
    static let path = NodeOption.string("path", default: "/arrow", help: "the URL path that takes POSTs")
    static let token = OptionalNodeOption.string("token", help: "a bearer token every request must carry (default: none needed)")
    static let maxBytes = NodeOption.int("max_bytes", default: 67_108_864, atLeast: 1, help: "the largest body accepted (413 past it)")
    static let maxInFlight = NodeOption.int("max_in_flight", default: 4, atLeast: 1,
                                        help: "bodies received at once; more requests get 503 at once")
    static let acceptTimeout = NodeOption.duration("accept_timeout", default: .seconds(2),
                                               help: "how long a request waits for room in the DAG before 503")
    static let idleTimeout = NodeOption.duration("idle_timeout", default: .seconds(30), atLeast: .milliseconds(1),
                                             help: "a connection that has not sent a whole request head for this long (since it "
                                                + "opened or its previous answer) is closed")
    static let readTimeout = NodeOption.duration("read_timeout", default: .seconds(60), atLeast: .milliseconds(1),
                                             help: "a body must arrive whole within this time (408 past it)")
    static let maxConnections = NodeOption.int("max_connections", default: 100, atLeast: 1,
                                               help: "connections open at once; more wait until one closes (a warning says so)")
    static let allowedHosts = OptionalNodeOption.strings(
        "allowed_hosts", help: "names requests may give as Host besides this server's own (loopback names on loopback, "
            + "the address listened on); '*' allows any. Without it, a node on 0.0.0.0 or '::' serves any Host. Others get 421")
    static let schema = OptionalNodeOption.fields(
        "schema", help: "the fields messages must carry and their types, like { path: string, name: string }: checked on "
            + "every message (400 otherwise), and what template checks downstream see")
    static let allowedPaths = OptionalNodeOption.paths("allowed_paths",
                                                   help: "folders that rows' 'path' values must be inside (403 otherwise); default: any path")
    static let insecure = NodeOption.bool("insecure", default: false,
                                          help: "listen on an address other than loopback without a token (anyone who can reach it can post)")
    static let tlsCert = OptionalNodeOption.path("tls_cert", help: "a PEM certificate (chain): serve HTTPS with it and tls_key")
    static let tlsKey = OptionalNodeOption.path("tls_key", help: "the PEM private key of tls_cert")

    public static let spec = PluginSpec(
        name: "arrow-http",
        summary: "Receives Arrow IPC streams by HTTP POST and emits each one (a source for Hypha-to-Hypha links).",
        output: .arrow,
        options: [host, port, path, token, maxBytes, maxInFlight, acceptTimeout, idleTimeout, readTimeout, maxConnections,
                  allowedHosts, schema, allowedPaths, insecure, tlsCert, tlsKey])

    public static func outputSchema(for node: NodeConfig) -> [RecordField]? { node[schema] }
    public static var announcesReadiness: Bool { true }

    let host: String
    let port: Int
    let path: String
    let token: String?
    let maxBytes: Int
    let acceptTimeout: Duration
    let idleTimeout: Duration
    let readTimeout: Duration
    let maxConnections: Int
    let allowedHosts: [String]
    let allowedPaths: AllowedPaths?
    let declared: [RecordField]?
    let inFlight: InFlightLimit
    let logger: Logger
    let nodeID: String
    /// Where received messages are kept until done, when the run keeps state.
    let state: (any StateStore)?
    /// The server's TLS settings, when it serves HTTPS.
    let tls: TLSConfiguration?
    /// Listening beyond loopback without a token, as `insecure: true` allows.
    let exposedWithoutToken: Bool

    public init(node: NodeConfig, context: RunContext) throws {
        host = node[Self.host]
        port = node[Self.port]
        path = node[Self.path]
        token = node[Self.token].flatMap { $0.isEmpty ? nil : $0 }
        maxBytes = node[Self.maxBytes]
        acceptTimeout = node[Self.acceptTimeout]
        idleTimeout = node[Self.idleTimeout]
        readTimeout = node[Self.readTimeout]
        maxConnections = node[Self.maxConnections]
        allowedHosts = node[Self.allowedHosts] ?? []
        allowedPaths = node[Self.allowedPaths].map(AllowedPaths.init)
        declared = node[Self.schema]
        inFlight = InFlightLimit(node[Self.maxInFlight])
        logger = context.logger
        nodeID = node.id
        state = context.state
        exposedWithoutToken = !HTTPAccess.isLoopback(host) && token == nil
        if let cert = node[Self.tlsCert], let key = node[Self.tlsKey] {
            do {
                let chain = try ArrowHTTPClient.certificates(cert, what: "TLS certificate")
                let privateKey = try ArrowHTTPClient.privateKey(key)
                tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                               privateKey: .privateKey(privateKey))
            } catch {
                throw Diagnostic("node '\(node.id)': \(error)", at: node.location(of: Self.tlsCert))
            }
        } else {
            tls = nil
        }
    }

    public static func validate(_ node: NodeConfig) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        if !node[path].hasPrefix("/") {
            problems.append(Diagnostic("option 'path' of node '\(node.id)' must start with '/'", at: node.location(of: path)))
        }
        if let paths = node[allowedPaths], paths.isEmpty {
            problems.append(Diagnostic("option 'allowed_paths' of node '\(node.id)' must list folders; leave it out to allow any path",
                                       at: node.location(of: allowedPaths)))
        }
        let token = node[token].flatMap { $0.isEmpty ? nil : $0 }
        if !HTTPAccess.isLoopback(node[host]), token == nil, !node[insecure] {
            problems.append(Diagnostic(
                "node '\(node.id)' listens on '\(node[host])' (not loopback) without a token: anyone who can reach the port "
                    + "could make this workflow run jobs. Set 'token' (from an environment variable, like \"${HYPHA_TOKEN}\"), "
                    + "listen on 127.0.0.1, or say 'insecure: true' to accept the risk",
                at: node.location(of: host)))
        }
        switch (node[tlsCert], node[tlsKey]) {
        case (nil, nil):
            break
        case (.some, nil):
            problems.append(Diagnostic("node '\(node.id)' has 'tls_cert' but no 'tls_key'; give both to serve HTTPS",
                                       at: node.location(of: tlsCert)))
        case (nil, .some):
            problems.append(Diagnostic("node '\(node.id)' has 'tls_key' but no 'tls_cert'; give both to serve HTTPS",
                                       at: node.location(of: tlsKey)))
        case (.some(let cert), .some(let key)):
            // Read now, so `hypha validate` finds a missing or malformed file.
            do {
                _ = try ArrowHTTPClient.certificates(cert, what: "TLS certificate")
            } catch {
                problems.append(Diagnostic("option 'tls_cert' of node '\(node.id)': \(error)", at: node.location(of: tlsCert)))
            }
            do {
                _ = try ArrowHTTPClient.privateKey(key)
            } catch {
                problems.append(Diagnostic("option 'tls_key' of node '\(node.id)': \(error)", at: node.location(of: tlsKey)))
            }
        }
        return problems
    }

    public func run(_ output: SourceOutput) async throws {
        // Messages answered 200 by an earlier run that did not finish with them go first.
        if let state {
            for (id, bytes) in try await state.pendingMessages(node: nodeID) {
                logger.info("emitting again message \(id), received by an earlier run that did not finish with it")
                try await output.emit(.arrow(ArrowData(bytes: bytes)), onComplete: forget(id))
            }
        }
        if output.once {
            logger.notice("arrow-http does not listen in a --once run (nothing is present to process)")
            return
        }
        let router = Router()
        router.post(RouterPath(path)) { request, _ in
            await self.receive(request, output)
        }
        // Hummingbird reports a stop (Ctrl-C, a reload) as two errors about its cancelled accept
        // loop; what goes wrong with a request is answered and logged here instead.
        var serverLogger = logger
        serverLogger.logLevel = .critical
        let logger = self.logger
        if exposedWithoutToken {
            let warning = "arrow-http listens on \(host) with no token (insecure: true): anyone who can reach port \(port) "
                + "can make this workflow run jobs; set 'token' to close it"
            logger.warning("\(warning)")
        } else if tls == nil, !HTTPAccess.isLoopback(host) {
            let note = "arrow-http listens on \(host) without TLS: the token crosses the network in clear; "
                + "set tls_cert and tls_key to serve HTTPS"
            logger.notice("\(note)")
        }
        // The body's own deadline answers 408 at read_timeout; the connection's, a moment later,
        // closes a connection whose answer could not be written.
        let limits = ServerLimits(
            server: "arrow-http node '\(nodeID)'", idleTimeout: idleTimeout, bodyTimeout: readTimeout + .seconds(1),
            maxConnections: maxConnections, maxConnectionsSetting: "the node's max_connections",
            hosts: HostCheck(boundTo: host, allowed: allowedHosts, hint: "add the name to the node's allowed_hosts"),
            logger: logger)
        let http1 = limits.http1()
        let server = try tls.map { try HTTPServerBuilder.tls(http1, tlsConfiguration: $0) } ?? http1
        let scheme = tls == nil ? "" : " (HTTPS)"
        let app = Application(
            router: router,
            server: server,
            configuration: limits.configuration(host: host, port: port),
            onServerRunning: { channel in
                logger.notice("arrow-http listening on \(channel.localAddress?.ipAddress ?? "?"):\(channel.localAddress?.port ?? 0)\(self.path)\(scheme)")
                output.ready()
            },
            logger: serverLogger)
        do {
            try await app.runService(gracefulShutdownSignals: [])
        } catch is CancellationError {
        }
    }

    /// Handles one POST: checks, decodes, waits for room, emits, answers.
    func receive(_ request: Request, _ output: SourceOutput) async -> Response {
        if let token {
            guard HTTPAccess.bearerMatches(request.headers[.authorization], token: token) else {
                return Self.answer(.unauthorized, "missing or wrong bearer token", extra: [.wwwAuthenticate: "Bearer"])
            }
        }
        let type = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard type == Self.contentType else {
            return Self.answer(.unsupportedMediaType, "Content-Type must be \(Self.contentType), got \(type ?? "none")")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBytes {
            return Self.answer(.contentTooLarge, "body of \(length) bytes is over the limit of \(maxBytes)")
        }
        guard inFlight.enter() else {
            return Self.answer(.serviceUnavailable, "\(inFlight.limit) bodies are already being received; retry later",
                               extra: [.retryAfter: "1"])
        }
        defer { inFlight.leave() }
        let bytes: [UInt8]
        switch await collectBody(request) {
        case .success(let body): bytes = body
        case .failure(let refused): return refused.answer
        }
        let table: ArrowTable
        do {
            table = try ArrowIPC.read(bytes)
        } catch {
            return Self.answer(.badRequest, "malformed Arrow IPC stream: \(error)")
        }
        if let declared, let problem = RecordField.problem(in: table.schema, declared: declared) {
            return Self.answer(.badRequest, "the message does not fit this node's schema: \(problem)")
        }
        if let allowedPaths, let problem = allowedPaths.check(table) {
            logger.warning("arrow-http refused a message: \(problem)")
            return Self.answer(.forbidden, problem)
        }
        // Wait a little for room downstream; past that, tell the sender to back off.
        let deadline = ContinuousClock.now + acceptTimeout
        while !output.hasRoom() {
            if ContinuousClock.now >= deadline {
                return Self.answer(.serviceUnavailable, "the workflow is saturated; retry later", extra: [.retryAfter: "1"])
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        // With state, the message is kept before it is answered: a 200 means it will be
        // processed even if this Hypha is killed now (the next start emits it again).
        var kept: Int64?
        if let state {
            do {
                kept = try await state.messageReceived(node: nodeID, Data(bytes))
            } catch {
                logger.error("cannot keep a received message: \(error)")
                return Self.answer(.serviceUnavailable, "this node cannot store messages now; retry later", extra: [.retryAfter: "5"])
            }
        }
        do {
            // The table (a view into `bytes`) travels alone: arrow-decode doesn't parse again,
            // and the IPC bytes are encoded anew only if a node downstream needs them.
            var completion: @Sendable (Engine.Delivery) -> Void = { _ in }
            if let kept { completion = forget(kept) }
            try await output.emit(.arrow(ArrowData(table: table)), onComplete: completion)
        } catch {
            return Self.answer(.serviceUnavailable, "the workflow is stopping", extra: [.retryAfter: "1"])
        }
        return Self.answer(.ok, nil, rows: table.rowCount)
    }

    /// Forgets a kept message once everything downstream is done with it (delivered, or failed
    /// for good: then it is a dead letter); an interrupted one stays for the next start.
    func forget(_ id: Int64) -> @Sendable (Engine.Delivery) -> Void {
        let (state, node) = (self.state, nodeID)
        return { delivery in
            guard delivery != .interrupted, let state else { return }
            state.messageFinished(node: node, id: id)
        }
    }

    /// The body, copied once out of the server's buffers into an array of the size the request
    /// announces (so a body takes its size in memory, not the doublings of a growing buffer),
    /// or the answer for a body that is too large or arrives too slowly.
    func collectBody(_ request: Request) async -> Result<[UInt8], BodyRefused> {
        let maxBytes = self.maxBytes, readTimeout = self.readTimeout
        let announced = request.headers[.contentLength].flatMap(Int.init)
        return await withTaskGroup(of: Result<[UInt8], BodyRefused>?.self) { group in
            group.addTask {
                let tooLarge = BodyRefused(Self.answer(.contentTooLarge, "body is over the limit of \(maxBytes) bytes"))
                var bytes: [UInt8] = []
                bytes.reserveCapacity(max(0, min(announced ?? 65_536, maxBytes)))
                do {
                    for try await chunk in request.body {
                        guard chunk.readableBytes <= maxBytes - bytes.count else { return .failure(tooLarge) }
                        bytes.append(contentsOf: chunk.readableBytesView)
                    }
                    return .success(bytes)
                } catch {
                    return Task.isCancelled ? nil : .failure(BodyRefused(Self.answer(
                        .badRequest, "the body could not be read: \(error)")))
                }
            }
            group.addTask {
                try? await Task.sleep(for: readTimeout)
                return Task.isCancelled ? nil : .failure(BodyRefused(Self.answer(
                    .requestTimeout, "the body did not arrive within \(readTimeout); send it faster or raise read_timeout",
                    extra: [.connection: "close"])))
            }
            defer { group.cancelAll() }
            while let result = await group.next() {
                if let result { return result }
            }
            return .failure(BodyRefused(Self.answer(.serviceUnavailable, "the workflow is stopping", extra: [.retryAfter: "1"])))
        }
    }

    struct BodyRefused: Error {
        let answer: Response
        init(_ answer: Response) { self.answer = answer }
    }

    static func answer(_ status: HTTPResponse.Status, _ message: String?, rows: Int? = nil, extra: HTTPFields = [:]) -> Response {
        var fields = [("status", Value.int(Int64(status.code)))]
        if let message { fields.append(("error", .string(message))) }
        if let rows { fields.append(("rows", .int(Int64(rows)))) }
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Value.map(Record(fields)).json + "\n")))
    }

}

/// A count of bodies being received, with a limit: a request past it is answered 503 at once
/// instead of adding its body to memory.
final class InFlightLimit: Sendable {
    let limit: Int
    private let count = Mutex(0)

    init(_ limit: Int) { self.limit = limit }

    /// Takes a place if one is free.
    func enter() -> Bool {
        count.withLock { n in
            guard n < limit else { return false }
            n += 1
            return true
        }
    }

    func leave() { count.withLock { $0 -= 1 } }
}

/// The folders that rows' `path` values must lie in (`allowed_paths`). A path is judged as the
/// system will open it: symbolic links are resolved where they stand, before a `..` after them
/// is applied (`IN/link/../x` is `x` beside the link's target, not `IN/x`), so neither can lead
/// out of a folder.
struct AllowedPaths: Sendable {
    let roots: [String]

    init(_ roots: [String]) {
        self.roots = roots.map { Self.resolved($0) ?? $0 }
    }

    /// Why the table is refused, naming the row and the value; nil when every row's `path` is
    /// inside a root.
    func check(_ table: ArrowTable) -> String? {
        guard let column = table.schema.fields.firstIndex(where: { $0.name == "path" }) else {
            return "the message has no 'path' column; this node has allowed_paths, so every row must carry a 'path' "
                + "inside \(roots.joined(separator: ", "))"
        }
        var rowNumber = 0
        for batch in table.batches {
            for row in 0..<batch.rowCount {
                defer { rowNumber += 1 }
                let value = batch.value(row: row, column: column)
                if case .null = value {
                    return "row \(rowNumber): 'path' is null; this node has allowed_paths, so every row must carry a 'path' "
                        + "inside \(roots.joined(separator: ", "))"
                }
                guard case .string(let path) = value, path.hasPrefix("/") else {
                    return "row \(rowNumber): 'path' must be an absolute path inside \(roots.joined(separator: ", ")), got \(value)"
                }
                guard let real = Self.resolved(path) else {
                    return "row \(rowNumber): path '\(path)' has too many symbolic links to resolve"
                }
                guard roots.contains(where: { real.hasPrefix($0 == "/" ? "/" : $0 + "/") }) else {
                    return "row \(rowNumber): path '\(path)' is outside the allowed paths (\(roots.joined(separator: ", "))); "
                        + "send files from those folders, or add the folder to 'allowed_paths'"
                }
            }
        }
        return nil
    }

    /// The real path of `path` as the system resolves it (`realpath`), component by component:
    /// a symbolic link is replaced by its target before the components after it, `..` included,
    /// are applied. Components that do not exist yet are taken as written. Nil past 40 links
    /// (a loop), as the system gives up too.
    static func resolved(_ path: String) -> String? {
        var pending = Array(path.split(separator: "/").map(String.init).reversed())
        var real: [String] = []
        var links = 0
        while let part = pending.popLast() {
            if part == "." { continue }
            if part == ".." {
                _ = real.popLast()
                continue
            }
            let candidate = "/" + (real + [part]).joined(separator: "/")
            guard let target = linkTarget(candidate) else {
                real.append(part)
                continue
            }
            links += 1
            if links > 40 { return nil }
            if target.hasPrefix("/") { real = [] }
            pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
        }
        return "/" + real.joined(separator: "/")
    }

    /// What the symbolic link at `path` points to; nil when `path` is not a link.
    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
