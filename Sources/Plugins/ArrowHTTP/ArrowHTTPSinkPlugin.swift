import Engine
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging

/// `arrow-http-sink` (arrow →): posts each Arrow message to another Hypha's `arrow-http`
/// source (or any endpoint taking `application/vnd.apache.arrow.stream`).
///
/// Connection errors, 429 and 5xx are retried with exponential backoff and jitter until they
/// succeed (or `max_retries`, when set, runs out); a 4xx answer fails the message with the
/// server's reason. Nothing is dropped silently: a message that is not delivered is counted
/// failed and reported to its source.
public struct ArrowHTTPSinkPlugin: ProcessorPlugin {
    public static let spec = PluginSpec(
        name: "arrow-http-sink",
        summary: "Posts each Arrow message to a URL (another Hypha's arrow-http source), retrying until delivered.",
        input: .oneOf([.arrow]), output: nil,
        options: [
            OptionSpec("url", .string, required: true, help: "where to POST, like http://host:8787/arrow"),
            OptionSpec("token", .string, help: "a bearer token to send"),
            OptionSpec("timeout", .duration, default: 30, help: "how long one request may take"),
            OptionSpec("max_retries", .int, default: 0, help: "give up after this many retries (0: never give up)"),
            OptionSpec("max_backoff", .duration, default: 5, help: "the longest wait between retries"),
            OptionSpec("max_in_flight", .int, default: 4, help: "how many messages are posted at once"),
        ])

    let url: URL
    let token: String?
    let timeout: Double
    let maxRetries: Int
    let maxBackoff: Double
    public let concurrency: Int
    let session: URLSession
    let logger: Logger

    struct Undelivered: Error, CustomStringConvertible {
        var description: String
    }

    public init(node: NodeConfig, context: RunContext) throws {
        guard let url = Self.url(node) else { throw Self.badURL(node) }
        self.url = url
        token = node.string("token").flatMap { $0.isEmpty ? nil : $0 }
        timeout = node.duration("timeout") ?? 30
        maxRetries = max(0, node.int("max_retries") ?? 0)
        maxBackoff = max(0.05, node.duration("max_backoff") ?? 5)
        concurrency = max(1, node.int("max_in_flight") ?? 4)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = concurrency
        session = URLSession(configuration: configuration)
        logger = context.logger
    }

    public static func validate(_ node: NodeConfig) -> [Diagnostic] {
        url(node) == nil ? [badURL(node)] : []
    }

    /// The `url` option, if it is an http(s) URL with a host.
    static func url(_ node: NodeConfig) -> URL? {
        guard let text = node.string("url"), let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              ["http", "https"].contains(scheme), url.host != nil else { return nil }
        return url
    }

    static func badURL(_ node: NodeConfig) -> Diagnostic {
        Diagnostic("option 'url' of node '\(node.id)' must be an http(s) URL like http://host:8787/arrow, got '\(node.string("url") ?? "")'",
                   at: node.location(of: "url"))
    }

    public func process(_ message: Message, _ output: Output) async throws {
        guard case .arrow(let data) = message.payload else {
            throw Undelivered(description: "arrow-http-sink got a \(message.payload.portType) message")
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue(ArrowHTTPSourcePlugin.contentType, forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        do {
            request.httpBody = try data.ipcBytes()
        } catch {
            throw Undelivered(description: "arrow-http-sink cannot encode the message as an Arrow IPC stream: \(error)")
        }
        var attempt = 0
        while true {
            try Task.checkCancellation()
            let problem: String
            do {
                let (body, response) = try await session.cancellableData(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if (200..<300).contains(status) { return }
                let reason = String(decoding: body.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                guard status == 429 || status >= 500 else {
                    throw Undelivered(description: "\(url.absoluteString) refused the message: HTTP \(status) \(reason)")
                }
                problem = "HTTP \(status) \(reason)"
            } catch let error as Undelivered {
                throw error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                problem = error.localizedDescription
            }
            attempt += 1
            if maxRetries > 0 && attempt > maxRetries {
                throw Undelivered(description: "gave up posting to \(url.absoluteString) after \(maxRetries) retries: \(problem)")
            }
            let backoff = min(maxBackoff, 0.05 * pow(2, Double(min(attempt, 20))))
            let wait = backoff * Double.random(in: 0.5...1.0)
            if attempt == 1 || attempt % 10 == 0 {
                logger.warning("posting to \(url.absoluteString) failed (\(problem)); retrying (attempt \(attempt))")
            }
            try await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
        }
    }
}
