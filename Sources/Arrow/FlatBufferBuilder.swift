/// A tiny front-to-back FlatBuffers writer (see IPC notes §2): objects are written
/// parent-first, each uoffset is a forward placeholder patched when its child lands.
/// Every scalar is aligned to its size relative to the buffer start, vectors of 8-byte
/// structs are 8-aligned: what the C++ verifier in pyarrow requires.
indirect enum FBNode {
    case table([FBSlot])
    case string(String)
    case tableVector([FBNode])
    /// Inline elements (structs or scalars): `bytes` holds `count` elements, already encoded.
    case inlineVector(align: Int, count: Int, bytes: [UInt8])
}

struct FBSlot {
    let id: Int
    let value: FBSlotValue
    init(_ id: Int, _ value: FBSlotValue) {
        self.id = id
        self.value = value
    }
}

enum FBSlotValue {
    case bool(Bool), u8(UInt8), i8(Int8), i16(Int16), i32(Int32), i64(Int64)
    case ref(FBNode)

    var size: Int {
        switch self {
        case .bool, .u8, .i8: return 1
        case .i16: return 2
        case .i32, .ref: return 4
        case .i64: return 8
        }
    }
}

struct FBBuilder {
    private(set) var b: [UInt8] = []

    static func finish(_ root: FBNode) -> [UInt8] {
        var w = FBBuilder()
        w.b.reserveCapacity(512)
        w.b.append(contentsOf: [0, 0, 0, 0])
        w.obj(root, refPos: 0)
        w.padTo(8)
        return w.b
    }

    mutating func padTo(_ align: Int, extra: Int = 0) {
        while (b.count + extra) % align != 0 { b.append(0) }
    }

    mutating func put<T: FixedWidthInteger>(_ v: T, at pos: Int) {
        withUnsafeBytes(of: v.littleEndian) { raw in
            for (k, byte) in raw.enumerated() { b[pos + k] = byte }
        }
    }

    mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) }
    }

    mutating func patch(_ refPos: Int) {
        put(UInt32(b.count - refPos), at: refPos)
    }

    mutating func obj(_ node: FBNode, refPos: Int) {
        switch node {
        case .string(let s):
            padTo(4)
            patch(refPos)
            let u = Array(s.utf8)
            append(UInt32(u.count))
            b.append(contentsOf: u)
            b.append(0)
        case .inlineVector(let align, let count, let bytes):
            padTo(Swift.max(align, 4), extra: 4)
            patch(refPos)
            append(UInt32(count))
            b.append(contentsOf: bytes)
        case .tableVector(let items):
            padTo(4)
            patch(refPos)
            append(UInt32(items.count))
            let first = b.count
            b.append(contentsOf: [UInt8](repeating: 0, count: 4 * items.count))
            for (k, item) in items.enumerated() { obj(item, refPos: first + 4 * k) }
        case .table(let slots):
            table(slots, refPos: refPos)
        }
    }

    mutating func table(_ unsorted: [FBSlot], refPos: Int) {
        let fields = unsorted.sorted { $0.value.size > $1.value.size }
        let nslots = (fields.map(\.id).max() ?? -1) + 1
        let vtSize = 4 + 2 * nslots
        let has8 = fields.contains { $0.value.size == 8 }
        padTo(2)
        let vtPos = b.count
        var tPos = vtPos + vtSize
        while tPos % 4 != 0 || (has8 && (tPos + 4) % 8 != 0) { tPos += 1 }
        var rel = [Int](repeating: 0, count: nslots)
        var cur = 4
        for f in fields {
            let size = f.value.size
            while (tPos + cur) % size != 0 { cur += 1 }
            rel[f.id] = cur
            cur += size
        }
        let objSize = cur
        append(UInt16(vtSize))
        append(UInt16(objSize))
        for r in rel { append(UInt16(r)) }
        while b.count < tPos { b.append(0) }
        patch(refPos)
        append(Int32(tPos - vtPos))
        b.append(contentsOf: [UInt8](repeating: 0, count: objSize - 4))
        var pending: [(Int, FBNode)] = []
        for f in fields {
            let pos = tPos + rel[f.id]
            switch f.value {
            case .bool(let v): b[pos] = v ? 1 : 0
            case .u8(let v): b[pos] = v
            case .i8(let v): b[pos] = UInt8(bitPattern: v)
            case .i16(let v): put(v, at: pos)
            case .i32(let v): put(v, at: pos)
            case .i64(let v): put(v, at: pos)
            case .ref(let node): pending.append((pos, node))
            }
        }
        for (pos, node) in pending { obj(node, refPos: pos) }
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}
