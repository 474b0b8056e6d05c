/// Plans a message body: field nodes, buffer descriptors, and the list of byte ranges
/// (views into the arrays' buffers, or compressed copies) that `emit(into:)` later copies
/// straight into the output — one copy per buffer, in the pre-order walk of the IPC format.
struct BodyWriter {
    struct Piece {
        let buffer: ArrowBuffer
        let offset: Int
        let length: Int
        /// Compression length prefix (-1 = stored raw), nil when uncompressed.
        let prefix: Int64?
    }

    var nodes: [(Int, Int)] = []
    var buffers: [(Int, Int)] = []
    var variadicCounts: [Int] = []
    var hasViews = false
    var pieces: [Piece] = []
    /// Body size so far, including padding.
    var size = 0
    let compression: ArrowCompression?
    /// Metadata V4: unions and run-end encoded arrays carry an (empty) validity slot.
    let unionValiditySlot: Bool

    init(compression: ArrowCompression?, metadataV4: Bool = false) {
        self.compression = compression
        self.unionValiditySlot = metadataV4
    }

    mutating func emptyBuffer() {
        buffers.append((size, 0))
    }

    /// Adds bytes `[offset, offset+length)` of `buf` (zero-filled past its end).
    mutating func buffer(_ buf: ArrowBuffer, _ offset: Int = 0, _ length: Int) throws(ArrowError) {
        if length <= 0 { emptyBuffer(); return }
        var piece = Piece(buffer: buf, offset: offset, length: length, prefix: nil)
        if let codec = compression {
            let avail = Swift.max(0, Swift.min(length, buf.count - offset))
            var src = buf
            var srcOffset = offset
            if avail < length {  // materialise the zero-filled tail first
                var raw = [UInt8](repeating: 0, count: length)
                if avail > 0 { buf.withUnsafeBytes { p in for k in 0..<avail { raw[k] = p[offset + k] } } }
                src = ArrowBuffer(raw)
                srcOffset = 0
            }
            let compressed: Result<[UInt8], ArrowError> = src.withUnsafeBytes { p in
                Result { () throws(ArrowError) -> [UInt8] in
                    try Codec.compress(codec, UnsafeRawBufferPointer(rebasing: p[srcOffset..<(srcOffset + length)]))
                }
            }
            let c = try compressed.get()
            if c.count < length {
                piece = Piece(buffer: ArrowBuffer(c), offset: 0, length: c.count, prefix: Int64(length))
            } else {
                piece = Piece(buffer: src, offset: srcOffset, length: length, prefix: -1)
            }
        }
        let bytes = piece.length + (piece.prefix == nil ? 0 : 8)
        buffers.append((size, bytes))
        size += (bytes + 7) & ~7
        pieces.append(piece)
    }

    /// Appends the planned body (exactly `size` bytes) to `out`.
    func emit(into out: inout [UInt8]) {
        let start = out.count
        for p in pieces {
            if let prefix = p.prefix { out.appendLE(prefix) }
            let avail = Swift.max(0, Swift.min(p.length, p.buffer.count - p.offset))
            if avail > 0 {
                p.buffer.withUnsafeBytes { raw in
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[p.offset..<(p.offset + avail)]))
                }
            }
            let written = avail + (p.prefix == nil ? 0 : 8)
            let padded = ((p.length + (p.prefix == nil ? 0 : 8)) + 7) & ~7
            if padded > written { out.append(contentsOf: repeatElement(0, count: padded - written)) }
        }
        let missing = size - (out.count - start)
        if missing > 0 { out.append(contentsOf: repeatElement(0, count: missing)) }
    }

    mutating func validity(_ a: ArrowArray) throws(ArrowError) {
        if a.nullCount > 0, let v = a.validity {
            try buffer(v, 0, (a.length + 7) / 8)
        } else {
            emptyBuffer()
        }
    }

    mutating func write(_ a: ArrowArray) throws(ArrowError) {
        let n = a.length
        if let enc = a.dictionaryEncoding {
            nodes.append((n, a.nullCount))
            try validity(a)
            try buffer(a.values, 0, n * (enc.indexType.byteWidth ?? 4))
            return
        }
        switch a.type {
        case .null:
            nodes.append((n, n))
        case .union(let mode, _, _):
            nodes.append((n, 0))
            if unionValiditySlot { emptyBuffer() }
            try buffer(a.values, 0, n)
            if mode == .dense { try buffer(a.data, 0, 4 * n) }
            for c in a.children { try write(c) }
        case .runEndEncoded:
            nodes.append((n, 0))
            if unionValiditySlot { emptyBuffer() }
            for c in a.children { try write(c) }
        default:
            nodes.append((n, a.nullCount))
            try validity(a)
            switch a.type {
            case .bool:
                try buffer(a.values, 0, (n + 7) / 8)
            case .binary, .utf8:
                try buffer(a.values, 0, 4 * (n + 1))
                try buffer(a.data, 0, n == 0 ? 0 : Int(a.values.load(n, as: Int32.self)))
            case .largeBinary, .largeUtf8:
                try buffer(a.values, 0, 8 * (n + 1))
                try buffer(a.data, 0, n == 0 ? 0 : Int(a.values.load(n, as: Int64.self)))
            case .binaryView, .utf8View:
                try buffer(a.values, 0, 16 * n)
                for d in a.variadic { try buffer(d, 0, d.count) }
                variadicCounts.append(a.variadic.count)
                hasViews = true
            case .list, .map:
                try buffer(a.values, 0, 4 * (n + 1))
                for c in a.children { try write(c) }
            case .largeList:
                try buffer(a.values, 0, 8 * (n + 1))
                for c in a.children { try write(c) }
            case .listView:
                try buffer(a.values, 0, 4 * n)
                try buffer(a.data, 0, 4 * n)
                for c in a.children { try write(c) }
            case .largeListView:
                try buffer(a.values, 0, 8 * n)
                try buffer(a.data, 0, 8 * n)
                for c in a.children { try write(c) }
            case .fixedSizeList, .struct:
                for c in a.children { try write(c) }
            default:
                try buffer(a.values, 0, n * (a.type.byteWidth ?? 0))
            }
        }
    }
}
