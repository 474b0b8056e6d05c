// The HTTP client under `BacalhauClient`: AsyncHTTPClient (SwiftNIO; NIOSSL for https), for
// https, pooling, timeouts and cancellation maintained upstream; its cost is build time
// (NIOSSL). docs/BACALHAU.md compares it with the alternatives.
//
// Connections are kept alive for every method. AHC never resends a request on its own, so
// a submission whose answer was lost comes back as `.transient` and the caller looks the
// job up before any second `PUT`. Redirects are not followed (the Authorization header
// must not travel), and no error text carries the credentials.
import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTP answer from the orchestrator.
struct HTTPReply: Sendable {
    var status: Int
    var body: Data
    /// Seconds from a `Retry-After` header.
    var retryAfter: Double?

    /// The decoded JSON body, or nil when it isn't JSON.
    var json: Value? { try? Value(json: body) }

    /// Bacalhau's error body, decoded defensively: the structured form (`Status`,
    /// `Message`, `Code`, `Hint`), the version-check form (`Error`), echo's plain form
    /// (`message`), or the raw text.
    var apiError: APIErrorBody {
        APIErrorBody(status: status, body: body)
    }
}

/// Bacalhau's error body (pkg/publicapi/apimodels/error.go), read defensively.
struct APIErrorBody: Sendable, Equatable {
    var message: String
    var code: String
    var hint: String?

    init(status: Int, body: Data) {
        let value = try? Value(json: body)
        let record = value?.recordValue
        func field(_ names: String...) -> String? {
            for name in names {
                if let text = record?[name]?.stringValue, !text.isEmpty { return text }
            }
            return nil
        }
        if let message = field("Message", "Error", "message", "error") {
            self.message = message
        } else {
            let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            self.message = text.isEmpty ? HTTPResponseStatus(statusCode: status).reasonPhrase : text
        }
        code = field("Code") ?? ""
        hint = field("Hint")
    }

    var text: String {
        hint.map { "\(message) (hint: \($0))" } ?? message
    }
}

/// What one attempt at a request came to.
enum AttemptOutcome: Sendable {
    case reply(HTTPReply)
    /// A failure that a retry may cure: refused or dropped connection, timeout.
    case transient(String)
    /// A failure that retrying won't fix (TLS, a bad URL, cancellation).
    case fatal(BacalhauError)
}

/// Sends requests through one AsyncHTTPClient with a pool of kept-alive connections. Adds
/// the JSON and authorization headers, refuses redirects, bounds each request by
/// `requestTimeout` (a cancelled task cancels its request), and turns transport errors into
/// outcomes without any secret in them.
final class BacalhauTransport: Sendable, CustomReflectable {
    let endpoint: BacalhauEndpoint
    let credentials: BacalhauCredentials
    let requestTimeout: Double
    private let client: HTTPClient
    private let authorization: String?

    /// The largest answer read (a page of 500 jobs is well under it).
    static let maxBody = 64 << 20

    init(endpoint: BacalhauEndpoint, credentials: BacalhauCredentials, requestTimeout: Double, maxConnections: Int) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.requestTimeout = requestTimeout
        authorization = credentials.authorizationHeader
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        let timeout = TimeAmount.milliseconds(Int64(max(requestTimeout, 0.001) * 1000))
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: min(timeout, .seconds(10)), read: timeout)
        configuration.connectionPool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .seconds(50), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, maxConnections))
        // A refused connection fails its requests at once; the caller's retry loop decides.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit {
        // The client keeps itself alive until the shutdown completes.
        client.shutdown { _ in }
    }

    /// `dump` and `Mirror` see the endpoint and the kind of credentials, never the secret.
    var customMirror: Mirror {
        Mirror(self, children: ["endpoint": endpoint.base, "credentials": credentials.description])
    }

    func send(_ method: String, _ url: URL, body: Data? = nil) async -> AttemptOutcome {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "hypha")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let timeout = TimeAmount.milliseconds(Int64(max(requestTimeout, 0.001) * 1000))
            let response = try await client.execute(request, timeout: timeout)
            let bytes = try await response.body.collect(upTo: Self.maxBody)
            let status = Int(response.status.code)
            if (300..<400).contains(status) {
                return .fatal(.transport(endpoint: endpoint.base,
                                         message: "the server answered with a redirect (HTTP \(status)), which is not followed"))
            }
            let retryAfter = RetryPolicy.retryAfter(response.headers.first(name: "Retry-After"))
            return .reply(HTTPReply(status: status, body: Data(bytes.readableBytesView), retryAfter: retryAfter))
        } catch {
            if Task.isCancelled { return .fatal(.transport(endpoint: endpoint.base, message: "cancelled")) }
            return classify(error)
        }
    }

    /// Transport errors: which ones a retry may cure, with a message that names no secret.
    func classify(_ error: any Error) -> AttemptOutcome {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout, .readTimeout, .writeTimeout, .deadlineExceeded, .getConnectionFromPoolTimeout:
                return .transient("timed out")
            case .remoteConnectionClosed:
                return .transient("connection dropped")
            case .cancelled:
                return .fatal(.transport(endpoint: endpoint.base, message: "the request was cancelled"))
            case .invalidURL, .emptyHost, .emptyScheme:
                return .fatal(.transport(endpoint: endpoint.base, message: "bad URL"))
            case .tlsHandshakeTimeout:
                return .transient("TLS handshake timed out")
            default:
                return .transient(redact("\(error)"))
            }
        }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return .fatal(.transport(endpoint: endpoint.base,
                                     message: "TLS failed: \(redact("\(error)")); check the endpoint's scheme and certificate"))
        }
        if error is NIOTooManyBytesError {
            return .fatal(.transport(endpoint: endpoint.base, message: "an answer larger than \(Self.maxBody >> 20) MB"))
        }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return classify(first.error) }
            return .transient(error.dnsAError != nil || error.dnsAAAAError != nil ? "host not found" : "could not connect")
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return .transient("connection refused")
            case ECONNRESET, EPIPE: return .transient("connection dropped")
            case ETIMEDOUT: return .transient("timed out")
            case ENETUNREACH, EHOSTUNREACH: return .transient("network unreachable")
            default: return .transient("network error (errno \(error.errnoCode))")
            }
        }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout: return .transient("timed out connecting")
            case .ioOnClosedChannel, .outputClosed, .eof, .alreadyClosed: return .transient("connection dropped")
            default: return .transient("network error")
            }
        }
        return .transient(redact(String(describing: error)))
    }

    func redact(_ text: String) -> String {
        var out = text
        for secret in credentials.secrets where !secret.isEmpty {
            out = out.replacingOccurrences(of: secret, with: "<redacted>")
        }
        return out
    }
}
