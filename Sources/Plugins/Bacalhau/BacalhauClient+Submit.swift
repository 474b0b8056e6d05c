import Engine
import Foundation

extension BacalhauClient {
    /// How `ensureSubmitted` got hold of a job.
    public enum SubmissionKind: String, Sendable, Equatable {
        /// This call created the job.
        case created
        /// A job with this name was already there (an earlier run, or a submission whose
        /// answer was lost); it is followed instead of creating a second.
        case adopted
        /// A job with this name had failed or been stopped; it was submitted again with
        /// `Force`, which makes a new version of the same job (same ID).
        case rerun
        /// A job with this name was there with another spec (its `hypha-spec` fingerprint
        /// differs: a changed template or variables); it was updated to this spec, which
        /// Bacalhau runs as a new version of the same job.
        case updated
    }

    /// The `Meta` key holding a fingerprint of the spec a job was submitted with.
    public static let fingerprintKey = "hypha-spec"

    public struct Submission: Sendable, Equatable {
        public var jobID: String
        public var kind: SubmissionKind
        /// PUT attempts made.
        public var puts: Int
        public var warnings: [String]
    }

    /// Submits a job so that it exists exactly once, whatever fails on the way.
    ///
    /// The job's `Name` is the key (Bacalhau v1.8+ upserts by name), and a new job costs one
    /// request: the first round `PUT`s at once. 200 means created (or, for a name already
    /// there with another spec, updated: Bacalhau's upsert; the job's `Version` tells).
    /// "No changes detected" and 409 (a racing submission) mean the job is there: it is
    /// looked up by name and adopted, or, if it failed or was stopped and `rerunFailed`,
    /// submitted again with `Force` (a new version of the same job).
    /// A `PUT` whose answer is lost (dropped connection, timeout, 5xx, 429) is never simply
    /// repeated: every later round looks the job up first, so a `PUT` that did land is found.
    /// There a job whose `Meta["hypha-spec"]` fingerprint differs from this spec's is an
    /// older spec: it is updated.
    /// - Parameter lookUpFirst: look the name up before the first PUT (a job of this name may
    ///   be there from an earlier run); otherwise PUT at once.
    public func ensureSubmitted(_ job: Record, rerunFailed: Bool = true, lookUpFirst: Bool = false) async throws -> Submission {
        guard let name = job["Name"]?.stringValue, !name.isEmpty else {
            throw BacalhauError.invalidSpec(job: "(unnamed)", problems: ["Name is required: it is the key that keeps a job from being submitted twice"])
        }
        let namespace = job["Namespace"]?.stringValue ?? self.namespace
        let fingerprint = job["Meta"]?[Self.fingerprintKey]?.stringValue
        var puts = 0
        var round = 0
        var lastProblem = ""
        var lookFirst = lookUpFirst  // also after an unclear answer: the job may be there
        while true {
            round += 1
            var force = false
            var kind = SubmissionKind.created
            if lookFirst, let existing = try await self.job(name, namespace: namespace, includeExecutions: false) {
                let theirs = existing.meta[Self.fingerprintKey]?.stringValue
                if let ours = fingerprint, let theirs, ours != theirs {
                    kind = .updated
                    force = true  // a changed spec is an update anyway; Force also covers a racing twin
                } else if rerunFailed, existing.state == "Failed" || existing.state == "Stopped" {
                    kind = .rerun
                    force = true
                } else {
                    return Submission(jobID: existing.id, kind: .adopted, puts: puts, warnings: [])
                }
            }
            puts += 1
            switch try await put(job, force: force) {
            case .accepted(let reply):
                return Submission(jobID: reply.jobID, kind: kind, puts: puts, warnings: reply.warnings)
            case .alreadyThere(let message):
                // The same spec is there: look it up to adopt it or rerun it (at once the
                // first time: this is an answer, not a fault).
                lastProblem = message
                lookFirst = true
                if round == 1 { continue }
            case .unknown(let problem):
                lastProblem = problem
                lookFirst = true
                logger?.debug("submission answer lost; looking the job up before trying again",
                              metadata: ["job": "\(name)", "problem": "\(problem)", "round": "\(round)"])
            }
            guard round < retry.maxAttempts else {
                throw BacalhauError.unavailable(endpoint: endpoint.base, attempts: round, lastProblem: lastProblem)
            }
            let delay = retry.delay(beforeRetry: round)
            try await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
        }
    }
}
