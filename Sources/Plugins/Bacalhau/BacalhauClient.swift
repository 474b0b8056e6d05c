import Engine
import Foundation
import Logging

/// A client for Bacalhau's orchestrator API (`/api/v1/orchestrator`), over AsyncHTTPClient
/// with kept-alive connections (`BacalhauTransport`).
///
/// Reads (`GET`) and stops (`DELETE`) are retried on transient failures (429, 5xx, refused
/// or dropped connections, timeouts) with exponential backoff and jitter, up to
/// `retry.maxAttempts`. A single `put` is never retried blindly; `ensureSubmitted` makes
/// submission idempotent by job name. 401 and 403 fail at once with `.unauthorized`.
public final class BacalhauClient: Sendable, CustomStringConvertible, CustomReflectable {
    public let endpoint: BacalhauEndpoint
    /// The namespace used when a job spec doesn't name one (nil: the server's "default").
    public let namespace: String?
    public let retry: RetryPolicy
    let transport: BacalhauTransport
    let logger: Logger?

    /// - Parameter maxConnections: kept-alive connections to the orchestrator (the pool's limit).
    public init(endpoint: BacalhauEndpoint, credentials: BacalhauCredentials = .none, namespace: String? = nil,
                retry: RetryPolicy = RetryPolicy(), requestTimeout: Double = 30, maxConnections: Int = 16,
                logger: Logger? = nil)
    {
        self.endpoint = endpoint
        self.namespace = namespace
        self.retry = retry
        self.logger = logger
        transport = BacalhauTransport(endpoint: endpoint, credentials: credentials, requestTimeout: requestTimeout,
                                      maxConnections: maxConnections)
    }

    public var description: String { "BacalhauClient(\(endpoint), credentials: \(transport.credentials))" }
    public var customMirror: Mirror {
        Mirror(self, children: ["endpoint": endpoint.base, "namespace": namespace as Any,
                                "credentials": transport.credentials.description])
    }

    // MARK: - Requests

    /// `PUT /jobs` answered 200.
    public struct SubmitReply: Sendable, Equatable {
        public var jobID: String
        public var evaluationID: String
        public var warnings: [String]
    }

    /// What one `PUT /jobs` came to.
    public enum PutOutcome: Sendable, Equatable {
        case accepted(SubmitReply)
        /// A job with this name and the same spec exists ("no changes detected", or a 409
        /// from a racing submission): look it up.
        case alreadyThere(message: String)
        /// The request may or may not have reached the server (dropped connection, 5xx,
        /// 429, timeout): look the job up before trying again.
        case unknown(String)
    }

    /// One `PUT /jobs` with `{"Job": job}` (and `"Force": true` when `force`), no retry.
    /// Throws `.rejected` for 400 (and other 4xx), `.unauthorized` for 401/403.
    public func put(_ job: Record, force: Bool = false) async throws -> PutOutcome {
        let name = job["Name"]?.stringValue
        var body = Record([("Job", .map(job))])
        if force { body["Force"] = .bool(true) }
        guard let url = endpoint.url("/jobs") else { throw BacalhauError.configuration("cannot build a URL from \(endpoint)") }
        switch await transport.send("PUT", url, body: Data(Value.map(body).json.utf8)) {
        case .fatal(let error):
            try Task.checkCancellation()
            throw error
        case .transient(let problem):
            return .unknown(problem)
        case .reply(let reply):
            switch reply.status {
            case 200:
                guard let json = reply.json, let id = json["JobID"]?.stringValue, !id.isEmpty else {
                    throw BacalhauError.protocolViolation("PUT /jobs answered 200 without a JobID")
                }
                let warnings = json["Warnings"]?.listValue?.compactMap(\.stringValue) ?? []
                return .accepted(SubmitReply(jobID: id, evaluationID: json["EvaluationID"]?.stringValue ?? "",
                                             warnings: warnings))
            case 401, 403:
                throw unauthorized(reply)
            case 409, 500 where Self.isNoChanges(reply.apiError):
                return .alreadyThere(message: reply.apiError.text)
            case _ where isTransient(reply):
                return .unknown("HTTP \(reply.status): \(transport.redact(reply.apiError.text))")
            default:
                throw BacalhauError.rejected(job: name, status: reply.status, message: transport.redact(reply.apiError.text))
            }
        }
    }

    /// `GET /jobs/{idOrName}?include=executions`; nil when there is no such job (404).
    public func job(_ idOrName: String, namespace: String? = nil, includeExecutions: Bool = true,
                    policy: RetryPolicy? = nil) async throws -> BacalhauJobInfo?
    {
        var query: [(String, String)] = []
        if includeExecutions { query.append(("include", "executions")) }
        if let ns = namespace ?? self.namespace { query.append(("namespace", ns)) }
        let reply = try await perform("GET", "/jobs/" + BacalhauEndpoint.escape(idOrName), query: query,
                                      policy: policy ?? retry)
        switch reply.status {
        case 200:
            guard let json = reply.json, let info = BacalhauJobInfo(response: json) else {
                throw BacalhauError.protocolViolation("GET /jobs/\(idOrName) answered 200 without a Job")
            }
            return info
        case 404:
            return nil
        case 500 where reply.apiError.code == "MultipleJobsFound":
            return nil
        default:
            throw BacalhauError.rejected(job: idOrName, status: reply.status, message: reply.apiError.text)
        }
    }

    /// `GET /jobs/{id}/results`: the published result of each completed execution.
    public func results(_ id: String, namespace: String? = nil) async throws -> [Value] {
        let reply = try await perform("GET", "/jobs/\(BacalhauEndpoint.escape(id))/results",
                                      query: namespaceQuery(namespace), policy: retry)
        guard reply.status == 200 else {
            throw BacalhauError.rejected(job: id, status: reply.status, message: reply.apiError.text)
        }
        return reply.json?["Items"]?.listValue ?? []
    }

    /// `GET /jobs/{id}/history`, following `NextToken` for a few pages.
    public func history(_ id: String, namespace: String? = nil, maxPages: Int = 5) async throws -> [Value] {
        var items: [Value] = []
        var token = ""
        for _ in 0..<max(1, maxPages) {
            var query = namespaceQuery(namespace)
            if !token.isEmpty { query.append(("next_token", token)) }
            let reply = try await perform("GET", "/jobs/\(BacalhauEndpoint.escape(id))/history", query: query, policy: retry)
            guard reply.status == 200, let json = reply.json else {
                throw BacalhauError.rejected(job: id, status: reply.status, message: reply.apiError.text)
            }
            items += json["Items"]?.listValue ?? []
            token = json["NextToken"]?.stringValue ?? ""
            if token.isEmpty { break }
        }
        return items
    }

    /// How a stop request ended.
    public enum StopOutcome: Sendable, Equatable {
        /// The job was running and is being stopped.
        case stopping
        /// It was already stopped (or had failed).
        case alreadyStopped
        /// It had already completed (Bacalhau refuses to stop a completed job).
        case alreadyFinished
        case notFound
    }

    /// `DELETE /jobs/{idOrName}` with `{"reason": reason}` (the server reads the reason only
    /// from the body).
    public func stop(_ idOrName: String, namespace: String? = nil, reason: String,
                     policy: RetryPolicy = RetryPolicy(maxAttempts: 4, initialDelay: 0.05, maxDelay: 0.5))
        async throws -> StopOutcome
    {
        let body = Data(Value.map(Record([("reason", .string(reason))])).json.utf8)
        let reply = try await perform("DELETE", "/jobs/" + BacalhauEndpoint.escape(idOrName),
                                      query: namespaceQuery(namespace), body: body, policy: policy)
        switch reply.status {
        case 200:
            let evaluation = reply.json?["EvaluationID"]?.stringValue ?? ""
            return evaluation.isEmpty ? .alreadyStopped : .stopping
        case 404:
            return .notFound
        case 409, 500:
            return .alreadyFinished
        default:
            throw BacalhauError.rejected(job: idOrName, status: reply.status, message: reply.apiError.text)
        }
    }

    /// `GET /jobs` with label selectors (`key=value`), across pages, up to `limit` jobs.
    public func list(labels: [String] = [], namespace: String? = nil, limit: Int = 1000) async throws -> [BacalhauJobInfo] {
        var jobs: [BacalhauJobInfo] = []
        var token = ""
        while jobs.count < limit {
            var query = [("namespace", namespace ?? self.namespace ?? "*"), ("limit", String(min(limit - jobs.count, 500)))]
            for label in labels { query.append(("labels", label)) }
            if !token.isEmpty { query.append(("next_token", token)) }
            let reply = try await perform("GET", "/jobs", query: query, policy: retry)
            guard reply.status == 200, let json = reply.json else {
                throw BacalhauError.rejected(job: nil, status: reply.status, message: reply.apiError.text)
            }
            jobs += (json["Items"]?.listValue ?? []).compactMap { BacalhauJobInfo(response: $0) }
            token = json["NextToken"]?.stringValue ?? ""
            if token.isEmpty { break }
        }
        return jobs
    }

    /// `GET /api/v1/agent/alive`.
    public func isAlive() async -> Bool {
        guard let url = endpoint.url(api: "/api/v1/agent/alive") else { return false }
        if case .reply(let reply) = await transport.send("GET", url), reply.status == 200 { return true }
        return false
    }

    // MARK: - Retry loop

    func namespaceQuery(_ namespace: String?) -> [(String, String)] {
        (namespace ?? self.namespace).map { [("namespace", $0)] } ?? []
    }

    /// Sends a request, retrying transient failures; returns the first non-transient reply.
    /// 401/403 throw `.unauthorized`; an exhausted budget throws `.unavailable`.
    func perform(_ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
                 policy: RetryPolicy) async throws -> HTTPReply
    {
        guard let url = endpoint.url(path, query: query) else {
            throw BacalhauError.configuration("cannot build a URL for \(path) from \(endpoint)")
        }
        var attempt = 0
        while true {
            attempt += 1
            let problem: String
            var retryAfter: Double?
            switch await transport.send(method, url, body: body) {
            case .fatal(let error):
                try Task.checkCancellation()
                throw error
            case .reply(let reply):
                if reply.status == 401 || reply.status == 403 { throw unauthorized(reply) }
                guard isTransient(reply) else { return reply }
                problem = "HTTP \(reply.status): \(transport.redact(reply.apiError.text))"
                retryAfter = reply.retryAfter
            case .transient(let message):
                problem = message
            }
            guard attempt < policy.maxAttempts else {
                throw BacalhauError.unavailable(endpoint: endpoint.base, attempts: attempt, lastProblem: problem)
            }
            let delay = policy.delay(beforeRetry: attempt, retryAfter: retryAfter)
            logger?.debug("retrying after a transient failure",
                          metadata: ["request": "\(method) \(path)", "problem": "\(problem)",
                                     "attempt": "\(attempt)", "delay_s": "\(String(format: "%.3f", delay))"])
            try await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
        }
    }

    /// 408, 429, 502, 503, 504, and a 500 that is not one of the API's meaningful 500s.
    func isTransient(_ reply: HTTPReply) -> Bool {
        switch reply.status {
        case 408, 429, 502, 503, 504: return true
        case 500: return !Self.isMeaningful500(reply.apiError)
        default: return false
        }
    }

    /// The 500s Bacalhau uses for answers rather than faults (API.md §2, §8, §12).
    static func isMeaningful500(_ error: APIErrorBody) -> Bool {
        let message = error.message.lowercased()
        let phrases = ["no changes detected", "cannot stop job", "cannot rerun job", "does not support results",
                       "multiple jobs"]
        if phrases.contains(where: message.contains) { return true }
        return ["MultipleJobsFound", "ConflictJobState"].contains(error.code)
    }

    static func isNoChanges(_ error: APIErrorBody) -> Bool {
        error.message.lowercased().contains("no changes detected")
    }

    func unauthorized(_ reply: HTTPReply) -> BacalhauError {
        .unauthorized(status: reply.status, endpoint: endpoint.base, message: transport.redact(reply.apiError.text))
    }
}
