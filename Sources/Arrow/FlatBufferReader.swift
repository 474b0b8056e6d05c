/// A verifying FlatBuffers reader over one metadata region of the input. Every access is
/// bounds-checked and throws `ArrowError` instead of trapping. Positions are relative to
/// the first byte of the flatbuffer.
struct FBReader {
    let bytes: [UInt8]
    let base: Int
    let size: Int

    /// `base ..< base+size` must lie inside `bytes` (checked by the caller).
    init(bytes: [UInt8], base: Int, size: Int) {
        self.bytes = bytes
        self.base = base
        self.size = size
    }

    @inline(__always)
    func check(_ pos: Int, _ width: Int) throws(ArrowError) {
        if pos < 0 || width < 0 || pos > size - width {
            throw ArrowError.invalid("flatbuffer access out of bounds (\(pos)+\(width) of \(size) bytes)")
        }
    }

    func u8(_ p: Int) throws(ArrowError) -> UInt8 {
        try check(p, 1)
        return bytes[base + p]
    }
    func scalar<T: FixedWidthInteger>(_ p: Int, _: T.Type) throws(ArrowError) -> T {
        try check(p, MemoryLayout<T>.size)
        return bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: base + p, as: T.self)) }
    }

    func root() throws(ArrowError) -> FBTable {
        let off = try scalar(0, UInt32.self)
        return try FBTable(self, Int(off))
    }
}

struct FBTable {
    let r: FBReader
    let pos: Int
    let vt: Int
    let vtSize: Int
    let objSize: Int

    init(_ r: FBReader, _ pos: Int) throws(ArrowError) {
        self.r = r
        self.pos = pos
        let soff = Int(try r.scalar(pos, Int32.self))
        let vt = pos - soff
        self.vt = vt
        let vtSize = Int(try r.scalar(vt, UInt16.self))
        let objSize = Int(try r.scalar(vt + 2, UInt16.self))
        if vtSize < 4 || vtSize % 2 != 0 { throw ArrowError.invalid("flatbuffer vtable size \(vtSize) is invalid") }
        try r.check(vt, vtSize)
        // Like the FlatBuffers verifier, fields are checked against the buffer, not objSize.
        try r.check(pos, 4)
        self.vtSize = vtSize
        self.objSize = objSize
    }

    /// Position of field `id` or nil when absent.
    func field(_ id: Int, width: Int) throws(ArrowError) -> Int? {
        let o = 4 + 2 * id
        if o + 2 > vtSize { return nil }
        let off = Int(try r.scalar(vt + o, UInt16.self))
        if off == 0 { return nil }
        try r.check(pos + off, width)
        return pos + off
    }

    func has(_ id: Int) throws(ArrowError) -> Bool { try field(id, width: 1) != nil }

    func bool(_ id: Int, _ def: Bool = false) throws(ArrowError) -> Bool {
        guard let p = try field(id, width: 1) else { return def }
        return try r.u8(p) != 0
    }
    func int<T: FixedWidthInteger>(_ id: Int, _: T.Type, _ def: T = 0) throws(ArrowError) -> T {
        guard let p = try field(id, width: MemoryLayout<T>.size) else { return def }
        return try r.scalar(p, T.self)
    }

    /// Target of a uoffset field.
    private func indirect(_ id: Int) throws(ArrowError) -> Int? {
        guard let p = try field(id, width: 4) else { return nil }
        let rel = Int(try r.scalar(p, UInt32.self))
        let target = p + rel
        try r.check(target, 4)
        return target
    }

    func table(_ id: Int) throws(ArrowError) -> FBTable? {
        guard let t = try indirect(id) else { return nil }
        return try FBTable(r, t)
    }

    func string(_ id: Int) throws(ArrowError) -> String? {
        guard let p = try indirect(id) else { return nil }
        return try r.stringAt(p)
    }

    /// Vector of inline elements of `elementSize` bytes.
    func vector(_ id: Int, elementSize: Int) throws(ArrowError) -> FBVector? {
        guard let p = try indirect(id) else { return nil }
        let count = Int(try r.scalar(p, UInt32.self))
        let bytes = try checkedMul(count, elementSize, "flatbuffer vector size")
        try r.check(p + 4, bytes)
        return FBVector(r: r, start: p + 4, count: count, elementSize: elementSize)
    }

    /// Vector of tables.
    func tables(_ id: Int) throws(ArrowError) -> [FBTable]? {
        guard let v = try vector(id, elementSize: 4) else { return nil }
        var out: [FBTable] = []
        out.reserveCapacity(v.count)
        for i in 0..<v.count {
            let p = v.start + 4 * i
            let rel = Int(try r.scalar(p, UInt32.self))
            out.append(try FBTable(r, p + rel))
        }
        return out
    }

    /// Custom metadata ([KeyValue]) at field `id`.
    func keyValues(_ id: Int) throws(ArrowError) -> [ArrowKeyValue] {
        guard let kvs = try tables(id) else { return [] }
        var out: [ArrowKeyValue] = []
        for kv in kvs {
            out.append(ArrowKeyValue(try kv.string(0) ?? "", try kv.string(1) ?? ""))
        }
        return out
    }
}

struct FBVector {
    let r: FBReader
    let start: Int
    let count: Int
    let elementSize: Int

    func scalar<T: FixedWidthInteger>(_ i: Int, field: Int = 0, _: T.Type) throws(ArrowError) -> T {
        if i < 0 || i >= count { throw ArrowError.invalid("flatbuffer vector index \(i) out of range (\(count))") }
        return try r.scalar(start + i * elementSize + field, T.self)
    }
}

extension FBReader {
    func stringAt(_ p: Int) throws(ArrowError) -> String {
        let n = Int(try scalar(p, UInt32.self))
        try check(p + 4, n)
        let start = base + p + 4
        return bytes.withUnsafeBytes { raw in
            String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<(start + n)]), as: UTF8.self)
        }
    }
}
