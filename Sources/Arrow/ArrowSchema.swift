public enum ArrowEndianness: Int16, Sendable, Hashable {
    case little = 0, big = 1
}

public struct ArrowSchema: Sendable, Hashable {
    public var fields: [ArrowField]
    public var metadata: [ArrowKeyValue]
    /// Endianness declared by the producer. Bodies are always byte-swapped to little
    /// endian when read, so arrays in memory are little endian whatever this says.
    public var endianness: ArrowEndianness

    public init(fields: [ArrowField], metadata: [ArrowKeyValue] = [],
                endianness: ArrowEndianness = .little) {
        self.fields = fields
        self.metadata = metadata
        self.endianness = endianness
    }

    /// Index of the first field with this name.
    public func index(of name: String) -> Int? {
        fields.firstIndex { $0.name == name }
    }
}
