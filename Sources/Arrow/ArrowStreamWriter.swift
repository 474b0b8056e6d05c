/// Encodes the IPC stream format (`.arrows`): schema, dictionaries, batches, EOS.
public enum ArrowStreamWriter {
    public static func encode(schema: ArrowSchema, batches: [RecordBatch],
                              options: ArrowWriteOptions = .init()) throws(ArrowError) -> [UInt8] {
        var enc = ArrowStreamEncoder(schema: schema, options: options, fileFormat: false)
        var out: [UInt8] = []
        out.reserveCapacity(batches.reduce(4096) { $0 + ArrowStreamEncoder.estimateSize($1.columns) })
        out += enc.start()
        for b in batches { try enc.encode(b, into: &out) }
        out += enc.finish()
        return out
    }
}
