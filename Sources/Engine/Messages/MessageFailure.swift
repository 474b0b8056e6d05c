/// Why a processor failed a message. The runtime says which node: the reason says what
/// happened to this message and, where it helps, what to do. `location` points into a file
/// the user wrote (a job template's placeholder) when the failure started there.
///
/// `logs` names the files to look at (a job's output); `interrupted` says the message was not
/// finished because Hypha is stopping (it is emitted again on the next start, not a dead letter).
public struct MessageFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var location: SourceLocation?
    public var logs: [String]
    public var interrupted: Bool

    public init(_ reason: String, at location: SourceLocation? = nil, logs: [String] = [], interrupted: Bool = false) {
        self.reason = reason
        self.location = location
        self.logs = logs
        self.interrupted = interrupted
    }

    public var description: String {
        location.map { "\($0): \(reason)" } ?? reason
    }
}
