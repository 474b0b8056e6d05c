/// One encapsulated message located in the input.
struct RawMessage {
    /// The bytes the offsets below refer to.
    let input: [UInt8]
    let version: Int16
    let headerType: UInt8
    let header: FBTable?
    let bodyStart: Int
    let bodyLength: Int
    let metadataSize: Int
    /// Position right after the body.
    let end: Int
    let customMetadata: [ArrowKeyValue]
}

enum MessageHeader {
    static let schema: UInt8 = 1
    static let dictionaryBatch: UInt8 = 2
    static let recordBatch: UInt8 = 3
}

/// Reads the message starting at `pos` (encapsulated or legacy framing).
/// Returns nil at end of input or at an end-of-stream marker.
func readMessage(_ input: [UInt8], at pos: Int, end: Int) throws(ArrowError) -> RawMessage? {
    if pos >= end { return nil }
    if end - pos < 4 { throw ArrowError.invalid("truncated message length at byte \(pos)") }
    func i32(_ p: Int) -> Int32 {
        input.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: p, as: Int32.self)) }
    }
    var prefix = 4
    var len = i32(pos)
    if len == -1 {
        if end - pos < 8 {
            if end - pos == 4 { return nil }  // marker alone at the very end
            throw ArrowError.invalid("truncated message length at byte \(pos)")
        }
        len = i32(pos + 4)
        prefix = 8
    }
    if len == 0 { return nil }
    if len < 0 { throw ArrowError.invalid("negative message metadata length \(len) at byte \(pos)") }
    let metaStart = pos + prefix
    let metaSize = Int(len)
    if metaSize > end - metaStart {
        throw ArrowError.invalid("message metadata of \(metaSize) bytes at byte \(pos) runs past the end of the input (\(end - metaStart) bytes left)")
    }
    let r = FBReader(bytes: input, base: metaStart, size: metaSize)
    let msg = try r.root()
    let version = try msg.int(0, Int16.self, 0)
    if version < 3 { throw ArrowError.unsupported("old metadata version V\(version + 1) (only V4 and V5 are supported)") }
    if version > 4 { throw ArrowError.unsupported("future metadata version \(version) (only V4 and V5 are supported)") }
    let headerType = try msg.int(1, UInt8.self, 0)
    let header = try msg.table(2)
    let bodyLength = try nonNegative(try msg.int(3, Int64.self, 0), "message body length")
    let bodyStart = metaStart + metaSize
    if bodyLength > end - bodyStart {
        throw ArrowError.invalid("message body of \(bodyLength) bytes at byte \(bodyStart) runs past the end of the input (\(end - bodyStart) bytes left)")
    }
    return RawMessage(input: input, version: version, headerType: headerType, header: header, bodyStart: bodyStart,
                      bodyLength: bodyLength, metadataSize: prefix + metaSize, end: bodyStart + bodyLength,
                      customMetadata: try msg.keyValues(4))
}

/// Decoding state shared by the stream and file readers.
struct IPCDecoder {
    let options: ArrowReadOptions
    var schema: ArrowSchema?
    var dictionaryFields: [Int64: ArrowField] = [:]
    var dictionaries: [Int64: ArrowDictionary] = [:]
    var batches: [RecordBatch] = []
    var version: Int16 = -1
    let forbidReplacement: Bool

    init(options: ArrowReadOptions, forbidReplacement: Bool) {
        self.options = options
        self.forbidReplacement = forbidReplacement
    }

    mutating func setSchema(_ t: FBTable, metadataSize: Int) throws(ArrowError) {
        var dec = SchemaDecoder(metadataSize: metadataSize, maxDepth: options.maxNestingDepth)
        let s = try dec.schema(t)
        schema = s
        dictionaryFields = [:]
        try collectDictionaries(s.fields)
        try checkDictionaryCycles()
    }

    /// A dictionary whose values (transitively) use its own id would let every
    /// replacement reference the previous one: reject such schemas.
    func checkDictionaryCycles() throws(ArrowError) {
        func ids(_ fields: [ArrowField], _ out: inout Set<Int64>) {
            for f in fields {
                if let d = f.dictionary { out.insert(d.id) }
                ids(f.type.children, &out)
            }
        }
        var edges: [Int64: Set<Int64>] = [:]
        for (id, f) in dictionaryFields {
            var used = Set<Int64>()
            ids(f.type.children, &used)
            edges[id] = used
        }
        var state: [Int64: Int] = [:]  // 1 = visiting, 2 = done
        func visit(_ id: Int64, _ depth: Int) -> Bool {
            if state[id] == 2 { return true }
            if state[id] == 1 || depth > 1000 { return false }
            state[id] = 1
            for next in edges[id] ?? [] where !visit(next, depth + 1) { return false }
            state[id] = 2
            return true
        }
        for id in edges.keys where !visit(id, 0) {
            throw ArrowError.invalid("dictionary \(id) is used (directly or indirectly) inside its own values")
        }
    }

    mutating func collectDictionaries(_ fields: [ArrowField]) throws(ArrowError) {
        for f in fields {
            if let enc = f.dictionary {
                var valueField = f
                valueField.dictionary = nil
                if let existing = dictionaryFields[enc.id] {
                    if existing.type != valueField.type {
                        throw ArrowError.invalid("dictionary id \(enc.id) is used with two different value types")
                    }
                } else {
                    dictionaryFields[enc.id] = valueField
                }
            }
            try collectDictionaries(f.type.children)
        }
    }

    var bigEndian: Bool { schema?.endianness == .big }

    mutating func handle(_ m: RawMessage) throws(ArrowError) {
        if version < 0 { version = m.version }
        switch m.headerType {
        case MessageHeader.schema:
            throw ArrowError.invalid("a second Schema message appeared in the stream")
        case MessageHeader.dictionaryBatch:
            guard let h = m.header else { throw ArrowError.invalid("DictionaryBatch message without header") }
            try readDictionary(h, m)
        case MessageHeader.recordBatch:
            guard let h = m.header else { throw ArrowError.invalid("RecordBatch message without header") }
            batches.append(try readBatch(h, m))
        case 0:
            throw ArrowError.invalid("message without header (type NONE)")
        case 4, 5:
            throw ArrowError.unsupported("tensor messages")
        default:
            throw ArrowError.invalid("unknown message header type \(m.headerType)")
        }
    }

    mutating func readDictionary(_ h: FBTable, _ m: RawMessage) throws(ArrowError) {
        let id = try h.int(0, Int64.self, 0)
        guard let data = try h.table(1) else { throw ArrowError.invalid("DictionaryBatch.data is missing") }
        let isDelta = try h.bool(2, false)
        guard let field = dictionaryFields[id] else {
            throw ArrowError.invalid("DictionaryBatch for id \(id), which no schema field uses")
        }
        let length = try nonNegative(try data.int(0, Int64.self, 0), "dictionary length")
        var loader = try BatchLoader(input: m.input, bodyStart: m.bodyStart, bodyLength: m.bodyLength, batch: data,
                                     version: m.version, bigEndian: bigEndian, dictionaries: dictionaries, options: options)
        let cols = try loader.loadColumns([field], length: length)
        guard let col = cols.first else { throw ArrowError.invalid("empty dictionary batch") }
        if isDelta {
            guard let existing = dictionaries[id] else {
                throw ArrowError.invalid("delta DictionaryBatch for id \(id) before its initial dictionary")
            }
            dictionaries[id] = existing.appending(col)
        } else {
            if forbidReplacement && dictionaries[id] != nil {
                throw ArrowError.invalid("dictionary replacement for id \(id) is not allowed in the IPC file format")
            }
            dictionaries[id] = ArrowDictionary(chunks: [col])
        }
    }

    mutating func readBatch(_ h: FBTable, _ m: RawMessage) throws(ArrowError) -> RecordBatch {
        guard let schema else { throw ArrowError.invalid("RecordBatch before the Schema") }
        let length = try nonNegative(try h.int(0, Int64.self, 0), "record batch length")
        var loader = try BatchLoader(input: m.input, bodyStart: m.bodyStart, bodyLength: m.bodyLength, batch: h,
                                     version: m.version, bigEndian: bigEndian, dictionaries: dictionaries, options: options)
        let cols = try loader.loadColumns(schema.fields, length: length)
        return RecordBatch(uncheckedSchema: schema, columns: cols, rowCount: length)
    }
}

/// Reading Arrow IPC data: stream (`.arrows`) and file (`.arrow`, "ARROW1") formats.
public enum ArrowIPC {
    static let magic: [UInt8] = Array("ARROW1".utf8)

    /// True when `bytes` start with the file-format magic "ARROW1".
    public static func isFileFormat(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 6 && bytes[0..<6].elementsEqual(magic)
    }

    /// Reads a whole stream or file (detected by the "ARROW1" magic).
    public static func read(_ bytes: [UInt8], options: ArrowReadOptions = .init()) throws(ArrowError) -> ArrowTable {
        isFileFormat(bytes) ? try readFile(bytes, options: options) : try readStream(bytes, options: options)
    }

    /// Reads the IPC stream format (legacy pre-0.15 framing accepted).
    public static func readStream(_ bytes: [UInt8], options: ArrowReadOptions = .init()) throws(ArrowError) -> ArrowTable {
        var dec = IPCDecoder(options: options, forbidReplacement: false)
        guard let first = try readMessage(bytes, at: 0, end: bytes.count) else {
            throw ArrowError.invalid("empty stream: no Schema message")
        }
        guard first.headerType == MessageHeader.schema, let h = first.header else {
            throw ArrowError.invalid("stream does not start with a Schema message (header type \(first.headerType))")
        }
        dec.version = first.version
        try dec.setSchema(h, metadataSize: first.metadataSize)
        var pos = first.end
        while let m = try readMessage(bytes, at: pos, end: bytes.count) {
            try dec.handle(m)
            pos = m.end
        }
        guard let schema = dec.schema else { throw ArrowError.invalid("no schema") }
        return ArrowTable(schema: schema, batches: dec.batches, format: .stream, metadataVersion: Int(dec.version) + 1)
    }

    /// Reads the IPC file format via its footer.
    public static func readFile(_ bytes: [UInt8], options: ArrowReadOptions = .init()) throws(ArrowError) -> ArrowTable {
        let n = bytes.count
        guard n >= 18, isFileFormat(bytes), bytes[(n - 6)..<n].elementsEqual(magic) else {
            throw ArrowError.invalid("not an Arrow IPC file (missing ARROW1 magic at start or end, or too short)")
        }
        let footerSize = bytes.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: n - 10, as: Int32.self)) }
        guard footerSize > 0, Int(footerSize) <= n - 18 else {
            throw ArrowError.invalid("invalid footer size \(footerSize) in a \(n)-byte file")
        }
        let footerStart = n - 10 - Int(footerSize)
        let footer = try FBReader(bytes: bytes, base: footerStart, size: Int(footerSize)).root()
        guard let schemaTable = try footer.table(1) else { throw ArrowError.invalid("file footer has no schema") }
        var dec = IPCDecoder(options: options, forbidReplacement: true)
        try dec.setSchema(schemaTable, metadataSize: Int(footerSize))
        dec.version = try footer.int(0, Int16.self, 4)
        func block(_ v: FBVector, _ i: Int, _ what: String) throws(ArrowError) -> RawMessage {
            let off = try v.scalar(i, field: 0, Int64.self)
            let metaLen = try v.scalar(i, field: 8, Int32.self)
            let bodyLen = try v.scalar(i, field: 16, Int64.self)
            guard off >= 8, metaLen > 0, bodyLen >= 0, off <= Int64(footerStart),
                  Int64(metaLen) <= Int64(footerStart) - off,
                  bodyLen <= Int64(footerStart) - off - Int64(metaLen) else {
                throw ArrowError.invalid("invalid Block in IPC file footer (\(what) \(i): offset \(off), metadata \(metaLen), body \(bodyLen))")
            }
            let start = Int(off), limit = Int(off) + Int(metaLen) + Int(bodyLen)
            guard let m = try readMessage(bytes, at: start, end: limit) else {
                throw ArrowError.invalid("empty message where a \(what) was expected (block \(i))")
            }
            if m.metadataSize > Int(metaLen) {
                throw ArrowError.invalid("message metadata too long by \(m.metadataSize - Int(metaLen)) bytes for its footer Block")
            }
            // The body follows the block's metadata length (which may include padding).
            let bodyStart = start + Int(metaLen)
            if m.bodyLength > limit - bodyStart {
                throw ArrowError.invalid("message body runs past its footer Block")
            }
            return RawMessage(input: bytes, version: m.version, headerType: m.headerType, header: m.header, bodyStart: bodyStart,
                              bodyLength: m.bodyLength, metadataSize: m.metadataSize, end: bodyStart + m.bodyLength,
                              customMetadata: m.customMetadata)
        }
        if let dicts = try footer.vector(2, elementSize: 24) {
            for i in 0..<dicts.count {
                let m = try block(dicts, i, "dictionary batch")
                guard m.headerType == MessageHeader.dictionaryBatch else {
                    throw ArrowError.invalid("footer dictionary block \(i) is not a DictionaryBatch")
                }
                try dec.handle(m)
            }
        }
        if let recs = try footer.vector(3, elementSize: 24) {
            for i in 0..<recs.count {
                let m = try block(recs, i, "record batch")
                guard m.headerType == MessageHeader.recordBatch else {
                    throw ArrowError.invalid("footer record batch block \(i) is not a RecordBatch")
                }
                try dec.handle(m)
            }
        }
        guard let schema = dec.schema else { throw ArrowError.invalid("no schema") }
        return ArrowTable(schema: schema, batches: dec.batches, format: .file, metadataVersion: Int(dec.version) + 1,
                          footerMetadata: try footer.keyValues(4))
    }
}
