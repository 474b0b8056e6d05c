/// Why a processor failed a message. The runtime says which node: the reason says what
/// happened to this message and, where it helps, what to do. `location` points into a file
/// the user wrote (a job template's placeholder) when the failure started there.
public struct MessageFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var location: SourceLocation?

    public init(_ reason: String, at location: SourceLocation? = nil) {
        self.reason = reason
        self.location = location
    }

    public var description: String {
        location.map { "\($0): \(reason)" } ?? reason
    }
}
