/// Serialises arrays into a message body: field nodes, buffer descriptors and the padded
/// (optionally compressed) buffer bytes, in the pre-order walk of the IPC format.
struct BodyWriter {
    var nodes: [(Int, Int)] = []
    var buffers: [(Int, Int)] = []
    var variadicCounts: [Int] = []
    var hasViews = false
    var body: [UInt8] = []
    let compression: ArrowCompression?
    /// Metadata V4: unions and run-end encoded arrays carry an (empty) validity slot.
    let unionValiditySlot: Bool

    init(compression: ArrowCompression?, capacity: Int = 0, metadataV4: Bool = false) {
        self.compression = compression
        self.unionValiditySlot = metadataV4
        body.reserveCapacity(capacity)
    }

    mutating func emptyBuffer() {
        buffers.append((body.count, 0))
    }

    /// Appends bytes `[offset, offset+length)` of `buf` (zero-filled past its end).
    mutating func buffer(_ buf: ArrowBuffer, _ offset: Int = 0, _ length: Int) throws(ArrowError) {
        if length <= 0 { emptyBuffer(); return }
        let start = body.count
        let avail = Swift.max(0, Swift.min(length, buf.count - offset))
        if let codec = compression {
            var raw = avail == length ? [] : [UInt8](repeating: 0, count: length)
            if avail < length, avail > 0 {
                buf.withUnsafeBytes { p in for k in 0..<avail { raw[k] = p[offset + k] } }
            }
            let compressed: Result<[UInt8], ArrowError> = avail == length
                ? buf.withUnsafeBytes { p in
                    Result { () throws(ArrowError) -> [UInt8] in
                        try Codec.compress(codec, UnsafeRawBufferPointer(rebasing: p[offset..<(offset + length)]))
                    } }
                : raw.withUnsafeBytes { p in Result { () throws(ArrowError) -> [UInt8] in try Codec.compress(codec, p) } }
            let c = try compressed.get()
            if c.count < length {
                body.appendLE(Int64(length))
                body.append(contentsOf: c)
            } else {
                body.appendLE(Int64(-1))
                if avail == length {
                    buf.withUnsafeBytes { p in body.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[offset..<(offset + length)])) }
                } else {
                    body.append(contentsOf: raw)
                }
            }
        } else {
            if avail > 0 {
                buf.withUnsafeBytes { p in body.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[offset..<(offset + avail)])) }
            }
            if avail < length { body.append(contentsOf: [UInt8](repeating: 0, count: length - avail)) }
        }
        buffers.append((start, body.count - start))
        let pad = (8 - body.count % 8) % 8
        if pad > 0 { body.append(contentsOf: [UInt8](repeating: 0, count: pad)) }
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
