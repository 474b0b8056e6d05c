public struct ArrowField: Sendable, Hashable {
    public var name: String
    /// The logical type (for a dictionary-encoded field: the dictionary's value type).
    public var type: ArrowType
    public var nullable: Bool
    public var dictionary: DictionaryEncoding?
    public var metadata: [ArrowKeyValue]

    public init(name: String, type: ArrowType, nullable: Bool = true,
                dictionary: DictionaryEncoding? = nil, metadata: [ArrowKeyValue] = []) {
        self.name = name
        self.type = type
        self.nullable = nullable
        self.dictionary = dictionary
        self.metadata = metadata
    }
}
