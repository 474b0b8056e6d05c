import Engine
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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
            self.message = text.isEmpty ? HTTPURLResponse.localizedString(forStatusCode: status) : text
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

/// Sends requests with URLSession (FoundationNetworking on Linux). Adds the JSON and
/// authorization headers, refuses redirects (so credentials never follow one to another
/// host), and turns transport errors into outcomes without any secret in them.
final class BacalhauTransport: Sendable, CustomReflectable {
    let endpoint: BacalhauEndpoint
    let credentials: BacalhauCredentials
    let requestTimeout: Double
    /// Reads share one session, so their connections are kept alive and reused.
    private let session: URLSession
    private let configuration: URLSessionConfiguration
    private let authorization: String?

    /// Whether requests with a body get a connection of their own (see `send`).
    let freshConnectionsForWrites: Bool

    init(endpoint: BacalhauEndpoint, credentials: BacalhauCredentials, requestTimeout: Double, maxConnections: Int,
         freshConnectionsForWrites: Bool = true)
    {
        self.endpoint = endpoint
        self.freshConnectionsForWrites = freshConnectionsForWrites
        self.credentials = credentials
        self.requestTimeout = requestTimeout
        authorization = credentials.authorizationHeader
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = max(1, maxConnections)
        configuration.timeoutIntervalForRequest = requestTimeout
        configuration.timeoutIntervalForResource = max(requestTimeout * 2, 60)
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        self.configuration = configuration
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// `dump` and `Mirror` see the endpoint and the kind of credentials, never the secret.
    var customMirror: Mirror {
        Mirror(self, children: ["endpoint": endpoint.base, "credentials": credentials.description])
    }

    func send(_ method: String, _ url: URL, body: Data? = nil) async -> AttemptOutcome {
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = requestTimeout
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue("hypha", forHTTPHeaderField: "User-Agent")
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = body
        }
        // A request with a body goes on a connection of its own. libcurl resends a request
        // whose reused connection died before any answer, which needs the body rewound;
        // FoundationNetworking cannot rewind it and the request hangs until its timeout. A
        // fresh connection is never resent: a lost answer surfaces as an error at once, and
        // the caller decides (a submission looks the job up before trying again).
        let fresh = body != nil && freshConnectionsForWrites
        let session = fresh ? URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil) : self.session
        defer { if fresh { session.finishTasksAndInvalidate() } }
        do {
            let (data, response) = try await session.cancellableData(for: request)
            guard let http = response as? HTTPURLResponse else {
                return .transient("an answer that is not HTTP")
            }
            let retryAfter = http.value(forHTTPHeaderField: "Retry-After").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            return .reply(HTTPReply(status: http.statusCode, body: data, retryAfter: retryAfter))
        } catch {
            if Task.isCancelled { return .fatal(.transport(endpoint: endpoint.base, message: "cancelled")) }
            return classify(error)
        }
    }

    /// Transport errors: which ones a retry may cure, with a message that names no secret.
    func classify(_ error: any Error) -> AttemptOutcome {
        guard let urlError = error as? URLError else {
            return .transient(redact(String(describing: error)))
        }
        let message = "\(Self.name(of: urlError.code)) (\(urlError.code.rawValue))"
        switch urlError.code {
        case .cancelled:
            return .fatal(.transport(endpoint: endpoint.base, message: "the request was cancelled"))
        case .badURL, .unsupportedURL:
            return .fatal(.transport(endpoint: endpoint.base, message: "bad URL: \(message)"))
        case .secureConnectionFailed, .serverCertificateHasBadDate, .serverCertificateUntrusted,
             .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid, .clientCertificateRejected,
             .clientCertificateRequired:
            return .fatal(.transport(endpoint: endpoint.base,
                                     message: "TLS failed: \(message); check the endpoint's scheme and certificate"))
        case .httpTooManyRedirects, .redirectToNonExistentLocation:
            return .fatal(.transport(endpoint: endpoint.base, message: "the server answered with a redirect, which is not followed"))
        default:
            return .transient(message)
        }
    }

    func redact(_ text: String) -> String {
        var out = text
        for secret in credentials.secrets where !secret.isEmpty {
            out = out.replacingOccurrences(of: secret, with: "<redacted>")
        }
        return out
    }

    static func name(of code: URLError.Code) -> String {
        switch code {
        case .timedOut: return "timed out"
        case .cannotConnectToHost: return "connection refused"
        case .networkConnectionLost: return "connection dropped"
        case .cannotFindHost, .dnsLookupFailed: return "host not found"
        case .notConnectedToInternet: return "network unreachable"
        case .badServerResponse: return "bad server response"
        case .zeroByteResource: return "empty answer"
        case .cannotParseResponse: return "unparsable answer"
        default: return "network error"
        }
    }
}

/// Refuses every redirect: Bacalhau never redirects, and a redirect must not carry the
/// Authorization header somewhere else.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void)
    {
        completionHandler(nil)
    }
}
