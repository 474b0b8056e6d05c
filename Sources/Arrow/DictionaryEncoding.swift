/// Dictionary encoding of a field: the column stores integer indices into a dictionary
/// (sent in DictionaryBatch messages with this `id`) of the field's value type.
public struct DictionaryEncoding: Sendable, Hashable {
    public var id: Int64
    /// One of the integer types (int32 by default).
    public var indexType: ArrowType
    public var isOrdered: Bool
    public init(id: Int64, indexType: ArrowType = .int32, isOrdered: Bool = false) {
        self.id = id
        self.indexType = indexType
        self.isOrdered = isOrdered
    }
}
