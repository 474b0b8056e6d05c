/// A value a processor takes: one of the port types (or a choice of them), taken out of a
/// message's payload by the runtime.
public protocol PortValue: Sendable {
    /// The port types this value arrives as; the loader checks edges against it.
    static var accepted: InputPorts { get }
    /// The value in `payload`, nil when it holds another type (the loader rules that out).
    init?(_ payload: Payload)
}

extension Payload: PortValue {
    public static var accepted: InputPorts { .any }
    public init?(_ payload: Payload) { self = payload }
}

extension Record: PortValue {
    public static var accepted: InputPorts { .oneOf([.record]) }
    public init?(_ payload: Payload) {
        guard case .record(let record) = payload else { return nil }
        self = record
    }
}

extension ArrowData: PortValue {
    public static var accepted: InputPorts { .oneOf([.arrow]) }
    public init?(_ payload: Payload) {
        guard case .arrow(let data) = payload else { return nil }
        self = data
    }
}

extension Job: PortValue {
    public static var accepted: InputPorts { .oneOf([.job]) }
    public init?(_ payload: Payload) {
        guard case .job(let job) = payload else { return nil }
        self = job
    }
}

extension JobResult: PortValue {
    public static var accepted: InputPorts { .oneOf([.result]) }
    public init?(_ payload: Payload) {
        guard case .result(let result) = payload else { return nil }
        self = result
    }
}

/// A record, or a job's result (which carries the record that produced the job): what a node
/// that renders the next step of a chain takes.
public enum RecordOrResult: PortValue {
    case record(Record)
    case result(JobResult)

    public static var accepted: InputPorts { .oneOf([.record, .result]) }
    public init?(_ payload: Payload) {
        switch payload {
        case .record(let record): self = .record(record)
        case .result(let result): self = .result(result)
        default: return nil
        }
    }
}
