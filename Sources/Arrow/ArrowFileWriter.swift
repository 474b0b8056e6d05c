/// Encodes the IPC file format (`.arrow`): magic, stream, footer, magic.
public enum ArrowFileWriter {
    public static func encode(schema: ArrowSchema, batches: [RecordBatch],
                              options: ArrowWriteOptions = .init()) throws(ArrowError) -> [UInt8] {
        var opts = options
        opts.legacyFraming = false
        var encoder = ArrowStreamEncoder(schema: schema, options: opts, fileFormat: true)
        return try encoder.encodeAll(batches)
    }
}
