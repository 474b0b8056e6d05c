/// Encodes the IPC file format (`.arrow`): magic, stream, footer, magic.
public enum ArrowFileWriter {
    public static func encode(schema: ArrowSchema, batches: [RecordBatch],
                              options: ArrowWriteOptions = .init()) throws(ArrowError) -> [UInt8] {
        var opts = options
        opts.legacyFraming = false
        var enc = ArrowStreamEncoder(schema: schema, options: opts, fileFormat: true)
        var out: [UInt8] = []
        out.reserveCapacity(batches.reduce(4096) { $0 + ArrowStreamEncoder.estimateSize($1.columns) })
        out += enc.start()
        for b in batches { try enc.encode(b, into: &out) }
        out += enc.finish()
        return out
    }
}
