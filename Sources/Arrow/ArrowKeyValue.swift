/// Key/value pair of custom metadata (order and duplicates preserved).
public struct ArrowKeyValue: Sendable, Hashable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}
