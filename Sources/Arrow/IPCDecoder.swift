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
