import AsyncHTTPClient
import Engine
import Foundation
import Logging
import NIOCore

/// `arrow-http-sink` (arrow →): posts each Arrow message to another Hypha's `arrow-http`
/// source (or any endpoint taking `application/vnd.apache.arrow.stream`), with the client
/// `hypha send` uses (`ArrowHTTPClient`). An https:// URL's server is verified against the
/// system's CAs, or against `ca` for a private CA.
///
/// Connection errors, 429 and 5xx are retried with `RetryPolicy`'s backoff (a `Retry-After`
/// raises the wait) until they succeed (or `max_retries`, when set, runs out); a 4xx answer
/// fails the message with the server's reason. Nothing is dropped silently: a message that is
/// not delivered is counted failed and reported to its source.
public struct ArrowHTTPSinkPlugin: ProcessorPlugin {
    static let url = NodeOption.required("url", help: "where to POST, like http://host:8787/arrow")
    static let token = OptionalNodeOption.string("token", help: "a bearer token to send")
    static let timeout = NodeOption.duration("timeout", default: .seconds(30), atLeast: .milliseconds(1),
                                         help: "how long one request may take")
    static let maxRetries = NodeOption.int("max_retries", default: 0, atLeast: 0, help: "give up after this many retries (0: never give up)")
    static let maxBackoff = NodeOption.duration("max_backoff", default: .seconds(5), atLeast: .milliseconds(50),
                                            help: "the longest wait between retries")
    static let maxInFlight = NodeOption.int("max_in_flight", default: 4, atLeast: 1, help: "how many messages are posted at once")
    static let ca = OptionalNodeOption.path("ca", help: "a PEM file of the CA that signed the server's certificate "
                                            + "(a private CA); default: the system's CAs")

    public static let spec = PluginSpec(
        name: "arrow-http-sink",
        summary: "Posts each Arrow message to a URL (another Hypha's arrow-http source), retrying until delivered.",
        output: nil, options: [url, token, timeout, maxRetries, maxBackoff, maxInFlight, ca])

    let target: String
    let token: String?
    let requestTimeout: Duration
    let client: ArrowHTTPClient
    let retry: RetryPolicy
    public let concurrency: Int
    let logger: Logger

    public init(node: NodeConfig, context: RunContext) throws {
        guard let url = Self.parseURL(node[Self.url]) else { throw Self.badURL(node) }
        target = url.absoluteString
        token = node[Self.token].flatMap { $0.isEmpty ? nil : $0 }
        requestTimeout = node[Self.timeout]
        do {
            client = try ArrowHTTPClient(ca: node[Self.ca])
        } catch {
            throw Diagnostic("node '\(node.id)': \(error)", at: node.location(of: Self.ca))
        }
        let maxRetries = node[Self.maxRetries]
        retry = RetryPolicy(maxAttempts: maxRetries == 0 ? Int.max : maxRetries + 1, initialDelay: 0.05,
                            maxDelay: node[Self.maxBackoff].inSeconds)
        concurrency = node[Self.maxInFlight]
        logger = context.logger
    }

    public static func validate(_ node: NodeConfig) -> [Diagnostic] {
        var problems = parseURL(node[url]) == nil ? [badURL(node)] : []
        if let file = node[ca] {
            do {
                _ = try ArrowHTTPClient.certificates(file, what: "CA certificate")
            } catch {
                problems.append(Diagnostic("option 'ca' of node '\(node.id)': \(error)", at: node.location(of: ca)))
            }
        }
        return problems
    }

    public func finish() async throws {
        await client.shutdown()
    }

    /// `text`, if it is an http(s) URL with a host.
    static func parseURL(_ text: String) -> URL? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              ["http", "https"].contains(scheme), url.host != nil else { return nil }
        return url
    }

    static func badURL(_ node: NodeConfig) -> Diagnostic {
        Diagnostic("option 'url' of node '\(node.id)' must be an http(s) URL like http://host:8787/arrow, got '\(node[url])'",
                   at: node.location(of: url))
    }

    public func process(_ data: ArrowData, _ output: Output) async throws {
        let body: ByteBuffer
        do {
            body = ByteBuffer(bytes: try data.ipcBytes())
        } catch {
            throw MessageFailure("cannot encode the message as an Arrow IPC stream: \(error)")
        }

        var attempt = 0
        while true {
            try Task.checkCancellation()
            let problem: String
            var retryAfter: Double?
            do {
                let answer = try await client.post(body, to: target, token: token, timeout: requestTimeout)
                if answer.succeeded { return }
                let status = answer.status
                let reason = answer.body.prefix(500).trimmingCharacters(in: .whitespacesAndNewlines)
                guard status == 429 || status >= 500 else {
                    throw MessageFailure("\(target) refused the message: HTTP \(status) \(reason)")
                }
                problem = "HTTP \(status) \(reason)"
                retryAfter = answer.retryAfter
            } catch let failure as MessageFailure {
                throw failure
            } catch let error as ArrowHTTPClientError where error.verification {
                // A certificate that does not verify will not verify on a retry either.
                throw MessageFailure(error.description)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                problem = "\(error)"
            }
            attempt += 1
            if attempt >= retry.maxAttempts {
                throw MessageFailure("gave up posting to \(target) after \(attempt - 1) retries: \(problem)")
            }
            if attempt == 1 || attempt % 10 == 0 {
                logger.warning("posting to \(target) failed (\(problem)); retrying (attempt \(attempt))")
            }
            try await Task.sleep(for: .seconds(retry.delay(beforeRetry: attempt, retryAfter: retryAfter)))
        }
    }
}
