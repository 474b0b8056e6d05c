import Foundation

/// The emulator's job store: jobs by ID and by (namespace, name), their versions,
/// executions and history, with Bacalhau's upsert and stop semantics (API.md §3, §8, §12).
/// With a state file, every change is appended to a JSON-lines journal, so a restarted
/// emulator keeps its jobs.
actor EmulatorStore {
    private var jobs: [String: JobRecord] = [:]
    private var names: [String: String] = [:]
    private var order: [String] = []
    private var seq: Int64 = 0
    private let journal: FileHandle?
    private(set) var counts = Counts()

    struct Counts: Sendable {
        var created = 0
        var updated = 0
        var unchanged = 0
        var stopped = 0
    }

    init(stateFile: String?) throws {
        guard let stateFile else {
            journal = nil
            return
        }
        var loaded: [String: JobRecord] = [:]
        var loadOrder: [String] = []
        if let data = FileManager.default.contents(atPath: stateFile) {
            for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                guard let json = try? JSON.parse(line), let job = JobRecord(persisted: json) else { continue }
                if loaded[job.id] == nil { loadOrder.append(job.id) }
                loaded[job.id] = job
            }
        }
        // Compact: one line per job.
        var text = ""
        for id in loadOrder {
            if let job = loaded[id] { text += job.persisted.serialized() + "\n" }
        }
        let url = URL(fileURLWithPath: stateFile)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        journal = handle
        jobs = loaded
        order = loadOrder
        for id in loadOrder {
            if let job = loaded[id] {
                names[Self.key(job.namespace, job.name)] = id
                seq = max(seq, job.history.map(\.seq).max() ?? 0)
            }
        }
    }

    static func key(_ namespace: String, _ name: String) -> String { namespace + "\u{0}" + name }

    private func persist(_ id: String) {
        guard let journal, let job = jobs[id] else { return }
        try? journal.write(contentsOf: Data((job.persisted.serialized() + "\n").utf8))
    }

    private func nextSeq() -> Int64 {
        seq += 1
        return seq
    }

    private func event(_ job: inout JobRecord, _ type: String, executionID: String = "", topic: String, _ message: String,
                       _ details: [(String, String)] = [], now: Int64)
    {
        job.history.append(HistoryRecord(type: type, jobID: job.id, executionID: executionID, jobVersion: job.version,
                                         time: now, topic: topic, message: message, details: details, seq: nextSeq()))
    }

    private func setState(_ job: inout JobRecord, _ state: String, _ message: String, now: Int64,
                          details: [(String, String)] = [])
    {
        guard job.state != state || job.stateMessage != message else { return }
        job.state = state
        job.stateMessage = message
        job.revision += 1
        job.modifyTime = now
        event(&job, "JobLevel", topic: "State Update", message.isEmpty ? "Job state updated to \(state)" : message,
              [("NewState", state)] + details, now: now)
    }

    // MARK: - Submit

    struct Submitted: Sendable {
        var jobID: String
        var evaluationID: String
        var version: Int64
        var warnings: [String]
        var isUpdate: Bool
    }

    /// Stores a prepared job: a new job, or (same namespace and name, v1.8+) an update
    /// that makes a new version; the same spec without `force` is "no changes detected".
    func submit(_ prepared: SubmissionRules.Prepared, force: Bool) throws(APIError) -> Submitted {
        let now = RFC3339.nowNanoseconds()
        let evaluationID = UUID().uuidString.lowercased()
        if !prepared.name.isEmpty, let existingID = names[Self.key(prepared.namespace, prepared.name)],
           var job = jobs[existingID]
        {
            if !force, SubmissionRules.comparable(job.spec) == SubmissionRules.comparable(prepared.spec) {
                counts.unchanged += 1
                throw APIError(status: 500,
                               message: "no changes detected for new job spec. Job Name: '\(prepared.name)', Job Id: '\(job.id)'",
                               code: "", component: "Orchestrator", hint: "Use the --force flag to override this warning")
            }
            job.version += 1
            job.spec = prepared.spec
            job.versions.append(prepared.spec)
            job.type = prepared.type
            for index in job.executions.indices where !job.executions[index].isTerminal {
                job.executions[index].computeState = ExecutionState.cancelled
                job.executions[index].computeMessage = "execution cancelled: job updated"
                job.executions[index].desiredState = DesiredState.stopped
                job.executions[index].modifyTime = now
            }
            job.state = JobStateName.pending
            job.stateMessage = ""
            job.revision += 1
            job.modifyTime = now
            event(&job, "JobLevel", topic: "Submission", "Job updated", [("NewState", JobStateName.pending)], now: now)
            jobs[job.id] = job
            counts.updated += 1
            persist(job.id)
            return Submitted(jobID: job.id, evaluationID: evaluationID, version: job.version,
                             warnings: prepared.warnings, isUpdate: true)
        }
        let id = "j-" + UUID().uuidString.lowercased()
        var spec = prepared.spec
        let name = prepared.name.isEmpty ? id : prepared.name
        if prepared.nameFromID { spec.set("Name", .str(id)) }
        var job = JobRecord(id: id, name: name, namespace: prepared.namespace, type: prepared.type, spec: spec, now: now)
        event(&job, "JobLevel", topic: "Submission", "Job submitted", [("NewState", JobStateName.pending)], now: now)
        jobs[id] = job
        names[Self.key(prepared.namespace, name)] = id
        order.append(id)
        counts.created += 1
        persist(id)
        return Submitted(jobID: id, evaluationID: evaluationID, version: 1, warnings: prepared.warnings, isUpdate: false)
    }

    // MARK: - Lookup

    /// `GetJobByIDOrName`: the name in the namespace first, then the exact ID, then a unique
    /// ID prefix.
    func find(_ idOrName: String, namespace: String) throws(APIError) -> JobRecord {
        if let id = names[Self.key(namespace, idOrName)], let job = jobs[id] { return job }
        if let job = jobs[idOrName], namespace == "*" || job.namespace == namespace { return job }
        if idOrName.hasPrefix("j-") {
            let matches = order.filter { $0.hasPrefix(idOrName) }.compactMap { jobs[$0] }
                .filter { namespace == "*" || $0.namespace == namespace }
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 {
                throw APIError(status: 500, message: "multiple jobs found for id prefix \(idOrName)",
                               code: "MultipleJobsFound", component: "JobStore")
            }
        }
        throw APIError.notFound("job not found: \(idOrName)")
    }

    func job(_ id: String) -> JobRecord? { jobs[id] }

    /// Jobs for `GET /jobs`, in creation or modification order.
    func list(namespace: String, selectors: [LabelSelector], orderBy: String, reverse: Bool) -> [JobRecord] {
        var result = order.compactMap { jobs[$0] }.filter { job in
            (namespace == "*" || job.namespace == namespace) && selectors.allSatisfy { $0.matches(job.labels) }
        }
        if orderBy == "modified_at" { result.sort { $0.modifyTime < $1.modifyTime } }
        if reverse { result.reverse() }
        return result
    }

    var jobCount: Int { jobs.count }

    /// Every job's (namespace, name) and ID: what tests check for duplicates.
    func allJobs() -> [JobRecord] { order.compactMap { jobs[$0] } }

    // MARK: - Stop and rerun

    struct Stopped: Sendable {
        var jobID: String
        var evaluationID: String
    }

    func stop(_ idOrName: String, namespace: String, reason: String) throws(APIError) -> Stopped {
        var job = try find(idOrName, namespace: namespace)
        switch job.state {
        case JobStateName.stopped:
            return Stopped(jobID: job.id, evaluationID: "")
        case JobStateName.completed, JobStateName.failed:
            // The store refuses to leave a terminal state (API.md §12).
            throw APIError(status: 500, message: "cannot stop job in state \(job.state)", code: "ConflictJobState",
                           component: "JobStore")
        default:
            break
        }
        let now = RFC3339.nowNanoseconds()
        for index in job.executions.indices where !job.executions[index].isTerminal {
            job.executions[index].computeState = ExecutionState.cancelled
            job.executions[index].computeMessage = "execution stopped: \(reason)"
            job.executions[index].desiredState = DesiredState.stopped
            job.executions[index].desiredMessage = "job stopped"
            job.executions[index].revision += 1
            job.executions[index].modifyTime = now
        }
        job.state = JobStateName.stopped
        job.stateMessage = reason
        job.revision += 1
        job.modifyTime = now
        event(&job, "JobLevel", topic: "State Update", "Job stopped by user",
              [("NewState", JobStateName.stopped), ("Reason", reason)], now: now)
        jobs[job.id] = job
        counts.stopped += 1
        persist(job.id)
        return Stopped(jobID: job.id, evaluationID: UUID().uuidString.lowercased())
    }

    func rerun(_ idOrName: String, namespace: String, reason: String) throws(APIError) -> Submitted {
        var job = try find(idOrName, namespace: namespace)
        if [JobStateName.pending, JobStateName.queued, "Undefined"].contains(job.state) {
            throw APIError.plain("cannot rerun job in state \(job.state)")
        }
        let now = RFC3339.nowNanoseconds()
        for index in job.executions.indices where !job.executions[index].isTerminal {
            job.executions[index].computeState = ExecutionState.cancelled
            job.executions[index].desiredState = DesiredState.stopped
            job.executions[index].modifyTime = now
        }
        job.version += 1
        job.versions.append(job.spec)
        job.state = JobStateName.pending
        job.stateMessage = reason.isEmpty ? "job rerun" : reason
        job.revision += 1
        job.modifyTime = now
        event(&job, "JobLevel", topic: "Submission", "Job rerun", [("NewState", JobStateName.pending)], now: now)
        jobs[job.id] = job
        persist(job.id)
        return Submitted(jobID: job.id, evaluationID: UUID().uuidString.lowercased(), version: job.version,
                         warnings: [], isUpdate: true)
    }

    // MARK: - Scheduling

    /// Jobs that are not terminal (to schedule again after a restart).
    func unfinished() -> [(String, Int64)] {
        order.compactMap { jobs[$0] }.filter { !$0.isTerminal }.map { ($0.id, $0.version) }
    }

    /// Creates an execution for the job's version `version` (if it is still current and
    /// not terminal) and marks the job Running.
    func beginExecution(jobID: String, version: Int64, nodeID: String) -> ExecutionRecord? {
        guard var job = jobs[jobID], job.version == version, !job.isTerminal else { return nil }
        let now = RFC3339.nowNanoseconds()
        let execution = ExecutionRecord(id: "e-" + UUID().uuidString.lowercased(), jobID: jobID, namespace: job.namespace,
                                        nodeID: nodeID, evalID: UUID().uuidString.lowercased(), jobVersion: version, now: now)
        job.executions.append(execution)
        event(&job, "ExecutionLevel", executionID: execution.id, topic: "Scheduling", "Running execution",
              [("NewState", "BidAccepted")], now: now)
        setState(&job, JobStateName.running, "", now: now)
        jobs[jobID] = job
        persist(jobID)
        return execution
    }

    /// How an execution ended.
    enum ExecutionOutcome: Sendable {
        case exited(code: Int32, stdout: String, stderr: String, stdoutTruncated: Bool, stderrTruncated: Bool)
        case failed(String)
        case timedOut(seconds: Int64, stdout: String, stderr: String)
    }

    func finishExecution(jobID: String, executionID: String, outcome: ExecutionOutcome,
                         nonZeroExit: EmulatorConfiguration.NonZeroExit, publisherHost: String)
    {
        guard var job = jobs[jobID], let index = job.executions.firstIndex(where: { $0.id == executionID }),
              !job.executions[index].isTerminal
        else { return }
        let now = RFC3339.nowNanoseconds()
        var execution = job.executions[index]
        execution.desiredState = DesiredState.stopped
        execution.revision += 1
        execution.modifyTime = now
        func runOutput(_ stdout: String, _ stderr: String, _ so: Bool, _ se: Bool, _ code: Int64, _ error: String) -> JSON {
            .obj(("Stdout", .str(stdout)), ("StdoutTruncated", .bool(so)), ("stderr", .str(stderr)),
                 ("StderrTruncated", .bool(se)), ("ExitCode", .int(code)), ("ErrorMsg", .str(error)))
        }
        var failure: (message: String, topic: String, code: String)?
        switch outcome {
        case .exited(let code, let stdout, let stderr, let so, let se):
            execution.runOutput = runOutput(stdout, stderr, so, se, Int64(code), code == 0 ? "" : "exit status \(code)")
            if code != 0, nonZeroExit == .failed {
                failure = ("exit status \(code)", "Execution", "ExecutionFailed")
            }
        case .failed(let message):
            execution.runOutput = runOutput("", "", false, false, -1, message)
            failure = (message, "Execution", "ExecutionFailed")
        case .timedOut(let seconds, let stdout, let stderr):
            let message = "execution timed out after \(seconds)s"
            execution.runOutput = runOutput(stdout, stderr, false, false, -1, message)
            failure = (message, "Exec Timeout", "ExecutionTimeout")
        }
        if let failure {
            execution.computeState = ExecutionState.failed
            execution.computeMessage = failure.message
            job.executions[index] = execution
            event(&job, "ExecutionLevel", executionID: execution.id, topic: failure.topic,
                  "Execution failed: \(failure.message)",
                  [("NewState", "Failed"), ("ErrorCode", failure.code), ("Error", failure.message)], now: now)
            setState(&job, JobStateName.failed, "One or more executions failed", now: now)
        } else {
            execution.computeState = ExecutionState.completed
            execution.computeMessage = "execution completed"
            execution.publishedResult = Self.publishedResult(job.task?["Publisher"], executionID: execution.id,
                                                             host: publisherHost)
            job.executions[index] = execution
            event(&job, "ExecutionLevel", executionID: execution.id, topic: "Execution", "Execution completed",
                  [("NewState", "Completed")], now: now)
            let wanted = max(1, Int(job.spec["Count"]?.int ?? 1))
            let done = job.executions.filter {
                $0.jobVersion == job.version && $0.computeState == ExecutionState.completed
            }.count
            if done >= wanted { setState(&job, JobStateName.completed, "", now: now) }
        }
        job.modifyTime = now
        jobs[jobID] = job
        persist(jobID)
    }

    /// No node runs this engine: Queued until QueueTimeout, or Failed at once.
    func markQueued(jobID: String, version: Int64, engine: String) {
        guard var job = jobs[jobID], job.version == version, !job.isTerminal else { return }
        let now = RFC3339.nowNanoseconds()
        event(&job, "JobLevel", topic: "Queueing", "Job queued: no node supports engine \(engine)", now: now)
        setState(&job, JobStateName.queued, "no node supports engine \(engine)", now: now)
        jobs[jobID] = job
        persist(jobID)
    }

    func failUnschedulable(jobID: String, version: Int64, engine: String, count: Int64) {
        guard var job = jobs[jobID], job.version == version, !job.isTerminal else { return }
        let now = RFC3339.nowNanoseconds()
        let message = "not enough nodes to run job. requested: \(count), available: 0, suitable: 0 "
            + "(no node supports engine \(engine))"
        event(&job, "JobLevel", topic: "Scheduling", message, [("ErrorCode", "NotEnoughNodes")], now: now)
        setState(&job, JobStateName.failed, message, now: now)
        jobs[jobID] = job
        persist(jobID)
    }

    /// A batch job with Count 0 runs nothing and completes.
    func completeEmpty(jobID: String, version: Int64) {
        guard var job = jobs[jobID], job.version == version, !job.isTerminal else { return }
        setState(&job, JobStateName.completed, "", now: RFC3339.nowNanoseconds())
        jobs[jobID] = job
        persist(jobID)
    }

    /// What `GET /jobs/{id}/results` returns for a publisher (API.md §3.4).
    static func publishedResult(_ publisher: JSON?, executionID: String, host: String) -> JSON {
        switch publisher?["Type"]?.string ?? "" {
        case "local":
            return .obj(("Type", .str("urlDownload")),
                        ("Params", .obj(("URL", .str("http://\(host):6001/\(executionID).tar.gz")))))
        case "s3", "s3managed":
            var params = publisher?["Params"]?.object ?? []
            let key = (params.first { $0.0 == "Key" }?.1.string ?? "") + executionID
            params.removeAll { $0.0 == "Key" }
            params.append(("Key", .str(key)))
            return .obj(("Type", .str("s3")), ("Params", .object(params)))
        case "ipfs":
            return .obj(("Type", .str("ipfs")), ("Params", .obj(("CID", .str("bafy" + executionID.replacingOccurrences(of: "-", with: ""))))))
        default:
            return .null
        }
    }
}

/// A Kubernetes-style label selector requirement (`key`, `!key`, `key=v`, `key!=v`,
/// `key in (a,b)`, `key notin (a,b)`).
struct LabelSelector: Sendable {
    enum Op: Sendable { case exists, notExists, equals, notEquals, isIn, notIn }
    var key: String
    var op: Op
    var values: [String]

    func matches(_ labels: [(String, String)]) -> Bool {
        let value = labels.first { $0.0 == key }?.1
        switch op {
        case .exists: return value != nil
        case .notExists: return value == nil
        case .equals, .isIn: return value.map(values.contains) ?? false
        case .notEquals, .notIn: return value.map { !values.contains($0) } ?? true
        }
    }

    /// Parses one `labels=` parameter (requirements separated by commas outside parentheses).
    static func parse(_ text: String) -> [LabelSelector]? {
        var parts: [String] = []
        var depth = 0, current = ""
        for ch in text {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if ch == ",", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        parts.append(current)
        var result: [LabelSelector] = []
        for raw in parts {
            let part = raw.trimmingCharacters(in: .whitespaces)
            if part.isEmpty { continue }
            if let r = part.range(of: " notin ") ?? part.range(of: " in ") {
                let key = part[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
                let list = part[r.upperBound...].trimmingCharacters(in: .whitespaces)
                guard list.hasPrefix("("), list.hasSuffix(")"), valid(key) else { return nil }
                let values = list.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                result.append(LabelSelector(key: key, op: part.contains(" notin ") ? .notIn : .isIn, values: values))
            } else if let r = part.range(of: "!=") {
                let key = String(part[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
                guard valid(key) else { return nil }
                result.append(LabelSelector(key: key, op: .notEquals, values: [part[r.upperBound...].trimmingCharacters(in: .whitespaces)]))
            } else if let r = part.range(of: "==") ?? part.range(of: "=") {
                let key = String(part[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
                guard valid(key) else { return nil }
                result.append(LabelSelector(key: key, op: .equals, values: [part[r.upperBound...].trimmingCharacters(in: .whitespaces)]))
            } else if part.hasPrefix("!") {
                let key = String(part.dropFirst()).trimmingCharacters(in: .whitespaces)
                guard valid(key) else { return nil }
                result.append(LabelSelector(key: key, op: .notExists, values: []))
            } else {
                guard valid(part) else { return nil }
                result.append(LabelSelector(key: part, op: .exists, values: []))
            }
        }
        return result
    }

    static func valid(_ key: String) -> Bool {
        !key.isEmpty && key.count <= 253 && key.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_./".unicodeScalars.contains($0))
        }
    }
}
