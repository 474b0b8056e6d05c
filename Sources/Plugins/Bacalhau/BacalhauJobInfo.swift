import Engine
/// What `GET /jobs/{id}?include=executions` says about a job, read from the JSON.
public struct BacalhauJobInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    public var namespace: String
    public var type: String
    /// `Job.State.StateType`: Pending, Queued, Running, Completed, Failed, Stopped.
    public var state: String
    public var stateMessage: String
    public var version: Int64
    /// Unix nanoseconds.
    public var createTime: Int64
    public var modifyTime: Int64
    public var labels: Record
    public var meta: Record
    public var executions: [BacalhauExecution]

    public static let terminalStates: Set<String> = ["Completed", "Failed", "Stopped"]
    public var isTerminal: Bool { Self.terminalStates.contains(state) }

    /// Reads `{"Job": {...}, "Executions": {"Items": [...]}}` (or a bare Job object).
    init?(response: Value) {
        let jobValue = response["Job"] ?? response
        guard let job = jobValue.recordValue, let id = job["ID"]?.stringValue, !id.isEmpty else { return nil }
        self.id = id
        name = job["Name"]?.stringValue ?? id
        namespace = job["Namespace"]?.stringValue ?? ""
        type = job["Type"]?.stringValue ?? ""
        let stateRecord = job["State"]?.recordValue
        // JobStateType is a string on the wire; accept the integer form too, defensively.
        switch stateRecord?["StateType"] {
        case .string(let s)?: state = s
        case .int(let i)?: state = Self.jobStateNames[Int(i)] ?? "Undefined"
        default: state = "Undefined"
        }
        stateMessage = stateRecord?["Message"]?.stringValue ?? ""
        version = job["Version"]?.intValue ?? 0
        createTime = job["CreateTime"]?.intValue ?? 0
        modifyTime = job["ModifyTime"]?.intValue ?? 0
        labels = job["Labels"]?.recordValue ?? Record()
        meta = job["Meta"]?.recordValue ?? Record()
        let items = response["Executions"]?["Items"]?.listValue ?? []
        executions = items.compactMap(BacalhauExecution.init(value:))
    }

    static let jobStateNames = [0: "Undefined", 1: "Pending", 2: "Queued", 3: "Running", 4: "Completed",
                                5: "Failed", 6: "Stopped"]

    /// Executions of the job's current version (older versions' executions are history).
    public var currentExecutions: [BacalhauExecution] {
        let current = executions.filter { $0.jobVersion == 0 || $0.jobVersion == version }
        return current.isEmpty ? executions : current
    }
}

/// One execution of a job on a compute node.
public struct BacalhauExecution: Sendable, Equatable {
    public var id: String
    public var nodeID: String
    public var jobVersion: Int64
    /// `ComputeState.StateType`, an integer on the wire (see `stateNames`).
    public var computeState: Int
    public var computeMessage: String
    public var desiredState: Int
    public var exitCode: Int64?
    public var stdout: String
    public var stderr: String
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
    public var errorMessage: String
    public var publishedResult: Value?
    public var createTime: Int64
    public var modifyTime: Int64

    public static let stateNames = [
        0: "Undefined", 1: "New", 2: "AskForBid", 3: "AskForBidAccepted", 4: "AskForBidRejected",
        5: "BidAccepted", 6: "Running", 7: "Publishing", 8: "BidRejected", 9: "Completed", 10: "Failed",
        11: "Cancelled",
    ]
    public static let completed = 9
    public static let failed = 10

    public var stateName: String { Self.stateNames[computeState] ?? "State\(computeState)" }

    init?(value: Value) {
        guard let record = value.recordValue, let id = record["ID"]?.stringValue else { return nil }
        self.id = id
        nodeID = record["NodeID"]?.stringValue ?? ""
        jobVersion = record["JobVersion"]?.intValue ?? 0
        computeState = Int(record["ComputeState"]?["StateType"]?.intValue ?? 0)
        computeMessage = record["ComputeState"]?["Message"]?.stringValue ?? ""
        desiredState = Int(record["DesiredState"]?["StateType"]?.intValue ?? 0)
        let run = record["RunOutput"]?.recordValue
        exitCode = run?["ExitCode"]?.intValue
        // RunOutput's keys: `Stdout` but lowercase `stderr` (API.md §1); accept either case.
        stdout = run?["Stdout"]?.stringValue ?? run?["stdout"]?.stringValue ?? ""
        stderr = run?["stderr"]?.stringValue ?? run?["Stderr"]?.stringValue ?? ""
        stdoutTruncated = run?["StdoutTruncated"]?.boolValue ?? false
        stderrTruncated = run?["StderrTruncated"]?.boolValue ?? false
        errorMessage = run?["ErrorMsg"]?.stringValue ?? ""
        if let published = record["PublishedResult"], published["Type"]?.stringValue?.isEmpty == false {
            publishedResult = published
        }
        createTime = record["CreateTime"]?.intValue ?? 0
        modifyTime = record["ModifyTime"]?.intValue ?? 0
    }

    /// The execution as a record for the job result.
    var record: Record {
        Record([
            ("id", .string(id)), ("node_id", .string(nodeID)), ("state", .string(stateName)),
            ("state_code", .int(Int64(computeState))), ("message", .string(computeMessage)),
            ("exit_code", exitCode.map(Value.int) ?? .null), ("stdout", .string(stdout)), ("stderr", .string(stderr)),
            ("stdout_truncated", .bool(stdoutTruncated)), ("stderr_truncated", .bool(stderrTruncated)),
            ("error", .string(errorMessage)),
        ])
    }
}
