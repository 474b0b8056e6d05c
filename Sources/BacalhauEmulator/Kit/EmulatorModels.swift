import Foundation

/// Job states (a string on the wire) and execution states (an integer), API.md §4.
enum JobStateName {
    static let pending = "Pending", queued = "Queued", running = "Running", completed = "Completed",
        failed = "Failed", stopped = "Stopped"
    static let terminal: Set<String> = [completed, failed, stopped]
}

enum ExecutionState {
    static let new = 1, bidAccepted = 5, running = 6, completed = 9, failed = 10, cancelled = 11
    static let terminal: Set<Int> = [4, 8, 9, 10, 11]
}

enum DesiredState {
    static let pending = 0, running = 1, stopped = 2
}

/// One execution of a job.
struct ExecutionRecord: Sendable {
    var id: String
    var jobID: String
    var namespace: String
    var nodeID: String
    var evalID: String
    var jobVersion: Int64
    var computeState: Int
    var computeMessage: String
    var desiredState: Int
    var desiredMessage: String
    /// `{"Type","Params"}` once published, else null.
    var publishedResult: JSON
    /// `RunOutput`, once the execution has run, else null.
    var runOutput: JSON
    var revision: Int64
    var createTime: Int64
    var modifyTime: Int64

    var isTerminal: Bool { ExecutionState.terminal.contains(computeState) }

    var json: JSON {
        .obj(
            ("ID", .str(id)), ("Namespace", .str(namespace)), ("EvalID", .str(evalID)), ("Name", .str("")),
            ("NodeID", .str(nodeID)), ("JobID", .str(jobID)), ("JobVersion", .int(jobVersion)),
            ("PartitionIndex", .int(0)),
            ("AllocatedResources", .obj(("Tasks", .object([])))),
            ("DesiredState", .obj(("StateType", .int(Int64(desiredState))), ("Message", .str(desiredMessage)))),
            ("PublishedResult", publishedResult),
            ("RunOutput", runOutput),
            ("PreviousExecution", .str("")), ("NextExecution", .str("")), ("FollowupEvalID", .str("")),
            ("Revision", .int(revision)),
            ("ComputeState", .obj(("StateType", .int(Int64(computeState))), ("Message", .str(computeMessage)))),
            ("CreateTime", .int(createTime)), ("ModifyTime", .int(modifyTime)))
    }

    init(id: String, jobID: String, namespace: String, nodeID: String, evalID: String, jobVersion: Int64, now: Int64) {
        self.id = id
        self.jobID = jobID
        self.namespace = namespace
        self.nodeID = nodeID
        self.evalID = evalID
        self.jobVersion = jobVersion
        computeState = ExecutionState.bidAccepted
        computeMessage = ""
        desiredState = DesiredState.running
        desiredMessage = "execution running"
        publishedResult = .null
        runOutput = .null
        revision = 1
        createTime = now
        modifyTime = now
    }

    init?(json: JSON) {
        guard let id = json["ID"]?.string, let jobID = json["JobID"]?.string else { return nil }
        self.id = id
        self.jobID = jobID
        namespace = json["Namespace"]?.string ?? "default"
        nodeID = json["NodeID"]?.string ?? ""
        evalID = json["EvalID"]?.string ?? ""
        jobVersion = json["JobVersion"]?.int ?? 1
        computeState = Int(json["ComputeState"]?["StateType"]?.int ?? 0)
        computeMessage = json["ComputeState"]?["Message"]?.string ?? ""
        desiredState = Int(json["DesiredState"]?["StateType"]?.int ?? 0)
        desiredMessage = json["DesiredState"]?["Message"]?.string ?? ""
        publishedResult = json["PublishedResult"] ?? .null
        runOutput = json["RunOutput"] ?? .null
        revision = json["Revision"]?.int ?? 1
        createTime = json["CreateTime"]?.int ?? 0
        modifyTime = json["ModifyTime"]?.int ?? 0
    }
}

/// One history event (`JobHistory`).
struct HistoryRecord: Sendable {
    var type: String
    var jobID: String
    var executionID: String
    var jobVersion: Int64
    /// Unix nanoseconds.
    var time: Int64
    var topic: String
    var message: String
    var details: [(String, String)]
    var seq: Int64

    var json: JSON {
        let stamp = JSON.str(RFC3339.format(nanoseconds: time))
        return .obj(
            ("Type", .str(type)), ("JobID", .str(jobID)), ("ExecutionID", .str(executionID)),
            ("JobVersion", .int(jobVersion)), ("SeqNum", .int(seq)), ("Time", stamp),
            ("Event", .obj(("Message", .str(message)), ("Topic", .str(topic)), ("Timestamp", stamp),
                           ("Details", .object(details.map { ($0.0, .str($0.1)) })))))
    }

    init(type: String, jobID: String, executionID: String = "", jobVersion: Int64, time: Int64, topic: String,
         message: String, details: [(String, String)] = [], seq: Int64)
    {
        self.type = type
        self.jobID = jobID
        self.executionID = executionID
        self.jobVersion = jobVersion
        self.time = time
        self.topic = topic
        self.message = message
        self.details = details
        self.seq = seq
    }

    init?(json: JSON) {
        guard let type = json["Type"]?.string, let jobID = json["JobID"]?.string else { return nil }
        self.type = type
        self.jobID = jobID
        executionID = json["ExecutionID"]?.string ?? ""
        jobVersion = json["JobVersion"]?.int ?? 1
        time = json["Time"]?.string.flatMap(RFC3339.parse) ?? 0
        topic = json["Event"]?["Topic"]?.string ?? ""
        message = json["Event"]?["Message"]?.string ?? ""
        details = (json["Event"]?["Details"]?.object ?? []).compactMap { key, value in value.string.map { (key, $0) } }
        seq = json["SeqNum"]?.int ?? 0
    }
}

/// A stored job: its normalized spec (per version), state, executions and history.
struct JobRecord: Sendable {
    var id: String
    var name: String
    var namespace: String
    var type: String
    /// The current version's spec: the Job object without its server-set fields.
    var spec: JSON
    /// Specs of every version, oldest first (version N is `versions[N-1]`).
    var versions: [JSON]
    var state: String
    var stateMessage: String
    var version: Int64
    var revision: Int64
    var createTime: Int64
    var modifyTime: Int64
    var executions: [ExecutionRecord]
    var history: [HistoryRecord]

    var isTerminal: Bool { JobStateName.terminal.contains(state) }

    var labels: [(String, String)] {
        (spec["Labels"]?.object ?? []).compactMap { key, value in value.string.map { (key, $0) } }
    }

    var task: JSON? { spec["Tasks"]?.array?.first }

    /// The Job object as the API returns it, fields in Go's order.
    func jobJSON(version wanted: Int64? = nil) -> JSON {
        let v = wanted ?? version
        let body = (v >= 1 && Int(v) <= versions.count) ? versions[Int(v) - 1] : spec
        var pairs: [(String, JSON)] = [("ID", .str(id))]
        pairs += body.object ?? []
        pairs += [
            ("State", .obj(("StateType", .str(state)), ("Message", .str(stateMessage)))),
            ("Version", .int(v)), ("Revision", .int(revision)),
            ("CreateTime", .int(createTime)), ("ModifyTime", .int(modifyTime)),
        ]
        return .object(pairs)
    }

    /// Everything, for the state journal.
    var persisted: JSON {
        .obj(("ID", .str(id)), ("Name", .str(name)), ("Namespace", .str(namespace)), ("Type", .str(type)),
             ("Versions", .array(versions)), ("State", .str(state)), ("StateMessage", .str(stateMessage)),
             ("Version", .int(version)), ("Revision", .int(revision)), ("CreateTime", .int(createTime)),
             ("ModifyTime", .int(modifyTime)), ("Executions", .array(executions.map(\.json))),
             ("History", .array(history.map(\.json))))
    }

    init(id: String, name: String, namespace: String, type: String, spec: JSON, now: Int64) {
        self.id = id
        self.name = name
        self.namespace = namespace
        self.type = type
        self.spec = spec
        versions = [spec]
        state = JobStateName.pending
        stateMessage = ""
        version = 1
        revision = 1
        createTime = now
        modifyTime = now
        executions = []
        history = []
    }

    init?(persisted json: JSON) {
        guard let id = json["ID"]?.string, let name = json["Name"]?.string, let versions = json["Versions"]?.array,
              let last = versions.last
        else { return nil }
        self.id = id
        self.name = name
        namespace = json["Namespace"]?.string ?? "default"
        type = json["Type"]?.string ?? "batch"
        self.versions = versions
        spec = last
        state = json["State"]?.string ?? JobStateName.pending
        stateMessage = json["StateMessage"]?.string ?? ""
        version = json["Version"]?.int ?? Int64(versions.count)
        revision = json["Revision"]?.int ?? 1
        createTime = json["CreateTime"]?.int ?? 0
        modifyTime = json["ModifyTime"]?.int ?? 0
        executions = (json["Executions"]?.array ?? []).compactMap(ExecutionRecord.init(json:))
        history = (json["History"]?.array ?? []).compactMap(HistoryRecord.init(json:))
    }
}

/// Go's RFC 3339 (nano) timestamps.
enum RFC3339 {
    static func format(nanoseconds: Int64) -> String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        let nanos = Int(nanoseconds % 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ n: Int32, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        var text = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
        if nanos > 0 {
            var fraction = String(nanos)
            fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    static func parse(_ text: String) -> Int64? {
        // Enough for what `format` writes: YYYY-MM-DDTHH:MM:SS(.fraction)Z.
        let scalars = Array(text.utf8)
        guard scalars.count >= 20 else { return nil }
        func number(_ from: Int, _ count: Int) -> Int32? {
            Int32(String(decoding: scalars[from..<(from + count)], as: UTF8.self))
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2)
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let seconds = Int64(timegm(&parts))
        var nanos: Int64 = 0
        if scalars.count > 20, scalars[19] == UInt8(ascii: ".") {
            let digits = scalars[20...].prefix { $0 >= 48 && $0 <= 57 }
            let padded = String(decoding: digits.prefix(9), as: UTF8.self)
            nanos = Int64(padded + String(repeating: "0", count: 9 - padded.count)) ?? 0
        }
        return seconds * 1_000_000_000 + nanos
    }

    static func nowNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
