import Foundation

/// The body of a message: exactly one value of one of the port types.
public enum Payload: Sendable {
    case arrow(ArrowData)
    case record(Record)
    case job(Job)
    case result(JobResult)

    public var portType: PortType {
        switch self {
        case .arrow: .arrow
        case .record: .record
        case .job: .job
        case .result: .result
        }
    }

    /// The payload as a single value, for templates and for the capture sink.
    public var value: Value {
        switch self {
        case .arrow(let data): .map(Record([("arrow_rows", data.rowCount.map { .int(Int64($0)) } ?? .null)]))
        case .record(let record): .map(record)
        case .job(let job): job.value
        case .result(let result): .map(result.record)
        }
    }

    /// The payload as one JSON line, `{"type": PORT, "value": ...}`: what the capture sink writes
    /// and `hypha tap` prints for a job or a result.
    public var typedJSON: String {
        Value.map(Record([("type", .string(portType.rawValue)), ("value", value)])).json
    }
}

/// A payload on its way through the DAG, with the acknowledgement that tells its
/// source when every sink downstream has finished with it.
public struct Message: Sendable {
    public var payload: Payload
    public let ack: Acknowledgement

    public init(_ payload: Payload, ack: Acknowledgement) {
        self.payload = payload
        self.ack = ack
    }
}
