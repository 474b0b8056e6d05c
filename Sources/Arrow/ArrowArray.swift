/// One decoded Arrow array (a column, or a child of a nested column) in Arrow's columnar
/// layout. Buffers are views into the IPC input; nothing is decoded until accessed.
///
/// Buffer roles by type:
/// - fixed width / bool: `values`
/// - binary, utf8 (and large): `values` = offsets, `data` = bytes
/// - views: `values` = 16-byte views, `variadic` = data buffers
/// - list, large list, map: `values` = offsets; list views: `values` = offsets, `data` = sizes
/// - union: `values` = type ids, `data` = offsets (dense)
/// - dictionary-encoded: `values` = indices of `dictionaryEncoding.indexType`
public final class ArrowArray: Sendable {
    /// Logical type (for dictionary-encoded arrays: the dictionary's value type).
    public let type: ArrowType
    public let length: Int
    public let nullCount: Int
    /// Validity bitmap; nil when every slot is valid (null count 0).
    let validity: ArrowBuffer?
    let values: ArrowBuffer
    let data: ArrowBuffer
    let variadic: [ArrowBuffer]
    public let children: [ArrowArray]
    /// Present for dictionary-encoded arrays.
    public let dictionaryEncoding: DictionaryEncoding?
    public let dictionary: ArrowDictionary?
    /// Union: child index for each type code (-1 = not a member), 128 entries.
    let unionChildIndex: [Int8]
    /// Payload-free physical kind of `type`, for fast dispatch in accessors.
    let kind: Kind
    /// Time unit of time/timestamp/duration; element width of fixed-size binary,
    /// list size of fixed-size lists, byte width of decimals.
    let unit: TimeUnit
    let width: Int
    let scale: Int
    let timezone: String?
    let fieldNames: [String]

    enum Kind: UInt8 {
        case null, bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64
        case float16, float32, float64, decimal, date32, date64, time32, time64, timestamp, duration
        case intervalYM, intervalDT, intervalMDN
        case binary, largeBinary, binaryView, fixedSizeBinary, utf8, largeUtf8, utf8View
        case list, largeList, listView, largeListView, fixedSizeList, structure, map
        case sparseUnion, denseUnion, runEndEncoded, dictionary
    }

    init(type: ArrowType, length: Int, nullCount: Int, validity: ArrowBuffer?,
         values: ArrowBuffer = .empty, data: ArrowBuffer = .empty, variadic: [ArrowBuffer] = [],
         children: [ArrowArray] = [], dictionaryEncoding: DictionaryEncoding? = nil,
         dictionary: ArrowDictionary? = nil) {
        self.type = type
        self.length = length
        self.nullCount = nullCount
        self.validity = nullCount > 0 ? validity : nil
        self.values = values
        self.data = data
        self.variadic = variadic
        self.children = children
        self.dictionaryEncoding = dictionaryEncoding
        self.dictionary = dictionary
        var unit = TimeUnit.second, width = 0, scale = 0
        var timezone: String? = nil
        var names: [String] = []
        let kind: Kind
        switch type {
        case .null: kind = .null
        case .bool: kind = .bool
        case .int8: kind = .int8
        case .int16: kind = .int16
        case .int32: kind = .int32
        case .int64: kind = .int64
        case .uint8: kind = .uint8
        case .uint16: kind = .uint16
        case .uint32: kind = .uint32
        case .uint64: kind = .uint64
        case .float16: kind = .float16
        case .float32: kind = .float32
        case .float64: kind = .float64
        case .decimal(_, let sc, let bw): kind = .decimal; width = bw / 8; scale = sc
        case .date32: kind = .date32
        case .date64: kind = .date64
        case .time32(let u): kind = .time32; unit = u
        case .time64(let u): kind = .time64; unit = u
        case .timestamp(let u, let tz): kind = .timestamp; unit = u; timezone = (tz?.isEmpty ?? true) ? nil : tz
        case .duration(let u): kind = .duration; unit = u
        case .interval(.yearMonth): kind = .intervalYM
        case .interval(.dayTime): kind = .intervalDT
        case .interval(.monthDayNano): kind = .intervalMDN
        case .binary: kind = .binary
        case .largeBinary: kind = .largeBinary
        case .binaryView: kind = .binaryView
        case .fixedSizeBinary(let w): kind = .fixedSizeBinary; width = w
        case .utf8: kind = .utf8
        case .largeUtf8: kind = .largeUtf8
        case .utf8View: kind = .utf8View
        case .list: kind = .list
        case .largeList: kind = .largeList
        case .listView: kind = .listView
        case .largeListView: kind = .largeListView
        case .fixedSizeList(_, let n): kind = .fixedSizeList; width = n
        case .struct(let fs): kind = .structure; names = fs.map(\.name)
        case .map: kind = .map
        case .union(let mode, _, _): kind = mode == .sparse ? .sparseUnion : .denseUnion
        case .runEndEncoded: kind = .runEndEncoded
        }
        self.kind = dictionaryEncoding != nil ? .dictionary : kind
        self.unit = unit
        self.width = width
        self.scale = scale
        self.timezone = timezone
        self.fieldNames = names
        if case .union(_, _, let ids) = type {
            var table = [Int8](repeating: -1, count: 128)
            for (i, code) in ids.enumerated() where code >= 0 {
                table[Int(code)] = Int8(truncatingIfNeeded: i)
            }
            self.unionChildIndex = table
        } else {
            self.unionChildIndex = []
        }
    }

    /// True if slot `i` holds null. For unions, run-end encoded and dictionary arrays this
    /// looks through to the selected value.
    public func isNull(_ i: Int) -> Bool {
        precondition(i >= 0 && i < length, "ArrowArray index \(i) out of range 0..<\(length)")
        switch kind {
        case .null:
            return true
        case .sparseUnion, .denseUnion:
            guard let (child, j) = unionChild(i) else { return true }
            return child.isNull(j)
        case .runEndEncoded:
            guard children.count == 2, let j = runIndex(i) else { return true }
            return children[1].isNull(j)
        case .dictionary:
            if let v = validity, !v.bit(i) { return true }
            guard let d = dictionary else { return true }
            return d.isNull(dictionaryIndex(i))
        default:
            if let v = validity, !v.bit(i) { return true }
            return false
        }
    }

    /// True when the validity bitmap marks slot `i` valid (ignores dictionaries/unions).
    @inline(__always)
    func isValidSlot(_ i: Int) -> Bool {
        guard let v = validity else { return true }
        return v.bit(i)
    }

    // MARK: typed fast accessors (no ArrowValue boxing). Indices must be in 0..<length.

    /// Signed integer value (int8...int64, date, time, timestamp, duration columns).
    public func int64(at i: Int) -> Int64 {
        precondition(i >= 0 && i < length, "ArrowArray index \(i) out of range 0..<\(length)")
        switch kind {
        case .int8: return Int64(values.load(i, as: Int8.self))
        case .int16: return Int64(values.load(i, as: Int16.self))
        case .int32, .date32, .time32, .intervalYM: return Int64(values.load(i, as: Int32.self))
        case .uint8: return Int64(values.load(i, as: UInt8.self))
        case .uint16: return Int64(values.load(i, as: UInt16.self))
        case .uint32: return Int64(values.load(i, as: UInt32.self))
        case .uint64: return Int64(truncatingIfNeeded: values.load(i, as: UInt64.self))
        case .int64, .date64, .time64, .timestamp, .duration:
            return values.load(i, as: Int64.self)
        case .dictionary:
            return Int64(dictionaryIndex(i))
        default: return 0
        }
    }

    /// UTF-8 string of utf8 / large utf8 / utf8 view (and binary kinds, decoded leniently).
    public func string(at i: Int) -> String {
        precondition(i >= 0 && i < length, "ArrowArray index \(i) out of range 0..<\(length)")
        switch kind {
        case .utf8, .binary:
            let a = Int(values.load(i, as: Int32.self)), b = Int(values.load(i + 1, as: Int32.self))
            return data.string(a, b - a)
        case .largeUtf8, .largeBinary:
            let a = Int(values.load(i, as: Int64.self)), b = Int(values.load(i + 1, as: Int64.self))
            return data.string(a, b - a)
        case .utf8View, .binaryView:
            let (buf, off, len) = viewLocation(i)
            return buf.string(off, len)
        case .fixedSizeBinary:
            return values.string(i * width, width)
        case .dictionary:
            guard let (c, j) = dictionary?.locate(dictionaryIndex(i)) else { return "" }
            return c.string(at: j)
        default:
            return ""
        }
    }

    /// Raw bytes of a binary-like value.
    public func bytes(at i: Int) -> [UInt8] {
        precondition(i >= 0 && i < length, "ArrowArray index \(i) out of range 0..<\(length)")
        switch kind {
        case .utf8, .binary:
            let a = Int(values.load(i, as: Int32.self)), b = Int(values.load(i + 1, as: Int32.self))
            return data.bytes(a, b - a)
        case .largeUtf8, .largeBinary:
            let a = Int(values.load(i, as: Int64.self)), b = Int(values.load(i + 1, as: Int64.self))
            return data.bytes(a, b - a)
        case .utf8View, .binaryView:
            let (buf, off, len) = viewLocation(i)
            return buf.bytes(off, len)
        case .fixedSizeBinary:
            return values.bytes(i * width, width)
        case .dictionary:
            guard let (c, j) = dictionary?.locate(dictionaryIndex(i)) else { return [] }
            return c.bytes(at: j)
        default:
            return []
        }
    }

    /// Buffer, offset and length of view `i` (inline views point into `values`).
    @inline(__always)
    func viewLocation(_ i: Int) -> (ArrowBuffer, Int, Int) {
        let base = i * 16
        let len = Int(values.load(byteOffset: base, as: Int32.self))
        if len <= 12 { return (values, base + 4, len) }
        let bufIndex = Int(values.load(byteOffset: base + 8, as: Int32.self))
        let off = Int(values.load(byteOffset: base + 12, as: Int32.self))
        return (variadic[bufIndex], off, len)
    }

    /// Start and end (exclusive) in the child array of list-like value `i`.
    func listRange(_ i: Int) -> (Int, Int) {
        switch kind {
        case .list, .map:
            return (Int(values.load(i, as: Int32.self)), Int(values.load(i + 1, as: Int32.self)))
        case .largeList:
            return (Int(values.load(i, as: Int64.self)), Int(values.load(i + 1, as: Int64.self)))
        case .listView:
            let o = Int(values.load(i, as: Int32.self))
            return (o, o + Int(data.load(i, as: Int32.self)))
        case .largeListView:
            let o = Int(values.load(i, as: Int64.self))
            return (o, o + Int(data.load(i, as: Int64.self)))
        case .fixedSizeList:
            return (i * width, i * width + width)
        default:
            return (0, 0)
        }
    }

    /// Union: selected child and index into it (nil for an unknown type code; the loader
    /// rejects those, so this only guards).
    @inline(__always)
    func unionChild(_ i: Int) -> (ArrowArray, Int)? {
        let code = values.load(i, as: Int8.self)
        guard code >= 0, unionChildIndex.count == 128 else { return nil }
        let ci = Int(unionChildIndex[Int(code)])
        guard ci >= 0, ci < children.count else { return nil }
        let j = kind == .sparseUnion ? i : Int(data.load(i, as: Int32.self))
        return (children[ci], j)
    }

    /// Union type code of slot `i`.
    public func unionTypeCode(at i: Int) -> Int8 {
        precondition(i >= 0 && i < length && (kind == .sparseUnion || kind == .denseUnion), "not a union slot")
        return values.load(i, as: Int8.self)
    }

    /// Run-end encoded: physical index in `values` of logical slot `i`.
    func runIndex(_ i: Int) -> Int? {
        let ends = children[0]
        var lo = 0, hi = ends.length
        while lo < hi {
            let mid = (lo + hi) >> 1
            if ends.int64(at: mid) > Int64(i) { hi = mid } else { lo = mid + 1 }
        }
        return lo < ends.length ? lo : nil
    }

    /// Dictionary index of slot `i` (dictionary-encoded arrays).
    @inline(__always)
    func dictionaryIndex(_ i: Int) -> Int {
        switch dictionaryEncoding?.indexType ?? .int32 {
        case .int8: return Int(values.load(i, as: Int8.self))
        case .int16: return Int(values.load(i, as: Int16.self))
        case .int32: return Int(values.load(i, as: Int32.self))
        case .int64: return Int(truncatingIfNeeded: values.load(i, as: Int64.self))
        case .uint8: return Int(values.load(i, as: UInt8.self))
        case .uint16: return Int(values.load(i, as: UInt16.self))
        case .uint32: return Int(values.load(i, as: UInt32.self))
        case .uint64: return Int(truncatingIfNeeded: values.load(i, as: UInt64.self))
        default: return 0
        }
    }
}
