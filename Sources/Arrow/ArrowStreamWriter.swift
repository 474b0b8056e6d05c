/// Encodes the IPC stream format (`.arrows`): schema, dictionaries, batches, EOS.
public enum ArrowStreamWriter {
    public static func encode(schema: ArrowSchema, batches: [RecordBatch],
                              options: ArrowWriteOptions = .init()) throws(ArrowError) -> [UInt8] {
        var encoder = ArrowStreamEncoder(schema: schema, options: options, fileFormat: false)
        return try encoder.encodeAll(batches)
    }
}

extension ArrowStreamEncoder {
    /// Everything in one buffer: the start, each batch, the end (the writers' common body).
    mutating func encodeAll(_ batches: [RecordBatch]) throws(ArrowError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(batches.reduce(4096) { $0 + Self.estimateSize($1.columns) })
        out += start()
        for batch in batches { try encode(batch, into: &out) }
        out += finish()
        return out
    }
}
