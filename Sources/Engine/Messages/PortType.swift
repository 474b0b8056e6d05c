/// The closed set of message types that flow on a workflow's edges.
public enum PortType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Arrow IPC stream bytes: a schema plus record batches.
    case arrow
    /// One row of named, typed values.
    case record
    /// A rendered job spec plus where it came from.
    case job
    /// The outcome of a job.
    case result

    public var description: String { rawValue }
}

/// What a plugin accepts on its input.
public enum InputPorts: Sendable, Equatable, CustomStringConvertible {
    /// A source: no input.
    case none
    /// Any of these types.
    case oneOf([PortType])
    /// Every type (capture-style sinks).
    case any

    public func accepts(_ type: PortType) -> Bool {
        switch self {
        case .none: false
        case .oneOf(let types): types.contains(type)
        case .any: true
        }
    }

    public var description: String {
        switch self {
        case .none: "-"
        case .oneOf(let types): types.map(\.rawValue).joined(separator: "|")
        case .any: "any"
        }
    }
}
