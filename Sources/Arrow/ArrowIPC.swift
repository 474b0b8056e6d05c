// HyphaArrow — Hypha's own Arrow IPC codec, hand-written in pure Swift by design (no Swift
// Arrow library is used; see ArrowError.swift and docs/ARROW.md).

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
