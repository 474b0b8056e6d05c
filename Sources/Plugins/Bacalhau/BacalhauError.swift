/// Everything that can go wrong talking to a Bacalhau orchestrator. Each message says what
/// happened and what to do; none ever contains a credential.
public enum BacalhauError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A bad option or environment value.
    case configuration(String)
    /// The spec breaks Bacalhau's submission rules; nothing was sent.
    case invalidSpec(job: String, problems: [String])
    /// The orchestrator refused the request (400 and other 4xx): retrying would not help.
    case rejected(job: String?, status: Int, message: String)
    /// 401 or 403: the credentials are missing, wrong, or lack a permission.
    case unauthorized(status: Int, endpoint: String, message: String)
    /// Transient failures (429, 5xx, refused or dropped connections, timeouts) went on past
    /// the retry budget.
    case unavailable(endpoint: String, attempts: Int, lastProblem: String)
    /// The orchestrator answered something that isn't Bacalhau's API.
    case protocolViolation(String)
    /// A TLS or other transport problem that retrying won't fix.
    case transport(endpoint: String, message: String)
    /// The job ended Failed or Stopped, or its program exited non-zero.
    case jobFailed(job: String, id: String, state: String, reason: String)
    /// The job ran longer than the node's `job_timeout`; it was stopped.
    case jobTimedOut(job: String, id: String, seconds: Double)
    /// The job disappeared from the orchestrator while being followed.
    case jobLost(job: String, id: String)

    public var description: String {
        switch self {
        case .configuration(let message):
            return "bacalhau: \(message)"
        case .invalidSpec(let job, let problems):
            let list = problems.map { "  - \($0)" }.joined(separator: "\n")
            return "job '\(job)' was not submitted: its spec breaks Bacalhau's rules:\n\(list)"
        case .rejected(let job, let status, let message):
            let subject = job.map { "job '\($0)'" } ?? "the request"
            return "Bacalhau rejected \(subject) (HTTP \(status)): \(message)"
        case .unauthorized(let status, let endpoint, let message):
            let advice = status == 403
                ? "the credentials are valid but lack a permission (write:job to submit and stop, read:job to follow)"
                : "set the node's 'api_key' option or BACALHAU_API_KEY (or BACALHAU_API_USERNAME and BACALHAU_API_PASSWORD)"
            return "Bacalhau at \(endpoint) refused the credentials (HTTP \(status)): \(message); \(advice)"
        case .unavailable(let endpoint, let attempts, let problem):
            return "Bacalhau at \(endpoint) did not answer usefully after \(attempts) attempts (last: \(problem)); "
                + "check that the orchestrator is running and reachable"
        case .protocolViolation(let message):
            return "unexpected answer from Bacalhau: \(message)"
        case .transport(let endpoint, let message):
            return "cannot talk to Bacalhau at \(endpoint): \(message)"
        case .jobFailed(let job, let id, let state, let reason):
            return "job '\(job)' (\(id)) \(state == "Completed" ? "failed" : state.lowercased()): \(reason)"
        case .jobTimedOut(let job, let id, let seconds):
            return "job '\(job)' (\(id)) was still running after job_timeout (\(Self.format(seconds)) s) and was stopped"
        case .jobLost(let job, let id):
            return "job '\(job)' (\(id)) disappeared from the orchestrator while it was being followed"
        }
    }

    /// Whether retrying could help (only meaningful for errors of a single request).
    var isRetryable: Bool {
        if case .unavailable = self { return true }
        return false
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.3g", seconds)
    }
}

import Foundation
