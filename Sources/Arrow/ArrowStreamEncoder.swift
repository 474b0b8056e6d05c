/// Position of one message in the output (for the file footer).
struct WrittenBlock {
    let offset: Int
    let metadataLength: Int
    let bodyLength: Int
}

/// Incremental IPC encoder: schema, then batches (dictionaries emitted as needed), then
/// `finish()`. Used by `ArrowStreamWriter` and `ArrowFileWriter`; also usable directly
/// to stream batches out as they are produced.
public struct ArrowStreamEncoder: Sendable {
    public let schema: ArrowSchema
    public let options: ArrowWriteOptions
    let fileFormat: Bool
    /// Bytes emitted so far (stream: everything; file: includes the leading magic).
    private(set) var position = 0
    private(set) var dictionaryBlocks: [WrittenBlock] = []
    private(set) var recordBlocks: [WrittenBlock] = []
    private var emitted: [Int64: ArrowDictionary] = [:]
    private var started = false

    public init(schema: ArrowSchema, options: ArrowWriteOptions = .init()) {
        self.schema = schema
        self.options = options
        self.fileFormat = false
    }

    init(schema: ArrowSchema, options: ArrowWriteOptions, fileFormat: Bool) {
        self.schema = schema
        self.options = options
        self.fileFormat = fileFormat
    }

    var version: Int16 { options.metadataV4 ? 3 : 4 }

    /// The schema message (and, for files, the leading magic). Called automatically by
    /// the first `encode(_:)` if not called before.
    public mutating func start() -> [UInt8] {
        if started { return [] }
        started = true
        var out: [UInt8] = []
        if fileFormat {
            out = ArrowIPC.magic + [0, 0]
            position = 8
        }
        let meta = MetadataEncoder.message(headerType: MessageHeader.schema, header: MetadataEncoder.schema(schema),
                                           bodyLength: 0, version: version)
        appendMessage(&out, meta, body: nil)
        return out
    }

    /// Messages for one batch: any new or changed dictionaries, then the record batch.
    public mutating func encode(_ batch: RecordBatch) throws(ArrowError) -> [UInt8] {
        var out: [UInt8] = []
        try encode(batch, into: &out)
        return out
    }

    /// Like `encode(_:)`, appending to `out` (no intermediate copy of the body).
    public mutating func encode(_ batch: RecordBatch, into out: inout [UInt8]) throws(ArrowError) {
        out += start()
        guard batch.columns.count == schema.fields.count else {
            throw ArrowError.mismatch("batch has \(batch.columns.count) columns, the schema \(schema.fields.count)")
        }
        for (f, c) in zip(schema.fields, batch.columns) {
            if c.type != f.type {
                throw ArrowError.mismatch("column '\(f.name)' has type \(c.type), the schema says \(f.type)")
            }
            if c.dictionaryEncoding != f.dictionary {
                throw ArrowError.mismatch("column '\(f.name)': dictionary encoding \(String(describing: c.dictionaryEncoding)) differs from the schema's \(String(describing: f.dictionary))")
            }
        }
        var pending: [Int64: ArrowDictionary] = [:]
        for c in batch.columns { try emitDictionaries(c, &out, &pending) }
        var body = BodyWriter(compression: options.compression, metadataV4: options.metadataV4)
        for c in batch.columns { try body.write(c) }
        let header = MetadataEncoder.recordBatch(length: batch.rowCount, body: body)
        let meta = MetadataEncoder.message(headerType: MessageHeader.recordBatch, header: header,
                                           bodyLength: body.size, version: version)
        out.reserveCapacity(out.count + meta.count + body.size + 16)
        let block = appendMessage(&out, meta, body: body)
        recordBlocks.append(block)
    }

    /// End-of-stream marker (stream) or EOS + footer + magic (file).
    public mutating func finish() -> [UInt8] {
        var out = start()
        let eos: [UInt8] = options.legacyFraming ? [0, 0, 0, 0] : [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        out += eos
        position += eos.count
        if fileFormat {
            func blocks(_ bs: [WrittenBlock]) -> FBNode {
                var bytes: [UInt8] = []
                for b in bs {
                    bytes.appendLE(Int64(b.offset))
                    bytes.appendLE(Int32(b.metadataLength))
                    bytes.appendLE(Int32(0))
                    bytes.appendLE(Int64(b.bodyLength))
                }
                return .inlineVector(align: 8, count: bs.count, bytes: bytes)
            }
            var slots = [FBSlot(0, .i16(version)), FBSlot(1, .ref(MetadataEncoder.schema(schema))),
                         FBSlot(2, .ref(blocks(dictionaryBlocks))), FBSlot(3, .ref(blocks(recordBlocks)))]
            if !options.footerMetadata.isEmpty {
                slots.append(FBSlot(4, .ref(MetadataEncoder.keyValues(options.footerMetadata))))
            }
            let footer = FBBuilder.finish(.table(slots))
            out += footer
            out.appendLE(Int32(footer.count))
            out += ArrowIPC.magic
            position += footer.count + 10
        }
        return out
    }

    @discardableResult
    private mutating func appendMessage(_ out: inout [UInt8], _ meta: [UInt8], body: BodyWriter?) -> WrittenBlock {
        let offset = position
        let prefix = options.legacyFraming ? 4 : 8
        var padded = meta.count
        while (padded + prefix) % 8 != 0 { padded += 1 }
        if !options.legacyFraming { out.appendLE(UInt32(0xFFFF_FFFF)) }
        out.appendLE(Int32(padded))
        out += meta
        if padded > meta.count { out += [UInt8](repeating: 0, count: padded - meta.count) }
        body?.emit(into: &out)
        let bodySize = body?.size ?? 0
        position += prefix + padded + bodySize
        return WrittenBlock(offset: offset, metadataLength: prefix + padded, bodyLength: bodySize)
    }

    static func estimateSize(_ cols: [ArrowArray]) -> Int {
        func size(_ a: ArrowArray) -> Int {
            var s = a.values.count + a.data.count + (a.validity?.count ?? 0) + 64
            for v in a.variadic { s += v.count }
            for c in a.children { s += size(c) }
            return s
        }
        return cols.reduce(0) { $0 + size($1) }
    }

    /// Emits the dictionaries used by `a` (children first, so nested dictionaries precede
    /// the dictionaries that reference them).
    private mutating func emitDictionaries(_ a: ArrowArray, _ out: inout [UInt8],
                                           _ pending: inout [Int64: ArrowDictionary]) throws(ArrowError) {
        for c in a.children { try emitDictionaries(c, &out, &pending) }
        guard let enc = a.dictionaryEncoding, let dict = a.dictionary else { return }
        for chunk in dict.chunks { try emitDictionaries(chunk, &out, &pending) }
        if let p = pending[enc.id] {
            if p === dict { return }
            throw ArrowError.mismatch("two different dictionaries for id \(enc.id) in one batch")
        }
        pending[enc.id] = dict
        var firstNew = 0
        var delta = false
        let previous = emitted[enc.id]
        if let prev = previous {
            if prev === dict { return }
            if prev.chunks.count <= dict.chunks.count,
               zip(prev.chunks, dict.chunks).allSatisfy({ $0 === $1 }) {
                firstNew = prev.chunks.count
                delta = true
            } else if let extra = Self.valueExtension(prev, dict) {
                // Same leading values (e.g. rebuilt per batch by the row builder): send a delta.
                emitted[enc.id] = dict
                if extra.isEmpty { return }
                let chunk = try ArrowArray.build(ArrowField(name: "", type: a.type), extra)
                for c in chunk.children { try emitDictionaries(c, &out, &pending) }
                try emitDictionaryBatch(id: enc.id, chunk, isDelta: true, &out)
                return
            } else if fileFormat {
                throw ArrowError.unsupported("dictionary id \(enc.id) changes between batches; the IPC file format forbids dictionary replacement (use the stream format, or only append values)")
            }
        }
        emitted[enc.id] = dict
        for (k, chunk) in dict.chunks.enumerated() where k >= firstNew {
            try emitDictionaryBatch(id: enc.id, chunk, isDelta: delta || k > 0, &out)
        }
        if dict.chunks.isEmpty && previous == nil {
            // An empty dictionary still has to be announced.
            try emitDictionaryBatch(id: enc.id, try emptyArray(for: ArrowField(name: "", type: a.type)), isDelta: false, &out)
        }
    }

    private mutating func emitDictionaryBatch(id: Int64, _ chunk: ArrowArray, isDelta: Bool,
                                              _ out: inout [UInt8]) throws(ArrowError) {
        var body = BodyWriter(compression: options.compression, metadataV4: options.metadataV4)
        try body.write(chunk)
        let data = MetadataEncoder.recordBatch(length: chunk.length, body: body)
        var slots = [FBSlot(0, .i64(id)), FBSlot(1, .ref(data))]
        if isDelta { slots.append(FBSlot(2, .bool(true))) }
        let meta = MetadataEncoder.message(headerType: MessageHeader.dictionaryBatch, header: .table(slots),
                                           bodyLength: body.size, version: version)
        dictionaryBlocks.append(appendMessage(&out, meta, body: body))
    }

    /// Values `new` adds after `old` if `new` starts with exactly `old`'s values.
    static func valueExtension(_ old: ArrowDictionary, _ new: ArrowDictionary) -> [ArrowValue]? {
        guard old.count <= new.count else { return nil }
        for i in 0..<old.count where old.value(at: i) != new.value(at: i) { return nil }
        return (old.count..<new.count).map { new.value(at: $0) }
    }
}
