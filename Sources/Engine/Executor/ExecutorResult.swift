/// The result record every executor emits, described once: its fields (which `hypha plugins`
/// lists and the loader checks templates against) and how they are filled.
///
/// A result's record is `name`, `state`, the fields below, the executor's own extra fields,
/// and `record` (the record that produced the job).
public struct ExecutorResult: Sendable {
    /// The fields every executor fills and their types, in order.
    public static let commonSchema: [RecordField] = [
        RecordField("id", .string), RecordField("executor", .string), RecordField("exit_code", .int),
        RecordField("duration", .float), RecordField("stdout", .string), RecordField("stderr", .string),
        RecordField("stdout_path", .string), RecordField("stderr_path", .string),
    ]

    /// The fields and types of a result record of an executor with `extra` fields: what its
    /// spec's `outputSchema` should say. `record` (the job's input) is a map; the loader fills
    /// in its fields where the template node's input is known.
    public static func schema(extra: [RecordField] = []) -> [RecordField] {
        [RecordField("name", .string), RecordField("state", .string)] + commonSchema + extra + [RecordField("record", .map)]
    }

    /// The executor's id for the job (a process's job name, Bacalhau's job id).
    public var id: String
    /// The executor's plugin name.
    public var executor: String
    public var exitCode: Int64?
    public var duration: Duration
    /// The tails of the job's output.
    public var stdout: String
    public var stderr: String
    /// The log files (`JobLogs`), nil for a stream that was empty.
    public var stdoutPath: String?
    public var stderrPath: String?

    public init(id: String, executor: String, exitCode: Int64?, duration: Duration, stdout: String, stderr: String,
                stdoutPath: String?, stderrPath: String?) {
        self.id = id
        self.executor = executor
        self.exitCode = exitCode
        self.duration = duration
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
    }

    /// The common fields, then `extra` (the executor's own, declared in its `schema(extra:)`).
    public func details(extra: [(String, Value)] = []) -> Record {
        Record([
            ("id", .string(id)), ("executor", .string(executor)),
            ("exit_code", exitCode.map(Value.int) ?? .null), ("duration", .float(duration.inSeconds)),
            ("stdout", .string(stdout)), ("stderr", .string(stderr)),
            ("stdout_path", stdoutPath.map(Value.string) ?? .null), ("stderr_path", stderrPath.map(Value.string) ?? .null),
        ] + extra)
    }

    /// The last lines of a job's stderr for a failure message: `": a | b | c"`, or "".
    public static func excerpt(_ stderr: String) -> String {
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: true).suffix(3)
        return lines.isEmpty ? "" : ": " + lines.joined(separator: " | ")
    }
}
