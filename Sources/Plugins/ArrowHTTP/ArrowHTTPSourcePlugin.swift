import Engine
import Foundation
import HTTPTypes
import Hummingbird
import HyphaArrow
import Logging

/// `arrow-http` source (→ arrow): receives Arrow IPC streams over HTTP, so Hypha nodes on
/// several machines (or other tools) can feed this one.
///
/// `POST PATH` with `Content-Type: application/vnd.apache.arrow.stream`. The answer comes
/// only once the data is accepted into the DAG: 200 with the row count; 400 for malformed
/// Arrow (with the reason); 413 past `max_bytes`; 415 for another content type; 401 without
/// the configured bearer token; 503 (with `Retry-After`) while the DAG is saturated, so
/// backpressure reaches the sender.
public struct ArrowHTTPSourcePlugin: SourcePlugin {
    public static let contentType = "application/vnd.apache.arrow.stream"

    public static let spec = PluginSpec(
        name: "arrow-http",
        summary: "Receives Arrow IPC streams by HTTP POST and emits each one (a source for Hypha-to-Hypha links).",
        input: .none, output: .arrow,
        options: [
            OptionSpec("host", .string, default: "127.0.0.1", help: "the address to listen on (loopback by default)"),
            OptionSpec("port", .int, default: 8787, help: "the port to listen on (0 picks a free one, logged at start)"),
            OptionSpec("path", .string, default: "/arrow", help: "the URL path that takes POSTs"),
            OptionSpec("token", .string, help: "a bearer token every request must carry (default: none needed)"),
            OptionSpec("max_bytes", .int, default: 67_108_864, help: "the largest body accepted (413 past it)"),
            OptionSpec("accept_timeout", .duration, default: 2, help: "how long a request waits for room in the DAG before 503"),
        ])

    let host: String
    let port: Int
    let path: String
    let token: String?
    let maxBytes: Int
    let acceptTimeout: Duration
    let logger: Logger

    public init(node: NodeConfig, context: RunContext) throws {
        host = node.string("host") ?? "127.0.0.1"
        port = node.int("port") ?? 8787
        path = node.string("path") ?? "/arrow"
        token = node.string("token").flatMap { $0.isEmpty ? nil : $0 }
        maxBytes = max(1, node.int("max_bytes") ?? 64 * 1024 * 1024)
        acceptTimeout = .milliseconds(Int64((node.duration("accept_timeout") ?? 2) * 1000))
        logger = context.logger
    }

    public static func validate(_ node: NodeConfig) -> [Diagnostic] {
        if let port = node.int("port"), !(0...65535).contains(port) {
            return [Diagnostic("option 'port' of node '\(node.id)' must be 0...65535, got \(port)", at: node.location(of: "port"))]
        }
        if let path = node.string("path"), !path.hasPrefix("/") {
            return [Diagnostic("option 'path' of node '\(node.id)' must start with '/'", at: node.location(of: "path"))]
        }
        return []
    }

    public func run(_ output: SourceOutput) async throws {
        if output.once {
            logger.notice("arrow-http does not listen in a --once run (nothing is present to process)")
            return
        }
        let router = Router()
        router.post(RouterPath(path)) { request, _ in
            await self.receive(request, output)
        }
        var serverLogger = logger
        serverLogger.logLevel = .error
        let logger = self.logger
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "hypha"),
            onServerRunning: { channel in
                logger.notice("arrow-http listening on \(channel.localAddress?.ipAddress ?? "?"):\(channel.localAddress?.port ?? 0)\(self.path)")
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
            guard let given = request.headers[.authorization], Self.constantTimeEqual(given, "Bearer " + token) else {
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
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBytes)
        } catch {
            return Self.answer(.contentTooLarge, "body is over the limit of \(maxBytes) bytes")
        }
        let bytes = [UInt8](body.readableBytesView)
        let table: ArrowTable
        do {
            table = try ArrowIPC.read(bytes)
        } catch {
            return Self.answer(.badRequest, "malformed Arrow IPC stream: \(error)")
        }
        // Wait a little for room downstream; past that, tell the sender to back off.
        let deadline = ContinuousClock.now + acceptTimeout
        while !output.hasRoom() {
            if ContinuousClock.now >= deadline {
                return Self.answer(.serviceUnavailable, "the workflow is saturated; retry later", extra: [.retryAfter: "1"])
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        do {
            // The table goes along with the bytes, so arrow-decode doesn't parse them again.
            try await output.emit(.arrow(ArrowData(bytes: Data(bytes), table: table)))
        } catch {
            return Self.answer(.serviceUnavailable, "the workflow is stopping", extra: [.retryAfter: "1"])
        }
        return Self.answer(.ok, nil, rows: table.rowCount)
    }

    static func answer(_ status: HTTPResponse.Status, _ message: String?, rows: Int? = nil, extra: HTTPFields = [:]) -> Response {
        var fields = [("status", Value.int(Int64(status.code)))]
        if let message { fields.append(("error", .string(message))) }
        if let rows { fields.append(("rows", .int(Int64(rows)))) }
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Value.map(Record(fields)).json + "\n")))
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
