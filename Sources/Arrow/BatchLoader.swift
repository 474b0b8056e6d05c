import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns the nodes and buffers of one RecordBatch (or DictionaryBatch data) into
/// validated `ArrowArray`s. Every count, offset and length comes from the input and is
/// checked before use; after loading, accessors can index without further checks.
struct BatchLoader {
    let input: [UInt8]
    let bodyStart: Int
    let bodyLength: Int
    let nodes: FBVector
    let buffers: FBVector
    let variadicCounts: FBVector?
    let compression: ArrowCompression?
    let bigEndian: Bool
    let legacyUnionValidity: Bool
    let dictionaries: [Int64: ArrowDictionary]
    let options: ArrowReadOptions
    var nodeIx = 0
    var bufIx = 0
    var varIx = 0
    var decompressed = 0
    /// Buffers decompressed ahead of the walk, in parallel (compressed bodies only).
    var predecoded: [ArrowBuffer?] = []

    init(input: [UInt8], bodyStart: Int, bodyLength: Int, batch: FBTable, version: Int16,
         bigEndian: Bool, dictionaries: [Int64: ArrowDictionary], options: ArrowReadOptions) throws(ArrowError) {
        self.input = input
        self.bodyStart = bodyStart
        self.bodyLength = bodyLength
        guard let n = try batch.vector(1, elementSize: 16) else { throw ArrowError.invalid("RecordBatch.nodes is missing") }
        guard let b = try batch.vector(2, elementSize: 16) else { throw ArrowError.invalid("RecordBatch.buffers is missing") }
        self.nodes = n
        self.buffers = b
        self.variadicCounts = try batch.vector(4, elementSize: 8)
        if let c = try batch.table(3) {
            let codec = try c.int(0, Int8.self, 0)
            let method = try c.int(1, Int8.self, 0)
            if method != 0 { throw ArrowError.unsupported("body compression method \(method) (only BUFFER)") }
            switch codec {
            case 0: self.compression = .lz4Frame
            case 1: self.compression = .zstd()
            default: throw ArrowError.unsupported("body compression codec \(codec)")
            }
        } else {
            self.compression = nil
        }
        self.bigEndian = bigEndian
        self.legacyUnionValidity = version < 4
        self.dictionaries = dictionaries
        self.options = options
        if compression != nil { try predecompress() }
    }

    /// Decompresses every buffer of a large compressed body up front, spreading the
    /// buffers over the cores (the walk then picks them up in order).
    mutating func predecompress() throws(ArrowError) {
        guard let codec = compression, buffers.count > 1 else { return }
        struct Job: Sendable { let index: Int; let start: Int; let length: Int; let size: Int }
        var jobs: [Job] = []
        var total = 0
        for i in 0..<buffers.count {
            let o = try nonNegative(try buffers.scalar(i, field: 0, Int64.self), "buffer offset")
            let l = try nonNegative(try buffers.scalar(i, field: 8, Int64.self), "buffer length")
            if o > bodyLength || l > bodyLength - o || l < 8 { continue }  // reported in order by nextBuffer
            let announced = ArrowBuffer(storage: input, start: bodyStart + o, count: l).load(byteOffset: 0, as: Int64.self)
            guard announced >= 0, let size = Int(exactly: announced) else { continue }
            if size > options.maxDecompressedBytes - total {
                throw ArrowError(.limitExceeded, "decompressed body would exceed \(options.maxDecompressedBytes) bytes (ArrowReadOptions.maxDecompressedBytes)")
            }
            total += size
            jobs.append(Job(index: i, start: bodyStart + o + 8, length: l - 8, size: size))
        }
        // Small bodies: not worth the threads; nextBuffer decompresses as it goes.
        guard total >= 1 << 20, jobs.count > 1 else { return }
        let results = ParallelResults(count: jobs.count)
        let input = self.input
        let ordered = jobs.sorted { $0.size > $1.size }  // biggest first balances the cores
        DispatchQueue.concurrentPerform(iterations: ordered.count) { k in
            let job = ordered[k]
            let r: Result<[UInt8], ArrowError> = input.withUnsafeBytes { raw in
                Result { () throws(ArrowError) -> [UInt8] in
                    try Codec.decompress(codec, UnsafeRawBufferPointer(rebasing: raw[job.start..<(job.start + job.length)]),
                                         size: job.size)
                }
            }
            results.set(k, r)
        }
        var pre = [ArrowBuffer?](repeating: nil, count: buffers.count)
        for (k, job) in ordered.enumerated() {
            guard let r = results.get(k) else { continue }
            pre[job.index] = ArrowBuffer(try r.get())
        }
        predecoded = pre
        decompressed = total
    }

    /// Loads `length` rows worth of columns for `fields`.
    mutating func loadColumns(_ fields: [ArrowField], length: Int) throws(ArrowError) -> [ArrowArray] {
        var out: [ArrowArray] = []
        out.reserveCapacity(fields.count)
        for f in fields {
            let a = try load(f, depth: 0)
            if a.length < length {
                throw ArrowError.invalid("column '\(f.name)' has \(a.length) rows, the batch has \(length)")
            }
            out.append(a)
        }
        return out
    }

    // MARK: nodes and buffers

    mutating func nextNode(_ name: String) throws(ArrowError) -> (Int, Int) {
        guard nodeIx < nodes.count else { throw ArrowError.invalid("field '\(name)': no field node left (node index \(nodeIx) out of range)") }
        let len = try nodes.scalar(nodeIx, field: 0, Int64.self)
        let nulls = try nodes.scalar(nodeIx, field: 8, Int64.self)
        nodeIx += 1
        let l = try nonNegative(len, "field '\(name)' length")
        // -1 means "unknown" (Arrow C++ kUnknownNullCount): computed from the bitmap.
        let nc = nulls == -1 ? -1 : try nonNegative(nulls, "field '\(name)' null count")
        if nc > l { throw ArrowError.invalid("field '\(name)': null count \(nc) exceeds length \(l)") }
        return (l, nc)
    }

    mutating func nextBuffer(_ name: String) throws(ArrowError) -> ArrowBuffer {
        guard bufIx < buffers.count else { throw ArrowError.invalid("field '\(name)': buffer index \(bufIx) out of range") }
        let off = try buffers.scalar(bufIx, field: 0, Int64.self)
        let len = try buffers.scalar(bufIx, field: 8, Int64.self)
        bufIx += 1
        let o = try nonNegative(off, "buffer offset"), l = try nonNegative(len, "buffer length")
        if o > bodyLength || l > bodyLength - o {
            throw ArrowError.invalid("field '\(name)': buffer \(o)+\(l) lies outside the \(bodyLength)-byte body")
        }
        let raw = ArrowBuffer(storage: input, start: bodyStart + o, count: l)
        guard let codec = compression, l > 0 else { return raw }
        if bufIx - 1 < predecoded.count, let done = predecoded[bufIx - 1] { return done }
        if l < 8 { throw ArrowError.invalid("field '\(name)': compressed buffer shorter than its 8-byte length prefix") }
        let announced = raw.load(byteOffset: 0, as: Int64.self)
        if announced == -1 {
            return ArrowBuffer(storage: input, start: bodyStart + o + 8, count: l - 8)
        }
        let size = try nonNegative(announced, "uncompressed buffer length")
        if size > options.maxDecompressedBytes - decompressed {
            throw ArrowError(.limitExceeded, "decompressed body would exceed \(options.maxDecompressedBytes) bytes (ArrowReadOptions.maxDecompressedBytes)")
        }
        decompressed += size
        let out: Result<[UInt8], ArrowError> = raw.withUnsafeBytes { p in
            Result { () throws(ArrowError) -> [UInt8] in
                try Codec.decompress(codec, UnsafeRawBufferPointer(rebasing: p[8...]), size: size)
            }
        }
        return ArrowBuffer(try out.get())
    }

    mutating func validity(_ name: String, _ length: Int, _ nulls: inout Int) throws(ArrowError) -> ArrowBuffer? {
        let b = try nextBuffer(name)
        let need = (length + 7) / 8
        if nulls == -1 {
            nulls = b.count >= need && length > 0 ? length - b.withUnsafeBytes { popcount($0, bits: length) } : 0
        }
        if nulls == 0 { return nil }
        if b.count < need { throw ArrowError.invalid("field '\(name)': validity bitmap has \(b.count) bytes, needs \(need)") }
        if options.validateFully {
            let valid = b.withUnsafeBytes { popcount($0, bits: length) }
            if length - valid != nulls {
                throw ArrowError.invalid("field '\(name)': null count \(nulls) does not match the validity bitmap (\(length - valid))")
            }
        }
        return b
    }

    /// Value buffer of at least `need` bytes, byte-swapped to little endian if required.
    mutating func values(_ name: String, need: Int, swap: SwapKind) throws(ArrowError) -> ArrowBuffer {
        let b = try nextBuffer(name)
        if b.count < need { throw ArrowError.invalid("field '\(name)': buffer has \(b.count) bytes, needs \(need)") }
        if bigEndian && swap != .none && need > 0 { return byteSwapped(b.prefix(need), swap) }
        return b
    }

    // MARK: arrays

    mutating func load(_ field: ArrowField, depth: Int) throws(ArrowError) -> ArrowArray {
        if depth > options.maxNestingDepth {
            throw ArrowError(.limitExceeded, "arrays nested deeper than \(options.maxNestingDepth) levels")
        }
        let name = field.name
        let (n, nodeNulls) = try nextNode(name)
        var nulls = nodeNulls
        if let enc = field.dictionary { return try loadDictionaryIndices(field, enc, n, nulls) }
        let type = field.type
        switch type {
        case .null:
            return ArrowArray(type: .null, length: n, nullCount: n, validity: nil)
        case .bool:
            let v = try validity(name, n, &nulls)
            let vals = try values(name, need: (n + 7) / 8, swap: .none)
            return ArrowArray(type: type, length: n, nullCount: nulls, validity: v, values: vals)
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .float16, .float32, .float64,
             .decimal, .date32, .date64, .time32, .time64, .timestamp, .duration, .interval, .fixedSizeBinary:
            let w = type.byteWidth ?? 0
            let v = try validity(name, n, &nulls)
            let vals = try values(name, need: try checkedMul(n, w, "buffer size"), swap: SwapKind.forFixed(type))
            return ArrowArray(type: type, length: n, nullCount: nulls, validity: v, values: vals)
        case .binary, .utf8, .largeBinary, .largeUtf8:
            let large: Bool
            switch type { case .largeBinary, .largeUtf8: large = true; default: large = false }
            let w = large ? 8 : 4
            let v = try validity(name, n, &nulls)
            let offs = try offsets(name, n, width: w)
            let data = try nextBuffer(name)
            let (first, last) = try checkOffsets(offs, n, large: large, limit: data.count, name)
            if case .utf8 = type, options.validateFully { try checkUTF8(data, offs, n, large: false, first, last, name) }
            if case .largeUtf8 = type, options.validateFully { try checkUTF8(data, offs, n, large: true, first, last, name) }
            return ArrowArray(type: type, length: n, nullCount: nulls, validity: v, values: offs, data: data)
        case .binaryView, .utf8View:
            let v = try validity(name, n, &nulls)
            let views = try values(name, need: try checkedMul(n, 16, "views size"), swap: .view)
            guard let counts = variadicCounts, varIx < counts.count else {
                throw ArrowError.invalid("field '\(name)': RecordBatch.variadicBufferCounts has no entry for this view field")
            }
            let nbuf = try nonNegative(try counts.scalar(varIx, Int64.self), "variadic buffer count")
            varIx += 1
            if nbuf > buffers.count - bufIx {
                throw ArrowError.invalid("field '\(name)': variadic buffer count \(nbuf) exceeds the remaining buffers")
            }
            var data: [ArrowBuffer] = []
            data.reserveCapacity(nbuf)
            for _ in 0..<nbuf { data.append(try nextBuffer(name)) }
            let arr = ArrowArray(type: type, length: n, nullCount: nulls, validity: v, values: views, variadic: data)
            try checkViews(arr, utf8: type == .utf8View, name)
            return arr
        case .list(let child), .largeList(let child), .map(let child, _):
            let large: Bool
            if case .largeList = type { large = true } else { large = false }
            let v = try validity(name, n, &nulls)
            let offs = try offsets(name, n, width: large ? 8 : 4)
            let c = try load(child, depth: depth + 1)
            _ = try checkOffsets(offs, n, large: large, limit: c.length, name)
            if case .map = type, c.nullCount != 0, options.validateFully {
                // Map entries must not be null; keys must not be null either.
                throw ArrowError.invalid("map '\(name)' has null entries")
            }
            return ArrowArray(type: type, length: n, nullCount: nulls, validity: v, values: offs, children: [c])
        case .listView(let child), .largeListView(let child):
            let large: Bool
            if case .largeListView = type { large = true } else { large = false }
            let w = large ? 8 : 4
            let v = try validity(name, n, &nulls)
            let need = try checkedMul(n, w, "list view buffer size")
            let offs = try values(name, need: need, swap: large ? .width(8) : .width(4))
            let sizes = try values(name, need: need, swap: large ? .width(8) : .width(4))
            let c = try load(child, depth: depth + 1)
            let arr = ArrowArray(type: type, length: n, nullCount: nulls, validity: v, values: offs, data: sizes, children: [c])
            for i in 0..<n where arr.isValidSlot(i) {
                let o: Int64, s: Int64
                if large { o = offs.load(i, as: Int64.self); s = sizes.load(i, as: Int64.self) } else {
                    o = Int64(offs.load(i, as: Int32.self)); s = Int64(sizes.load(i, as: Int32.self))
                }
                if o < 0 || s < 0 || o > Int64(c.length) || s > Int64(c.length) - o {
                    throw ArrowError.invalid("list view '\(name)' slot \(i): offset \(o) size \(s) outside child of length \(c.length)")
                }
            }
            return arr
        case .fixedSizeList(let child, let size):
            let v = try validity(name, n, &nulls)
            let c = try load(child, depth: depth + 1)
            let need = try checkedMul(n, size, "fixed-size list child length")
            if c.length < need {
                throw ArrowError.invalid("fixed-size list '\(name)': child has \(c.length) values, needs \(need)")
            }
            return ArrowArray(type: type, length: n, nullCount: nulls, validity: v, children: [c])
        case .struct(let fields):
            let v = try validity(name, n, &nulls)
            var cs: [ArrowArray] = []
            cs.reserveCapacity(fields.count)
            for f in fields {
                let c = try load(f, depth: depth + 1)
                if c.length < n { throw ArrowError.invalid("struct '\(name)': child '\(f.name)' has \(c.length) values, needs \(n)") }
                cs.append(c)
            }
            return ArrowArray(type: type, length: n, nullCount: nulls, validity: v, children: cs)
        case .union(let mode, let fields, let ids):
            if legacyUnionValidity {
                _ = try nextBuffer(name)
                if nulls > 0 {
                    throw ArrowError.invalid("union '\(name)': cannot read a V4 union with a top-level validity bitmap (null count \(nulls))")
                }
            }
            let types = try values(name, need: n, swap: .none)
            var offs = ArrowBuffer.empty
            if mode == .dense {
                offs = try values(name, need: try checkedMul(n, 4, "union offsets size"), swap: .width(4))
            }
            var cs: [ArrowArray] = []
            for f in fields {
                let c = try load(f, depth: depth + 1)
                if mode == .sparse && c.length < n {
                    throw ArrowError.invalid("sparse union '\(name)': child '\(f.name)' has \(c.length) values, needs \(n)")
                }
                cs.append(c)
            }
            let arr = ArrowArray(type: type, length: n, nullCount: 0, validity: nil, values: types, data: offs, children: cs)
            var childOf = [Int](repeating: -1, count: 128)
            for (k, id) in ids.enumerated() { childOf[Int(id)] = k }
            for i in 0..<n {
                let code = types.load(i, as: Int8.self)
                guard code >= 0, childOf[Int(code)] >= 0 else {
                    throw ArrowError.invalid("union '\(name)' slot \(i): type id \(code) out of bounds")
                }
                if mode == .dense {
                    let o = offs.load(i, as: Int32.self)
                    if o < 0 || Int(o) >= cs[childOf[Int(code)]].length {
                        throw ArrowError.invalid("dense union '\(name)' slot \(i): offset \(o) out of bounds")
                    }
                }
            }
            return arr
        case .runEndEncoded(let runEndsField, let valuesField):
            if nulls > 0 { throw ArrowError.invalid("run-end encoded '\(name)' has a non-zero null count") }
            if legacyUnionValidity { _ = try nextBuffer(name) }  // V4: every non-null type has a validity slot
            let ends = try load(runEndsField, depth: depth + 1)
            let vals = try load(valuesField, depth: depth + 1)
            if ends.nullCount != 0 { throw ArrowError.invalid("run-end encoded '\(name)': run ends contain nulls") }
            if vals.length < ends.length {
                throw ArrowError.invalid("run-end encoded '\(name)': \(vals.length) values for \(ends.length) runs")
            }
            var prev: Int64 = 0
            for j in 0..<ends.length {
                let e = ends.int64(at: j)
                if e <= prev { throw ArrowError.invalid("run-end encoded '\(name)': run ends not strictly increasing at \(j)") }
                prev = e
            }
            if n > 0 && prev < Int64(n) {
                throw ArrowError.invalid("run-end encoded '\(name)': last run end \(prev) is below the length \(n)")
            }
            return ArrowArray(type: type, length: n, nullCount: 0, validity: nil, children: [ends, vals])
        }
    }

    mutating func loadDictionaryIndices(_ field: ArrowField, _ enc: DictionaryEncoding, _ n: Int, _ nodeNulls: Int) throws(ArrowError) -> ArrowArray {
        let name = field.name
        var nulls = nodeNulls
        guard let w = enc.indexType.byteWidth, enc.indexType.isInteger else {
            throw ArrowError.invalid("field '\(name)': dictionary index type must be an integer")
        }
        let v = try validity(name, n, &nulls)
        let idx = try values(name, need: try checkedMul(n, w, "index buffer size"), swap: .width(w))
        let dict = dictionaries[enc.id]
        let arr = ArrowArray(type: field.type, length: n, nullCount: nulls, validity: v, values: idx,
                             dictionaryEncoding: enc, dictionary: dict ?? ArrowDictionary(chunks: []))
        let size = dict?.count ?? 0
        for i in 0..<n where arr.isValidSlot(i) {
            let k = arr.dictionaryIndex(i)
            if k < 0 || k >= size {
                if dict == nil {
                    throw ArrowError.invalid("field '\(name)': dictionary id \(enc.id) used before any DictionaryBatch defined it")
                }
                throw ArrowError.invalid("field '\(name)' slot \(i): dictionary index \(k) out of range (dictionary has \(size) values)")
            }
        }
        return arr
    }

    /// Offsets buffer with at least n+1 entries (a 0-byte buffer is accepted for n == 0).
    mutating func offsets(_ name: String, _ n: Int, width: Int) throws(ArrowError) -> ArrowBuffer {
        let b = try nextBuffer(name)
        if n == 0 && b.count < width { return ArrowBuffer([UInt8](repeating: 0, count: 8)) }
        let need = try checkedMul(try checkedAdd(n, 1, "offsets count"), width, "offsets size")
        if b.count < need { throw ArrowError.invalid("field '\(name)': offsets buffer has \(b.count) bytes, needs \(need)") }
        if bigEndian { return byteSwapped(b.prefix(need), .width(width)) }
        return b
    }

    /// Offsets non-negative, non-decreasing and ≤ limit. Returns (first, last).
    func checkOffsets(_ b: ArrowBuffer, _ n: Int, large: Bool, limit: Int, _ name: String) throws(ArrowError) -> (Int, Int) {
        let ok: (Bool, Int64, Int64) = b.withUnsafeBytes { raw in
            if large {
                var prev = raw.loadUnaligned(fromByteOffset: 0, as: Int64.self).littleEndian
                let first = prev
                if prev < 0 { return (false, prev, prev) }
                var i = 1
                while i <= n {
                    let cur = raw.loadUnaligned(fromByteOffset: i &* 8, as: Int64.self).littleEndian
                    if cur < prev { return (false, first, cur) }
                    prev = cur
                    i &+= 1
                }
                return (prev <= Int64(limit), first, prev)
            } else {
                var prev = raw.loadUnaligned(fromByteOffset: 0, as: Int32.self).littleEndian
                let first = prev
                if prev < 0 { return (false, Int64(prev), Int64(prev)) }
                var bad = false
                var i = 1
                while i <= n {
                    let cur = raw.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self).littleEndian
                    bad = bad || cur < prev
                    prev = cur
                    i &+= 1
                }
                return (!bad && Int64(prev) <= Int64(limit), Int64(first), Int64(prev))
            }
        }
        if !ok.0 {
            throw ArrowError.invalid("field '\(name)': offsets are negative, decreasing or beyond the \(limit) available values")
        }
        return (Int(ok.1), Int(ok.2))
    }

    func checkUTF8(_ data: ArrowBuffer, _ offs: ArrowBuffer, _ n: Int, large: Bool, _ first: Int, _ last: Int, _ name: String) throws(ArrowError) {
        if last <= first { return }
        let (valid, nonASCII) = data.withUnsafeBytes { UTF8Check.validate(UnsafeRawBufferPointer(rebasing: $0[first..<last])) }
        if !valid { throw ArrowError.invalid("field '\(name)': string data is not valid UTF-8") }
        if !nonASCII { return }
        // Whole range is valid UTF-8; each value is valid iff no offset splits a sequence.
        for i in 0...n {
            let o = large ? Int(offs.load(i, as: Int64.self)) : Int(offs.load(i, as: Int32.self))
            if o < last, data.byte(o) & 0xC0 == 0x80 {
                throw ArrowError.invalid("field '\(name)': value \(i) does not start on a UTF-8 character boundary")
            }
        }
    }

    func checkViews(_ a: ArrowArray, utf8: Bool, _ name: String) throws(ArrowError) {
        for i in 0..<a.length {
            let base = i * 16
            let len = Int(a.values.load(byteOffset: base, as: Int32.self))
            if len < 0 { throw ArrowError.invalid("view '\(name)' slot \(i): negative length") }
            if len > 12 {
                let bi = Int(a.values.load(byteOffset: base + 8, as: Int32.self))
                let off = Int(a.values.load(byteOffset: base + 12, as: Int32.self))
                guard bi >= 0, bi < a.variadic.count else {
                    throw ArrowError.invalid("view '\(name)' slot \(i): data buffer index \(bi) out of range")
                }
                let buf = a.variadic[bi]
                if off < 0 || off > buf.count - len {
                    throw ArrowError.invalid("view '\(name)' slot \(i): \(off)+\(len) outside data buffer \(bi)")
                }
                if options.validateFully && a.isValidSlot(i) {
                    for k in 0..<4 where buf.byte(off + k) != a.values.byte(base + 4 + k) {
                        throw ArrowError.invalid("view '\(name)' slot \(i): prefix does not match the data")
                    }
                }
            }
            if utf8 && options.validateFully && a.isValidSlot(i) {
                let (buf, off, l) = a.viewLocation(i)
                let ok = buf.withUnsafeBytes { UTF8Check.isValid(UnsafeRawBufferPointer(rebasing: $0[off..<(off + l)])) }
                if !ok { throw ArrowError.invalid("view '\(name)' slot \(i) is not valid UTF-8") }
            }
        }
    }
}

/// Number of set bits among the first `bits` bits of an LSB-first bitmap.
func popcount(_ raw: UnsafeRawBufferPointer, bits: Int) -> Int {
    let full = bits / 64
    var total = 0
    for w in 0..<full {
        total &+= raw.loadUnaligned(fromByteOffset: w &* 8, as: UInt64.self).littleEndian.nonzeroBitCount
    }
    var i = full * 64
    while i < bits {
        if (raw[i >> 3] >> UInt8(i & 7)) & 1 == 1 { total &+= 1 }
        i &+= 1
    }
    return total
}

/// One result slot per parallel job; each slot is written by exactly one job, and read
/// only after `concurrentPerform` returned.
final class ParallelResults: @unchecked Sendable {
    private var slots: [Result<[UInt8], ArrowError>?]
    private let lock = PthreadMutex()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ r: Result<[UInt8], ArrowError>) {
        lock.withLock { slots[i] = r }
    }

    func get(_ i: Int) -> Result<[UInt8], ArrowError>? {
        lock.withLock { slots[i] }
    }
}

/// Minimal mutex over pthread (Foundation-free).
final class PthreadMutex: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }

    func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return body()
    }
}
