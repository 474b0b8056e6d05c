/// A rendered job spec (a Bacalhau `Job` object) plus where it came from.
public struct Job: Sendable {
    /// The job's `Name`: deterministic per workflow, node and input.
    public var name: String
    /// The whole spec, as Bacalhau's `Job` object (`Name`, `Type`, `Count`, `Tasks`, ...).
    public var spec: Record
    /// The template node that rendered it.
    public var renderedBy: String
    /// The record that produced the job (a file record, or a previous job's result).
    public var input: Record

    public init(name: String, spec: Record, renderedBy: String, input: Record) {
        self.name = name
        self.spec = spec
        self.renderedBy = renderedBy
        self.input = input
    }

    public var value: Value {
        .map(Record([("name", .string(name)), ("spec", .map(spec)), ("rendered_by", .string(renderedBy)),
                     ("input", .map(input))]))
    }
}

/// How a job ended, in a result. Only completed jobs make results: a job that fails or is
/// stopped fails its message instead.
public enum JobState: String, Sendable {
    case completed = "Completed"
}

/// The outcome of a job, with the record that produced it so the next template can use it.
public struct JobResult: Sendable {
    public var job: Job
    public var state: JobState
    /// Fields the executor reports: `id`, `exit_code`, `duration`, `stdout`, `stderr`, log paths,
    /// outputs. Each executor documents its own.
    public var details: Record

    public init(job: Job, state: JobState, details: Record) {
        self.job = job
        self.state = state
        self.details = details
    }

    /// The result as one record: `name`, `state`, the executor's details, and `record`, the
    /// record that produced the job.
    public var record: Record {
        var r = Record([("name", .string(job.name)), ("state", .string(state.rawValue))])
        for (name, value) in details.fields { r[name] = value }
        r["record"] = .map(job.input)
        return r
    }
}

extension Record {
    /// The file a record is about, as far as its fields tell: its `path`, or the `path` of the
    /// record it carries (a job result's `record`).
    public var sourceFile: String? {
        self["path"]?.stringValue ?? self["record"]?["path"]?.stringValue
    }
}

extension Payload {
    /// The file this message came from, as far as its fields tell (not for Arrow messages).
    public var sourceFile: String? {
        switch self {
        case .record(let record): record.sourceFile
        case .job(let job): job.input.sourceFile
        case .result(let result): result.job.input.sourceFile
        case .arrow: nil
        }
    }
}
