import Engine
import Foundation
import Logging

extension BacalhauPlugin {
    /// Reads are patient while following: the job exists, and an orchestrator restart should
    /// not fail it (about a minute of retries per poll).
    var followRetry: RetryPolicy {
        RetryPolicy(maxAttempts: max(20, client.retry.maxAttempts * 2), initialDelay: client.retry.initialDelay,
                    maxDelay: client.retry.maxDelay)
    }

    /// Polls `GET /jobs/{id}?include=executions` until the job is Completed, Failed or
    /// Stopped. Polls start fast and back off to `poll_interval`. A job that vanishes (an
    /// orchestrator that lost its state) is submitted again by name, at most twice.
    func follow(_ id: String, name: String, namespace: String?, spec: Record, deadline: ContinuousClock.Instant?,
                logger: Logger) async throws -> BacalhauJobInfo
    {
        var jobID = id
        var delay = min(pollInterval, max(0.02, pollInterval / 16))
        var resubmissions = 0
        var lastState = ""
        while true {
            // A poll is bounded by the job's deadline too: a slow or retried request (a loaded
            // orchestrator) must not hold the job past its job_timeout.
            let poll = { @Sendable [client, jobID, followRetry] in
                try await client.job(jobID, namespace: namespace, includeExecutions: true, policy: followRetry)
            }
            let polled = if let deadline { try await withDeadline(deadline, poll) } else { Optional(try await poll()) }
            guard let polled else { throw await timedOut(jobID, name: name, namespace: namespace, logger: logger) }
            guard let info = polled else {
                resubmissions += 1
                guard resubmissions <= 2 else { throw BacalhauError.jobLost(job: name, id: jobID) }
                logger.warning("the job is gone from the orchestrator; submitting it again", metadata: ["job_id": "\(jobID)"])
                let submission = try await client.ensureSubmitted(spec)
                jobID = submission.jobID
                continue
            }
            if info.state != lastState {
                logger.debug("job state", metadata: ["state": "\(info.state)", "message": "\(info.stateMessage)"])
                lastState = info.state
            }
            if info.isTerminal { return info }
            var wait = delay
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                if left <= .zero { throw await timedOut(jobID, name: name, namespace: namespace, logger: logger) }
                wait = min(wait, left.inSeconds)
            }
            try await Task.sleep(for: .milliseconds(Int64(max(wait, 0.001) * 1000)))
            delay = min(delay * 2, pollInterval)
        }
    }

    /// Stops a job whose job_timeout has passed and returns the error that says so.
    private func timedOut(_ jobID: String, name: String, namespace: String?, logger: Logger) async -> BacalhauError {
        let seconds = jobTimeout ?? 0
        await Self.stopDetached(client, jobID, namespace: namespace,
                                reason: "hypha: job_timeout of \(BacalhauError.format(seconds)) s passed", logger: logger)
        return BacalhauError.jobTimedOut(job: name, id: jobID, seconds: seconds)
    }

    /// Turns a terminal job into a result (Completed, every program exited 0) or an error
    /// naming the job and the reason.
    func conclude(_ info: BacalhauJobInfo, job: Job, submission: BacalhauClient.Submission,
                  started: ContinuousClock.Instant, logger: Logger) async throws -> JobResult
    {
        let executions = info.currentExecutions
        guard info.state == "Completed" else {
            let history = (try? await client.history(info.id, namespace: info.namespace.isEmpty ? nil : info.namespace)) ?? []
            let reason = Self.failureReason(info, history: history)
            logger.info("job ended \(info.state)", metadata: ["reason": "\(reason)"])
            throw BacalhauError.jobFailed(job: job.name, id: info.id, state: info.state, reason: reason)
        }
        // Stock Bacalhau completes a job whose program exited non-zero; the exit code is only
        // in RunOutput. Like the local executor, a non-zero exit fails the message.
        if let bad = executions.first(where: { $0.computeState == BacalhauExecution.completed && ($0.exitCode ?? 0) != 0 }) {
            let reason = "its program exited with code \(bad.exitCode ?? -1)" + ExecutorResult.excerpt(bad.stderr)
            throw BacalhauError.jobFailed(job: job.name, id: info.id, state: "Completed", reason: reason)
        }
        let primary = executions.first { $0.computeState == BacalhauExecution.completed } ?? executions.last
        var published: [Value] = []
        if info.type == "batch" || info.type == "ops" {
            published = try await client.results(info.id, namespace: info.namespace.isEmpty ? nil : info.namespace)
        }
        let outputs = published.compactMap { result -> Value? in
            let params = result["Params"]
            return (params?["PreSignedURL"] ?? params?["URL"]).flatMap { $0.stringValue.map(Value.string) }
        }
        var duration = started.duration(to: .now)
        if info.createTime > 0, info.modifyTime > info.createTime {
            duration = .nanoseconds(info.modifyTime - info.createTime)
        }
        // A 200 to a plain PUT created the job or, for a name already there with another spec,
        // updated it (Bacalhau's upsert): the version tells.
        let kind = submission.kind == .created && info.version > 1 ? .updated : submission.kind
        let stdout = primary?.stdout ?? ""
        let stderr = primary?.stderr ?? ""
        var written: (stdout: String?, stderr: String?) = (nil, nil)
        do {
            written = try logs.write(job: job.name, stdout: stdout, stderr: stderr)
        } catch {
            logger.warning("cannot write the job's logs", metadata: ["folder": "\(logs.directory)", "error": "\(error)"])
        }
        let result = ExecutorResult(id: info.id, executor: Self.spec.name, exitCode: primary?.exitCode, duration: duration,
                                    stdout: stdout, stderr: stderr, stdoutPath: written.stdout, stderrPath: written.stderr)
        let details = result.details(extra: [
            ("job_version", .int(info.version)), ("namespace", .string(info.namespace)),
            ("endpoint", .string(client.endpoint.base)), ("submission", .string(kind.rawValue)),
            ("executions", .list(executions.map { .map($0.record) })), ("results", .list(published)),
            ("outputs", .list(outputs)),
        ])
        logger.info("job completed", metadata: ["duration_s": "\(String(format: "%.3f", duration.inSeconds))"])
        return JobResult(job: job, state: .completed, details: details)
    }

    /// Why a job failed or was stopped: the job's history first (an execution's error, a
    /// timeout, a stop's reason), then the executions' own messages, then the job state's.
    static func failureReason(_ info: BacalhauJobInfo, history: [Value]) -> String {
        var errorEvent: String?
        var stopReason: String?
        var terminalEvent: String?
        for item in history {
            guard let event = item["Event"] else { continue }
            let message = event["Message"]?.stringValue ?? ""
            let topic = event["Topic"]?.stringValue ?? ""
            let details = event["Details"]?.recordValue ?? Record()
            if let reason = details["Reason"]?.stringValue, !reason.isEmpty { stopReason = reason }
            let isError = details["ErrorCode"] != nil || details["Error"] != nil
                || topic == "Exec Timeout" || topic == "Job Timeout"
                || details["NewState"]?.stringValue == "Failed" && item["Type"]?.stringValue == "ExecutionLevel"
            if isError, !message.isEmpty {
                var text = message
                if let error = details["Error"]?.stringValue, !error.isEmpty, !message.contains(error) { text += ": \(error)" }
                errorEvent = text
            } else if let state = details["NewState"]?.stringValue, BacalhauJobInfo.terminalStates.contains(state),
                      !message.isEmpty
            {
                terminalEvent = message
            }
        }
        let executions = info.currentExecutions
        let executionError = executions.reversed().compactMap { e -> String? in
            if !e.errorMessage.isEmpty { return e.errorMessage }
            if e.computeState == BacalhauExecution.failed, !e.computeMessage.isEmpty { return e.computeMessage }
            return nil
        }.first
        var reason: String
        if info.state == "Stopped", let stopReason {
            reason = "stopped: \(stopReason)"
        } else if let errorEvent {
            reason = errorEvent
        } else if let executionError {
            reason = executionError
        } else if let terminalEvent {
            reason = terminalEvent
        } else if !info.stateMessage.isEmpty {
            reason = info.stateMessage
        } else {
            reason = "Bacalhau gave no reason"
        }
        if let failed = executions.last(where: { ($0.exitCode ?? 0) != 0 }), let code = failed.exitCode,
           !reason.contains("code \(code)")
        {
            reason += " (exit code \(code))" + ExecutorResult.excerpt(failed.stderr)
        }
        return reason
    }
}
