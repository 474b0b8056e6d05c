import Engine
import Foundation
import Logging
import Synchronization

/// `bacalhau` (job → result): submits each job spec to a Bacalhau orchestrator and follows it
/// to the end; the same specs the local `process` executor runs.
///
/// Submission is idempotent by job name (see `BacalhauClient.ensureSubmitted`): after a crash
/// or a lost answer the job already there is followed, never created twice. The spec is
/// checked against Bacalhau's rules first (`BacalhauSpecValidator`); a bad one fails with
/// every problem listed and no request sent. Labels record the workflow, node and run.
///
/// One request per new job where that is safe: before its first submission the node asks the
/// orchestrator once whether any job of this workflow and node exists. If none does, no
/// earlier run can have submitted these names, so each job is PUT at once ("no changes
/// detected" or a 409 still send it to a lookup). If some do (a restart, a rerun), each job is
/// looked up by name first and one that is there is followed, not submitted again: a PUT of it
/// with this run's label would be a changed spec, which Bacalhau runs again as a new version.
///
/// A job that completes (and whose program exited 0) emits a `result` with the fields in
/// `resultFields`; a job that fails or is stopped fails the message, naming the job and the
/// reason from its history. On cancellation (shutdown), jobs still running are stopped when
/// `stop_on_exit` is set.
public struct BacalhauPlugin: ProcessorPlugin, CustomStringConvertible, CustomReflectable {
    /// The fields a result carries beyond every executor's (`ExecutorResult`), with their types.
    static let extraResultSchema = [
        RecordField("job_version", .int), RecordField("namespace", .string), RecordField("endpoint", .string),
        RecordField("submission", .string), RecordField("executions", .list), RecordField("results", .list),
        RecordField("outputs", .list),
    ]

    /// The labels every submitted job carries.
    public static let workflowLabel = "hypha-workflow"
    public static let nodeLabel = "hypha-node"
    public static let runLabel = "hypha-run"

    static let endpoint = OptionalNodeOption.string(
        "endpoint", help: "the orchestrator's URL, http or https (default: BACALHAU_API_HOST and BACALHAU_API_PORT "
            + "as Bacalhau's CLI reads them, else http://127.0.0.1:1234)")
    static let namespace = OptionalNodeOption.string("namespace", help: "the namespace for jobs whose spec names none (default: the server's)")
    static let apiKey = OptionalNodeOption.string(
        "api_key", help: "API key sent as a Bearer token; 'env:NAME' reads it from a variable (default: "
            + "BACALHAU_API_KEY, else Basic auth from BACALHAU_API_USERNAME/BACALHAU_API_PASSWORD)")
    static let pollInterval = NodeOption.duration(
        "poll_interval", default: .seconds(1), atLeast: .milliseconds(10),
        help: "the longest wait between two looks at a running job (polls start faster and back off to this)")
    static let jobTimeout = OptionalNodeOption.duration(
        "job_timeout", help: "stop a job and fail its message when it runs longer than this (default, or 0: no limit)")
    static let maxInFlight = NodeOption.int("max_in_flight", default: 16, atLeast: 1, help: "how many jobs are submitted and followed at once")
    static let stopOnExit = NodeOption.bool("stop_on_exit", default: true,
                                        help: "on shutdown, stop the jobs this run submitted that are still running")
    static let requestTimeout = NodeOption.duration("request_timeout", default: .seconds(30), atLeast: .milliseconds(1),
                                                help: "how long one HTTP request may take")

    public static let spec = PluginSpec(
        name: "bacalhau",
        summary: "Submits jobs to a Bacalhau orchestrator and follows them to the end.",
        output: .result,
        options: [endpoint, namespace, apiKey, pollInterval, jobTimeout, maxInFlight, stopOnExit, requestTimeout],
        outputSchema: ExecutorResult.schema(extra: extraResultSchema))

    public let concurrency: Int
    public let client: BacalhauClient
    let pollInterval: Double
    let jobTimeout: Double?
    let stopOnExit: Bool
    /// The node's id and workflow (not its options: `api_key` may be among them).
    let nodeID: String
    let workflowName: String
    let runID: String
    let logs: JobLogs
    let logger: Logger
    /// The job journal, to record the id Bacalhau gave each job.
    let state: (any StateStore)?
    let inFlight = InFlightJobs()
    /// Whether jobs of this workflow and node may already exist (asked once, at the first job).
    let earlierJobs = EarlierJobsProbe()

    public init(node: NodeConfig, context: RunContext) throws {
        try self.init(node: node, context: context, environment: ProcessEnvironment.values)
    }

    /// Builds the node with an explicit environment (tests use this).
    public init(node: NodeConfig, context: RunContext, environment: [String: String],
                retry: RetryPolicy = RetryPolicy()) throws
    {
        if let problem = Self.validate(node).first { throw problem }
        nodeID = node.id
        workflowName = node.workflow.name
        let endpoint: BacalhauEndpoint
        let credentials: BacalhauCredentials
        do {
            let (resolved, fromURL) = try BacalhauEndpoint.resolve(option: node[Self.endpoint], environment: environment)
            endpoint = resolved
            credentials = try BacalhauCredentials.resolve(apiKey: node[Self.apiKey], environment: environment,
                                                          fromEndpoint: fromURL)
        } catch {
            throw Diagnostic("node '\(node.id)': \(error.description)", at: node.location(of: Self.endpoint))
        }
        concurrency = node[Self.maxInFlight]
        pollInterval = node[Self.pollInterval].inSeconds
        jobTimeout = node[Self.jobTimeout].map(\.inSeconds).flatMap { $0 > 0 ? $0 : nil }
        stopOnExit = node[Self.stopOnExit]
        runID = context.runID
        logs = try JobLogs(runDirectory: context.runDirectory)
        state = context.state
        var logger = context.logger
        logger[metadataKey: "endpoint"] = "\(endpoint)"
        self.logger = logger
        client = BacalhauClient(endpoint: endpoint, credentials: credentials, namespace: node[Self.namespace],
                                retry: retry, requestTimeout: node[Self.requestTimeout].inSeconds,
                                maxConnections: concurrency + 2, logger: logger)
    }

    public var description: String { "BacalhauPlugin(node: \(nodeID), \(client))" }
    public var customMirror: Mirror {
        Mirror(self, children: ["node": nodeID, "client": client, "concurrency": concurrency, "pollInterval": pollInterval,
                                "jobTimeout": jobTimeout as Any, "stopOnExit": stopOnExit, "runID": runID])
    }

    public static func validate(_ node: NodeConfig) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        if let text = node[endpoint], !text.isEmpty {
            do {
                _ = try BacalhauEndpoint.parse(text)
            } catch {
                problems.append(Diagnostic("node '\(node.id)': \(error.description)", at: node.location(of: endpoint)))
            }
        }
        if let ns = node[namespace], ns.trimmingCharacters(in: .whitespaces).isEmpty {
            problems.append(Diagnostic("option 'namespace' of node '\(node.id)' must not be empty", at: node.location(of: namespace)))
        }
        return problems
    }

    // MARK: - Processing

    public func process(_ job: Job, _ output: Output) async throws {
        let spec = try prepare(job)
        let name = job.name.isEmpty ? (spec["Name"]?.stringValue ?? "") : job.name
        let namespace = spec["Namespace"]?.stringValue ?? client.namespace
        let started = ContinuousClock.now
        let deadline = jobTimeout.map { started.advanced(by: .milliseconds(Int64($0 * 1000))) }
        var log = logger
        log[metadataKey: "job"] = "\(name)"

        let ticket = inFlight.begin(name: name, namespace: namespace)
        defer { inFlight.end(ticket) }
        var ended = false  // the job reached a terminal state: nothing to stop
        do {
            let lookUpFirst = await earlierJobs.mayExist {
                try await client.list(labels: ["\(Self.workflowLabel)=\(SafeName.label(workflowName))",
                                               "\(Self.nodeLabel)=\(SafeName.label(nodeID))"],
                                      namespace: namespace, limit: 1)
                    .isEmpty == false
            }
            let submission = try await client.ensureSubmitted(spec, lookUpFirst: lookUpFirst)
            inFlight.identify(ticket, id: submission.jobID)
            try? await state?.jobStarted(node: nodeID, name: name, pid: nil, remoteID: submission.jobID)
            log[metadataKey: "job_id"] = "\(submission.jobID)"
            switch submission.kind {
            case .created: log.info("submitted")
            case .adopted: log.info("already submitted; following the job that is there")
            case .rerun: log.info("had failed or been stopped; submitted again as a new version")
            case .updated: log.info("was there with another spec; updated, which runs it again as a new version")
            }
            for warning in submission.warnings { log.warning("Bacalhau: \(warning)") }

            let info = try await follow(submission.jobID, name: name, namespace: namespace, spec: spec,
                                        deadline: deadline, logger: log)
            ended = true
            inFlight.end(ticket)
            let result = try await conclude(info, job: job, submission: submission, started: started, logger: log)
            try await output.emit(.result(result))
        } catch {
            guard Task.isCancelled || error is CancellationError, !ended else { throw error }
            if stopOnExit {
                let target = inFlight.id(of: ticket) ?? name
                await Self.stopDetached(client, target, namespace: namespace,
                                        reason: "hypha run \(runID) is shutting down", logger: log)
            }
            throw BacalhauError.jobFailed(job: name, id: inFlight.id(of: ticket) ?? "not yet known", state: "Stopped",
                                          reason: stopOnExit ? "the run was interrupted; the job was stopped"
                                                             : "the run was interrupted; the job was left running")
        }
    }

    /// Stops whatever is still in flight (normally nothing: each job is stopped by its own
    /// handler on cancellation).
    public func finish() async throws {
        guard stopOnExit else { return }
        for (target, namespace) in inFlight.remaining() {
            await Self.stopDetached(client, target, namespace: namespace,
                                    reason: "hypha run \(runID) is shutting down", logger: logger)
        }
    }

    /// The spec as it is sent: `Name` from the job, the node's namespace when the spec
    /// names none, `Count` always present, labels for the workflow, node and run, a
    /// fingerprint of everything but the run label; checked against Bacalhau's rules.
    func prepare(_ job: Job) throws -> Record {
        var spec = job.spec
        let name = job.name.isEmpty ? (spec["Name"]?.stringValue ?? "") : job.name
        guard !name.isEmpty else {
            throw BacalhauError.invalidSpec(job: "(unnamed, from node '\(job.renderedBy)')",
                                            problems: ["the job has no Name; it is the key that keeps a job from being submitted twice"])
        }
        var ordered = Record([("Name", .string(name))])
        for (key, value) in spec.fields where key.caseInsensitiveCompare("Name") != .orderedSame { ordered[key] = value }
        spec = ordered
        if spec["Namespace"] == nil, let namespace = client.namespace { spec["Namespace"] = .string(namespace) }
        var labels: Record
        switch spec["Labels"] {
        case nil, .null?: labels = Record()
        case .map(let existing)?: labels = existing
        case let other?:
            throw BacalhauError.invalidSpec(job: name, problems: ["Labels must be a mapping of strings, got \(other.typeName)"])
        }
        labels[Self.workflowLabel] = .string(SafeName.label(workflowName))
        labels[Self.nodeLabel] = .string(SafeName.label(nodeID))
        spec["Labels"] = .map(labels)
        var (checked, problems) = BacalhauSpecValidator.check(spec)
        guard problems.isEmpty else { throw BacalhauError.invalidSpec(job: name, problems: problems) }
        // The fingerprint of the rest tells a later lookup the same job (adopt it) from an
        // older spec under the same name (update it).
        var meta: Record
        switch checked["Meta"] {
        case .map(let existing)?: meta = existing
        default: meta = Record()
        }
        meta[BacalhauClient.fingerprintKey] = nil
        checked["Meta"] = meta.isEmpty ? nil : .map(meta)
        meta[BacalhauClient.fingerprintKey] = .string(SpecFingerprint.of(.map(checked)))
        checked["Meta"] = .map(meta)
        labels[Self.runLabel] = .string(SafeName.label(runID))
        checked["Labels"] = .map(labels)
        return checked
    }

    /// Stops a job from a context that may be cancelled: the request runs in a detached
    /// task, bounded to a few seconds.
    static func stopDetached(_ client: BacalhauClient, _ target: String, namespace: String?, reason: String,
                             logger: Logger) async
    {
        let task = Task.detached { () -> String in
            await withTaskGroup(of: String?.self) { group in
                group.addTask {
                    do {
                        return "\(try await client.stop(target, namespace: namespace, reason: reason))"
                    } catch {
                        return "failed: \(error)"
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(5))
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first ?? "no answer within 5 s"
            }
        }
        let outcome = await task.value
        logger.info("stop requested on shutdown", metadata: ["target": "\(target)", "outcome": "\(outcome)"])
    }
}

/// Asks once, at the first job, whether jobs of a workflow and node may exist already;
/// every later job gets the same answer. A failed question counts as "they may".
final class EarlierJobsProbe: Sendable {
    private let answer = Mutex<Task<Bool, Never>?>(nil)

    func mayExist(_ ask: @escaping @Sendable () async throws -> Bool) async -> Bool {
        let task = answer.withLock { current in
            if let current { return current }
            let task = Task { (try? await ask()) ?? true }
            current = task
            return task
        }
        return await task.value
    }
}
