/// Builds Arrow arrays from `ArrowValue`s (the row-oriented convenience path).
///
/// Accepted values per type: ints take `.int`/`.uint` (range-checked); floats also take
/// ints; temporal types take their own case (units converted exactly when they differ) or
/// a raw `.int`; decimals take `.decimal("-1.25")` or `.int`; utf8 takes `.string`;
/// binary kinds take `.binary` or `.string` (its UTF-8 bytes); nested types take
/// `.list`, `.struct` (matched by name, missing names are null), `.map` and
/// `.union`; a dictionary-encoded field takes plain values and builds the dictionary.
extension RecordBatch {
    /// Builds a batch from rows; `rows[r][c]` is the value of column `c` in row `r`.
    ///
    /// Dictionary-encoded columns build their dictionary from the values. Pass the previous
    /// batch as `dictionariesFrom` to start from its dictionaries: new values are appended,
    /// so the encoders send deltas instead of replacements (required by the file format).
    public init(schema: ArrowSchema, rows: [[ArrowValue]], dictionariesFrom previous: RecordBatch? = nil) throws(ArrowError) {
        let ncol = schema.fields.count
        for (r, row) in rows.enumerated() where row.count != ncol {
            throw ArrowError.mismatch("row \(r) has \(row.count) values, the schema has \(ncol) columns")
        }
        var columnValues: [[ArrowValue]] = []
        columnValues.reserveCapacity(ncol)
        for c in 0..<ncol {
            var vals: [ArrowValue] = []
            vals.reserveCapacity(rows.count)
            for row in rows { vals.append(row[c]) }
            columnValues.append(vals)
        }
        let cols = try RecordBatch.buildColumns(schema, columnValues, previous: previous)
        self.init(uncheckedSchema: schema, columns: cols, rowCount: rows.count)
    }

    /// Builds a batch from columns of values (`columns[c][r]`).
    public init(schema: ArrowSchema, columnValues: [[ArrowValue]], dictionariesFrom previous: RecordBatch? = nil) throws(ArrowError) {
        guard columnValues.count == schema.fields.count else {
            throw ArrowError.mismatch("\(columnValues.count) columns for \(schema.fields.count) schema fields")
        }
        let n = columnValues.first?.count ?? 0
        for (f, vals) in zip(schema.fields, columnValues) where vals.count != n {
            throw ArrowError.mismatch("column '\(f.name)' has \(vals.count) values, expected \(n)")
        }
        let cols = try RecordBatch.buildColumns(schema, columnValues, previous: previous)
        self.init(uncheckedSchema: schema, columns: cols, rowCount: n)
    }

    /// Builds every column; top-level fields that share a dictionary id get one shared
    /// dictionary (the union of their values, in first-seen order).
    static func buildColumns(_ schema: ArrowSchema, _ columnValues: [[ArrowValue]],
                             previous: RecordBatch?) throws(ArrowError) -> [ArrowArray] {
        var groups: [Int64: [Int]] = [:]
        for (i, f) in schema.fields.enumerated() {
            if let d = f.dictionary { groups[d.id, default: []].append(i) }
        }
        // Values of the previous batch's dictionary for each id (the seed).
        var seeds: [Int64: [ArrowValue]] = [:]
        if let previous, previous.schema.fields.count == schema.fields.count {
            for (i, f) in schema.fields.enumerated() {
                guard let d = f.dictionary, seeds[d.id] == nil, let pd = previous.columns[i].dictionary,
                      previous.columns[i].type == f.type else { continue }
                seeds[d.id] = (0..<pd.count).map { pd.value(at: $0) }
            }
        }
        var shared: [Int64: SharedDictionary] = [:]
        for (id, members) in groups where members.count > 1 || seeds[id] != nil {
            var index: [ArrowValue: Int] = [:]
            var distinct: [ArrowValue] = []
            for v in seeds[id] ?? [] where index[v] == nil {
                index[v] = distinct.count
                distinct.append(v)
            }
            if distinct.count != (seeds[id]?.count ?? 0) {
                // The seed holds duplicates or nulls: positions would shift; start afresh.
                index = [:]
                distinct = []
            }
            for i in members {
                for v in columnValues[i] where !v.isNull && index[v] == nil {
                    index[v] = distinct.count
                    distinct.append(v)
                }
            }
            var valueField = schema.fields[members[0]]
            valueField.dictionary = nil
            valueField.nullable = true
            for i in members where schema.fields[i].type != valueField.type {
                throw ArrowError.mismatch("fields '\(schema.fields[i].name)' and '\(valueField.name)' share dictionary \(id) with different value types")
            }
            let dict = try ArrowArray.build(valueField, distinct, checkNullable: false, depth: 1)
            shared[id] = SharedDictionary(index: index, dictionary: ArrowDictionary(chunks: [dict]))
        }
        var cols: [ArrowArray] = []
        cols.reserveCapacity(columnValues.count)
        for (f, vals) in zip(schema.fields, columnValues) {
            if let enc = f.dictionary, let sd = shared[enc.id] {
                cols.append(try ArrowArray.buildDictionary(f, enc, vals, depth: 0, shared: sd))
            } else {
                cols.append(try ArrowArray.build(f, vals))
            }
        }
        return cols
    }
}

struct SharedDictionary {
    let index: [ArrowValue: Int]
    let dictionary: ArrowDictionary
}

/// A zero-length array of the field's type.
func emptyArray(for field: ArrowField) throws(ArrowError) -> ArrowArray {
    try ArrowArray.build(field, [])
}

struct BitmapBuilder {
    var bytes: [UInt8] = []
    var count = 0
    var setCount = 0

    init(capacity: Int) { bytes.reserveCapacity((capacity + 7) / 8) }

    @inline(__always)
    mutating func append(_ bit: Bool) {
        if count & 7 == 0 { bytes.append(0) }
        if bit {
            bytes[bytes.count - 1] |= UInt8(1) << UInt8(count & 7)
            setCount += 1
        }
        count += 1
    }
}

extension ArrowArray {
    /// Builds an array of `field`'s type (and dictionary encoding) from values.
    public static func build(_ field: ArrowField, _ values: [ArrowValue]) throws(ArrowError) -> ArrowArray {
        try build(field, values, checkNullable: true, depth: 0)
    }

    static func build(_ field: ArrowField, _ values: [ArrowValue], checkNullable: Bool, depth: Int) throws(ArrowError) -> ArrowArray {
        if depth > 64 { throw ArrowError(.limitExceeded, "values nested deeper than 64 levels") }
        let n = values.count
        let name = field.name
        if checkNullable, !field.nullable, field.type != .null, let r = values.firstIndex(where: { $0.isNull }) {
            if !isUnionOrREE(field.type) {
                throw ArrowError.mismatch("column '\(name)' is not nullable but row \(r) is null")
            }
        }
        if let enc = field.dictionary {
            return try buildDictionary(field, enc, values, depth: depth)
        }
        var valid = BitmapBuilder(capacity: n)
        for v in values { valid.append(!v.isNull) }
        let nulls = n - valid.setCount
        let validity: ArrowBuffer? = nulls > 0 ? ArrowBuffer(valid.bytes) : nil
        func bad(_ r: Int, _ v: ArrowValue) -> ArrowError {
            ArrowError.mismatch("column '\(name)' (\(field.type)) row \(r): cannot store \(v)")
        }
        func fixed<T: FixedWidthInteger>(_ t: T.Type, _ conv: (ArrowValue) throws(ArrowError) -> T?) throws(ArrowError) -> ArrowArray {
            var out: [UInt8] = []
            out.reserveCapacity(n * MemoryLayout<T>.size)
            for (r, v) in values.enumerated() {
                if v.isNull { out.appendLE(T.zero); continue }
                guard let x = try conv(v) else { throw bad(r, v) }
                out.appendLE(x)
            }
            return ArrowArray(type: field.type, length: n, nullCount: nulls, validity: validity, values: ArrowBuffer(out))
        }
        func integer<T: FixedWidthInteger>(_ t: T.Type) throws(ArrowError) -> ArrowArray {
            try fixed(T.self) { v in
                switch v {
                case .int(let x): return T(exactly: x)
                case .uint(let x): return T(exactly: x)
                case .bool(let b): return b ? 1 : 0
                default: return nil
                }
            }
        }
        func raw64(_ v: ArrowValue) -> Int64? {
            switch v {
            case .int(let x): return x
            case .uint(let x): return Int64(exactly: x)
            default: return nil
            }
        }
        switch field.type {
        case .null:
            return ArrowArray(type: .null, length: n, nullCount: n, validity: nil)
        case .bool:
            var bits = BitmapBuilder(capacity: n)
            for (r, v) in values.enumerated() {
                switch v {
                case .null: bits.append(false)
                case .bool(let b): bits.append(b)
                case .int(let x): bits.append(x != 0)
                default: throw bad(r, v)
                }
            }
            return ArrowArray(type: .bool, length: n, nullCount: nulls, validity: validity, values: ArrowBuffer(bits.bytes))
        case .int8: return try integer(Int8.self)
        case .int16: return try integer(Int16.self)
        case .int32: return try integer(Int32.self)
        case .int64: return try integer(Int64.self)
        case .uint8: return try integer(UInt8.self)
        case .uint16: return try integer(UInt16.self)
        case .uint32: return try integer(UInt32.self)
        case .uint64: return try integer(UInt64.self)
        case .float16:
            return try fixed(UInt16.self) { v in v.doubleValue.map(doubleToHalf) }
        case .float32:
            return try fixed(UInt32.self) { v in v.doubleValue.map { Float($0).bitPattern } }
        case .float64:
            return try fixed(UInt64.self) { v in v.doubleValue.map { $0.bitPattern } }
        case .decimal(let precision, let scale, let bw):
            var out: [UInt8] = []
            out.reserveCapacity(n * bw / 8)
            for (r, v) in values.enumerated() {
                var limbs: [UInt64]
                switch v {
                case .null: limbs = [0]
                case .decimal(let s):
                    guard let l = parseDecimal(s, scale: scale, precision: precision) else { throw bad(r, v) }
                    limbs = l
                case .int(let x):
                    guard let l = parseDecimal(String(x), scale: scale, precision: precision) else { throw bad(r, v) }
                    limbs = l
                default: throw bad(r, v)
                }
                guard let bytes = twosComplementBytes(limbs, byteWidth: bw / 8) else { throw bad(r, v) }
                out += bytes
            }
            return ArrowArray(type: field.type, length: n, nullCount: nulls, validity: validity, values: ArrowBuffer(out))
        case .date32:
            return try fixed(Int32.self) { v in
                switch v {
                case .date(let x, .day): return Int32(exactly: x)
                case .date(let x, .millisecond): return x % 86_400_000 == 0 ? Int32(exactly: x / 86_400_000) : nil
                default: return raw64(v).flatMap { Int32(exactly: $0) }
                }
            }
        case .date64:
            return try fixed(Int64.self) { v in
                switch v {
                case .date(let x, .millisecond): return x
                case .date(let x, .day):
                    let (r, o) = x.multipliedReportingOverflow(by: 86_400_000)
                    return o ? nil : r
                default: return raw64(v)
                }
            }
        case .time32(let unit):
            return try fixed(Int32.self) { v in
                if case .time(let x, let u) = v { return convertUnit(x, from: u, to: unit).flatMap { Int32(exactly: $0) } }
                return raw64(v).flatMap { Int32(exactly: $0) }
            }
        case .time64(let unit):
            return try fixed(Int64.self) { v in
                if case .time(let x, let u) = v { return convertUnit(x, from: u, to: unit) }
                return raw64(v)
            }
        case .timestamp(let unit, _):
            return try fixed(Int64.self) { v in
                if case .timestamp(let x, let u, _) = v { return convertUnit(x, from: u, to: unit) }
                return raw64(v)
            }
        case .duration(let unit):
            return try fixed(Int64.self) { v in
                if case .duration(let x, let u) = v { return convertUnit(x, from: u, to: unit) }
                return raw64(v)
            }
        case .interval(let unit):
            let w = unit == .yearMonth ? 4 : (unit == .dayTime ? 8 : 16)
            var out: [UInt8] = []
            out.reserveCapacity(n * w)
            for (r, v) in values.enumerated() {
                switch (unit, v) {
                case (_, .null): out += [UInt8](repeating: 0, count: w)
                case (.yearMonth, .interval(.yearMonth(let m))): out.appendLE(m)
                case (.dayTime, .interval(.dayTime(let d, let ms))): out.appendLE(d); out.appendLE(ms)
                case (.monthDayNano, .interval(.monthDayNano(let m, let d, let ns))):
                    out.appendLE(m); out.appendLE(d); out.appendLE(ns)
                default: throw bad(r, v)
                }
            }
            return ArrowArray(type: field.type, length: n, nullCount: nulls, validity: validity, values: ArrowBuffer(out))
        case .fixedSizeBinary(let w):
            var out: [UInt8] = []
            out.reserveCapacity(n * w)
            for (r, v) in values.enumerated() {
                switch v {
                case .null: out += [UInt8](repeating: 0, count: w)
                case .binary(let b) where b.count == w: out += b
                case .string(let s) where s.utf8.count == w: out += Array(s.utf8)
                default: throw bad(r, v)
                }
            }
            return ArrowArray(type: field.type, length: n, nullCount: nulls, validity: validity, values: ArrowBuffer(out))
        case .utf8, .largeUtf8, .binary, .largeBinary, .utf8View, .binaryView:
            let isString: Bool
            switch field.type { case .utf8, .largeUtf8, .utf8View: isString = true; default: isString = false }
            var data: [UInt8] = []
            var ends: [Int] = []
            ends.reserveCapacity(n)
            for (r, v) in values.enumerated() {
                switch v {
                case .null: break
                case .string(let s): data.append(contentsOf: s.utf8)
                case .binary(let b) where !isString: data += b
                default: throw bad(r, v)
                }
                ends.append(data.count)
            }
            return try varBinary(field.type, n, nulls, validity, data, ends, name)
        case .list(let child), .largeList(let child), .listView(let child), .largeListView(let child):
            var items: [ArrowValue] = []
            var ends: [Int] = []
            ends.reserveCapacity(n)
            for (r, v) in values.enumerated() {
                switch v {
                case .null: break
                case .list(let xs): items += xs
                default: throw bad(r, v)
                }
                ends.append(items.count)
            }
            let c = try build(child, items, checkNullable: true, depth: depth + 1)
            var offs: [UInt8] = []
            var sizes: [UInt8] = []
            switch field.type {
            case .list:
                guard items.count <= Int(Int32.max) else { throw ArrowError(.limitExceeded, "list '\(name)' has more than 2^31-1 items; use largeList") }
                offs.appendLE(Int32(0)); for e in ends { offs.appendLE(Int32(e)) }
            case .largeList:
                offs.appendLE(Int64(0)); for e in ends { offs.appendLE(Int64(e)) }
            case .listView:
                guard items.count <= Int(Int32.max) else { throw ArrowError(.limitExceeded, "list view '\(name)' too large; use largeListView") }
                var prev = 0
                for e in ends { offs.appendLE(Int32(prev)); sizes.appendLE(Int32(e - prev)); prev = e }
            default:
                var prev = 0
                for e in ends { offs.appendLE(Int64(prev)); sizes.appendLE(Int64(e - prev)); prev = e }
            }
            return ArrowArray(type: field.type, length: n, nullCount: nulls, validity: validity, values: ArrowBuffer(offs),
                              data: ArrowBuffer(sizes), children: [c])
        case .fixedSizeList(let child, let size):
            var items: [ArrowValue] = []
            items.reserveCapacity(n * size)
            for (r, v) in values.enumerated() {
                switch v {
                case .null: items += [ArrowValue](repeating: .null, count: size)
                case .list(let xs) where xs.count == size: items += xs
                default: throw bad(r, v)
                }
            }
            let c = try build(child, items, checkNullable: false, depth: depth + 1)
            return ArrowArray(type: field.type, length: n, nullCount: nulls, validity: validity, children: [c])
        case .struct(let fields):
            var cols = [[ArrowValue]](repeating: [], count: fields.count)
            for k in cols.indices { cols[k].reserveCapacity(n) }
            for (r, v) in values.enumerated() {
                switch v {
                case .null:
                    for k in cols.indices { cols[k].append(.null) }
                case .struct(let pairs):
                    for (k, f) in fields.enumerated() {
                        if k < pairs.count, pairs[k].name == f.name {
                            cols[k].append(pairs[k].value)
                        } else {
                            cols[k].append(pairs.first { $0.name == f.name }?.value ?? .null)
                        }
                    }
                default: throw bad(r, v)
                }
            }
            var children: [ArrowArray] = []
            for (k, f) in fields.enumerated() {
                children.append(try build(f, cols[k], checkNullable: nulls == 0, depth: depth + 1))
            }
            return ArrowArray(type: field.type, length: n, nullCount: nulls, validity: validity, children: children)
        case .map(let entries, _):
            guard case .struct(let kv) = entries.type, kv.count == 2 else {
                throw ArrowError.mismatch("map '\(name)': entries must be a struct of key and value")
            }
            var keys: [ArrowValue] = [], vals: [ArrowValue] = []
            var ends: [Int32] = []
            for (r, v) in values.enumerated() {
                switch v {
                case .null: break
                case .map(let pairs):
                    for p in pairs {
                        if p.key.isNull { throw ArrowError.mismatch("map '\(name)' row \(r): null key") }
                        keys.append(p.key)
                        vals.append(p.value)
                    }
                default: throw bad(r, v)
                }
                guard let e = Int32(exactly: keys.count) else { throw ArrowError(.limitExceeded, "map '\(name)' too large") }
                ends.append(e)
            }
            let kArr = try build(kv[0], keys, checkNullable: true, depth: depth + 2)
            let vArr = try build(kv[1], vals, checkNullable: true, depth: depth + 2)
            let entriesArr = ArrowArray(type: entries.type, length: keys.count, nullCount: 0, validity: nil, children: [kArr, vArr])
            var offs: [UInt8] = []
            offs.appendLE(Int32(0))
            for e in ends { offs.appendLE(e) }
            return ArrowArray(type: field.type, length: n, nullCount: nulls, validity: validity, values: ArrowBuffer(offs),
                              children: [entriesArr])
        case .union(let mode, let fields, let ids):
            guard !fields.isEmpty else { throw ArrowError.mismatch("union '\(name)' has no children") }
            var childOf = [Int](repeating: -1, count: 128)
            for (k, id) in ids.enumerated() where id >= 0 { childOf[Int(id)] = k }
            var types: [UInt8] = []
            var offs: [UInt8] = []
            var cols = [[ArrowValue]](repeating: [], count: fields.count)
            for (r, v) in values.enumerated() {
                var code = ids.first ?? 0
                var inner = ArrowValue.null
                switch v {
                case .null: break
                case .union(let t, let x):
                    guard t >= 0, childOf[Int(t)] >= 0 else { throw bad(r, v) }
                    code = t
                    inner = x
                default: throw bad(r, v)
                }
                let k = childOf[Int(code)]
                types.append(UInt8(bitPattern: code))
                if mode == .sparse {
                    for j in cols.indices { cols[j].append(j == k ? inner : .null) }
                } else {
                    offs.appendLE(Int32(cols[k].count))
                    cols[k].append(inner)
                }
            }
            var children: [ArrowArray] = []
            for (k, f) in fields.enumerated() {
                children.append(try build(f, cols[k], checkNullable: false, depth: depth + 1))
            }
            return ArrowArray(type: field.type, length: n, nullCount: 0, validity: nil, values: ArrowBuffer(types),
                              data: ArrowBuffer(offs), children: children)
        case .runEndEncoded(let endsField, let valuesField):
            var runValues: [ArrowValue] = []
            var runEnds: [ArrowValue] = []
            for (k, v) in values.enumerated() {
                if let last = runValues.last, last == v {
                    runEnds[runEnds.count - 1] = .int(Int64(k + 1))
                } else {
                    runValues.append(v)
                    runEnds.append(.int(Int64(k + 1)))
                }
            }
            let e = try build(endsField, runEnds, checkNullable: false, depth: depth + 1)
            let vals = try build(valuesField, runValues, checkNullable: false, depth: depth + 1)
            return ArrowArray(type: field.type, length: n, nullCount: 0, validity: nil, children: [e, vals])
        }
    }

    static func checkNullableFails(_ field: ArrowField, _ values: [ArrowValue]) -> Bool {
        !field.nullable && values.contains { $0.isNull }
    }

    static func isUnionOrREE(_ t: ArrowType) -> Bool {
        switch t {
        case .union, .runEndEncoded: return true
        default: return false
        }
    }

    static func varBinary(_ type: ArrowType, _ n: Int, _ nulls: Int, _ validity: ArrowBuffer?, _ data: [UInt8],
                          _ ends: [Int], _ name: String) throws(ArrowError) -> ArrowArray {
        switch type {
        case .utf8, .binary:
            guard data.count <= Int(Int32.max) else {
                throw ArrowError(.limitExceeded, "column '\(name)' holds more than 2 GiB; use largeUtf8 / largeBinary")
            }
            var offs: [UInt8] = []
            offs.reserveCapacity(4 * (n + 1))
            offs.appendLE(Int32(0))
            for e in ends { offs.appendLE(Int32(e)) }
            return ArrowArray(type: type, length: n, nullCount: nulls, validity: validity, values: ArrowBuffer(offs), data: ArrowBuffer(data))
        case .largeUtf8, .largeBinary:
            var offs: [UInt8] = []
            offs.reserveCapacity(8 * (n + 1))
            offs.appendLE(Int64(0))
            for e in ends { offs.appendLE(Int64(e)) }
            return ArrowArray(type: type, length: n, nullCount: nulls, validity: validity, values: ArrowBuffer(offs), data: ArrowBuffer(data))
        default:  // views: short values inline, long ones in a single data buffer
            guard data.count <= Int(Int32.max) else { throw ArrowError(.limitExceeded, "view column '\(name)' holds more than 2 GiB") }
            var views: [UInt8] = []
            views.reserveCapacity(16 * n)
            var out: [UInt8] = []
            var prev = 0
            for e in ends {
                let len = e - prev
                views.appendLE(Int32(len))
                if len <= 12 {
                    views += data[prev..<e]
                    views += [UInt8](repeating: 0, count: 12 - len)
                } else {
                    views += data[prev..<(prev + 4)]
                    views.appendLE(Int32(0))
                    views.appendLE(Int32(out.count))
                    out += data[prev..<e]
                }
                prev = e
            }
            return ArrowArray(type: type, length: n, nullCount: nulls, validity: validity, values: ArrowBuffer(views),
                              variadic: out.isEmpty ? [] : [ArrowBuffer(out)])
        }
    }

    static func buildDictionary(_ field: ArrowField, _ enc: DictionaryEncoding, _ values: [ArrowValue], depth: Int,
                                shared: SharedDictionary? = nil) throws(ArrowError) -> ArrowArray {
        if checkNullableFails(field, values) {
            throw ArrowError.mismatch("column '\(field.name)' is not nullable but has a null")
        }
        var index: [ArrowValue: Int] = shared?.index ?? [:]
        var distinct: [ArrowValue] = []
        var ids: [Int] = []
        ids.reserveCapacity(values.count)
        var valid = BitmapBuilder(capacity: values.count)
        for v in values {
            if v.isNull { ids.append(0); valid.append(false); continue }
            valid.append(true)
            if let k = index[v] { ids.append(k); continue }
            index[v] = distinct.count
            ids.append(distinct.count)
            distinct.append(v)
        }
        let dictionary: ArrowDictionary
        if let shared {
            dictionary = shared.dictionary
            distinct = [ArrowValue](repeating: .null, count: shared.dictionary.count)
        } else {
            var valueField = field
            valueField.dictionary = nil
            valueField.nullable = true
            dictionary = ArrowDictionary(chunks: [try build(valueField, distinct, checkNullable: false, depth: depth + 1)])
        }
        guard let w = enc.indexType.byteWidth, enc.indexType.isInteger else {
            throw ArrowError.mismatch("field '\(field.name)': dictionary index type must be an integer")
        }
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * w)
        let maxIndex: Int
        switch enc.indexType {
        case .int8: maxIndex = Int(Int8.max)
        case .uint8: maxIndex = Int(UInt8.max)
        case .int16: maxIndex = Int(Int16.max)
        case .uint16: maxIndex = Int(UInt16.max)
        case .int32: maxIndex = Int(Int32.max)
        case .uint32: maxIndex = Int(UInt32.max)
        default: maxIndex = Int.max
        }
        if distinct.count - 1 > maxIndex {
            throw ArrowError.mismatch("field '\(field.name)': \(distinct.count) distinct values do not fit index type \(enc.indexType)")
        }
        for k in ids {
            switch w {
            case 1: out.append(UInt8(truncatingIfNeeded: k))
            case 2: out.appendLE(UInt16(truncatingIfNeeded: k))
            case 4: out.appendLE(UInt32(truncatingIfNeeded: k))
            default: out.appendLE(UInt64(truncatingIfNeeded: k))
            }
        }
        let nulls = values.count - valid.setCount
        return ArrowArray(type: field.type, length: values.count, nullCount: nulls,
                          validity: nulls > 0 ? ArrowBuffer(valid.bytes) : nil, values: ArrowBuffer(out),
                          dictionaryEncoding: enc, dictionary: dictionary)
    }
}

/// Exact unit conversion; nil on overflow or when a coarser unit would lose precision.
func convertUnit(_ v: Int64, from: TimeUnit, to: TimeUnit) -> Int64? {
    if from == to { return v }
    let f = from.ticksPerSecond, t = to.ticksPerSecond
    if t > f {
        let (r, o) = v.multipliedReportingOverflow(by: t / f)
        return o ? nil : r
    }
    let d = f / t
    return v % d == 0 ? v / d : nil
}

/// Parses "-123.45" into the unscaled magnitude limbs of `scale`, two's complement sign
/// carried by returning negated limbs. Returns limbs of a signed 256-bit value.
func parseDecimal(_ text: String, scale: Int, precision: Int) -> [UInt64]? {
    var s = Substring(text.trimmingSpaces)
    var negative = false
    if s.first == "-" { negative = true; s = s.dropFirst() } else if s.first == "+" { s = s.dropFirst() }
    var intPart = Substring(s)
    var frac = Substring("")
    if let dot = s.firstIndex(of: ".") {
        intPart = s[..<dot]
        frac = s[s.index(after: dot)...]
    }
    if intPart.isEmpty && frac.isEmpty { return nil }
    guard intPart.allSatisfy({ $0.isASCII && $0.isNumber }), frac.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    var digits = String(intPart) + String(frac)
    let shift = scale - frac.count
    if shift >= 0 {
        digits += String(repeating: "0", count: shift)
    } else {
        // More fractional digits than the scale: only zeros may be dropped.
        let drop = -shift
        let tail = digits.suffix(drop)
        guard tail.allSatisfy({ $0 == "0" }) else { return nil }
        digits = String(digits.dropLast(drop))
    }
    let trimmed = digits.drop { $0 == "0" }
    if trimmed.count > precision { return nil }
    var limbs = [UInt64](repeating: 0, count: 4)
    for ch in trimmed {
        guard let d = ch.wholeNumberValue else { return nil }
        var carry = UInt64(d)
        for j in 0..<4 {
            let (hi, lo) = limbs[j].multipliedFullWidth(by: 10)
            let (sum, o) = lo.addingReportingOverflow(carry)
            limbs[j] = sum
            carry = hi + (o ? 1 : 0)
        }
        if carry != 0 { return nil }
    }
    if limbs[3] >> 63 != 0 { return nil }
    if negative {
        var carry: UInt64 = 1
        for j in 0..<4 {
            let (v, o) = (~limbs[j]).addingReportingOverflow(carry)
            limbs[j] = v
            carry = o ? 1 : 0
        }
    }
    return limbs
}

/// Little-endian two's-complement bytes of a 256-bit signed value truncated to
/// `byteWidth`, nil if it does not fit.
func twosComplementBytes(_ limbs: [UInt64], byteWidth: Int) -> [UInt8]? {
    var all: [UInt8] = []
    all.reserveCapacity(32)
    for j in 0..<4 { all.appendLE(j < limbs.count ? limbs[j] : 0) }
    let negative = (all[31] & 0x80) != 0
    let fill: UInt8 = negative ? 0xFF : 0
    for k in byteWidth..<32 where all[k] != fill { return nil }
    if byteWidth < 32, ((all[byteWidth - 1] & 0x80) != 0) != negative { return nil }
    return Array(all[0..<byteWidth])
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
