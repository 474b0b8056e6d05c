/// Decodes Schema / Field / Type flatbuffer tables into `ArrowSchema`.
struct SchemaDecoder {
    /// Remaining number of fields we accept; a malicious flatbuffer can reference one child
    /// table many times and make the tree exponential, so the count is capped.
    var fieldBudget: Int
    let maxDepth: Int

    init(metadataSize: Int, maxDepth: Int) {
        self.fieldBudget = Swift.max(1024, metadataSize / 4)
        self.maxDepth = maxDepth
    }

    mutating func schema(_ t: FBTable) throws(ArrowError) -> ArrowSchema {
        // As in Arrow C++, any value other than Big means little endian.
        let e: ArrowEndianness = try t.int(0, Int16.self, 0) == 1 ? .big : .little
        guard let fts = try t.tables(1) else { throw ArrowError.invalid("Schema.fields is missing") }
        var fields: [ArrowField] = []
        fields.reserveCapacity(fts.count)
        for ft in fts { fields.append(try field(ft, depth: 0)) }
        return ArrowSchema(fields: fields, metadata: try t.keyValues(2), endianness: e)
    }

    mutating func field(_ t: FBTable, depth: Int) throws(ArrowError) -> ArrowField {
        if depth > maxDepth { throw ArrowError(.limitExceeded, "schema nesting deeper than \(maxDepth) levels") }
        fieldBudget -= 1
        if fieldBudget < 0 { throw ArrowError(.limitExceeded, "schema has too many fields for its size") }
        let name = try t.string(0) ?? ""
        let nullable = try t.bool(1, false)
        let typeType = try t.int(2, UInt8.self, 0)
        let typeTable = try t.table(3)
        var children: [ArrowField] = []
        if let cts = try t.tables(5) {
            children.reserveCapacity(cts.count)
            for ct in cts { children.append(try field(ct, depth: depth + 1)) }
        }
        let type = try decodeType(typeType, typeTable, children, name: name)
        var dict: DictionaryEncoding?
        if let d = try t.table(4) {
            let id = try d.int(0, Int64.self, 0)
            var indexType = ArrowType.int32
            if let it = try d.table(1) {
                indexType = try intType(it, name: name)
            }
            let kind = try d.int(3, Int16.self, 0)
            if kind != 0 { throw ArrowError.unsupported("dictionary kind \(kind) of field '\(name)'") }
            dict = DictionaryEncoding(id: id, indexType: indexType, isOrdered: try d.bool(2, false))
        }
        return ArrowField(name: name, type: type, nullable: nullable, dictionary: dict,
                          metadata: try t.keyValues(6))
    }

    func intType(_ t: FBTable, name: String) throws(ArrowError) -> ArrowType {
        let bw = try t.int(0, Int32.self, 0)
        let signed = try t.bool(1, false)
        switch (bw, signed) {
        case (8, true): return .int8
        case (16, true): return .int16
        case (32, true): return .int32
        case (64, true): return .int64
        case (8, false): return .uint8
        case (16, false): return .uint16
        case (32, false): return .uint32
        case (64, false): return .uint64
        default: throw ArrowError.invalid("field '\(name)': integer bit width \(bw) is not 8, 16, 32 or 64")
        }
    }

    func timeUnit(_ raw: Int16, name: String) throws(ArrowError) -> TimeUnit {
        guard let u = TimeUnit(rawValue: raw) else { throw ArrowError.invalid("field '\(name)': unknown time unit \(raw)") }
        return u
    }

    func decodeType(_ tt: UInt8, _ table: FBTable?, _ children: [ArrowField], name: String) throws(ArrowError) -> ArrowType {
        func need(_ n: Int) throws(ArrowError) {
            if children.count != n {
                throw ArrowError.invalid("field '\(name)': type \(tt) needs \(n) children, has \(children.count)")
            }
        }
        func scalarType() {
            // Arrow C++ ignores children of primitive types; so do we.
        }
        // Absent type table: read every parameter as its default (lenient, like older writers).
        let t = table
        func i16(_ id: Int, _ def: Int16) throws(ArrowError) -> Int16 { try t?.int(id, Int16.self, def) ?? def }
        func i32(_ id: Int, _ def: Int32) throws(ArrowError) -> Int32 { try t?.int(id, Int32.self, def) ?? def }
        switch tt {
        case 0: throw ArrowError.invalid("field '\(name)' has no type (Field.type_type NONE)")
        case 1: scalarType(); return .null
        case 2:
            scalarType()
            guard let t else { throw ArrowError.invalid("field '\(name)': Int type table missing") }
            return try intType(t, name: name)
        case 3:
            scalarType()
            switch try i16(0, 0) {
            case 0: return .float16
            case 1: return .float32
            case 2: return .float64
            case let p: throw ArrowError.invalid("field '\(name)': unknown float precision \(p)")
            }
        case 4: scalarType(); return .binary
        case 5: scalarType(); return .utf8
        case 6: scalarType(); return .bool
        case 7:
            scalarType()
            let p = Int(try i32(0, 0)), s = Int(try i32(1, 0)), bw = Int(try i32(2, 128))
            guard [32, 64, 128, 256].contains(bw) else {
                throw ArrowError.invalid("field '\(name)': decimal bit width \(bw) is not 32, 64, 128 or 256")
            }
            guard p >= 1, p <= 76, s >= -76, s <= 76 else {
                throw ArrowError.invalid("field '\(name)': decimal precision \(p) / scale \(s) out of range")
            }
            return .decimal(precision: p, scale: s, bitWidth: bw)
        case 8:
            scalarType()
            switch try i16(0, 1) {
            case 0: return .date32
            case 1: return .date64
            case let u: throw ArrowError.invalid("field '\(name)': unknown date unit \(u)")
            }
        case 9:
            scalarType()
            let u = try timeUnit(try i16(0, 1), name: name)
            let bw = try i32(1, 32)
            switch (u, bw) {
            case (.second, 32), (.millisecond, 32): return .time32(u)
            case (.microsecond, 64), (.nanosecond, 64): return .time64(u)
            default: throw ArrowError.invalid("field '\(name)': time unit \(u.symbol) with bit width \(bw)")
            }
        case 10:
            scalarType()
            let u = try timeUnit(try i16(0, 0), name: name)
            let tz = try t?.string(1)
            return .timestamp(u, timezone: (tz?.isEmpty ?? true) ? nil : tz)
        case 11:
            scalarType()
            let raw = try i16(0, 0)
            guard let u = IntervalUnit(rawValue: raw) else {
                throw ArrowError.invalid("field '\(name)': unknown interval unit \(raw)")
            }
            return .interval(u)
        case 12: try need(1); return .list(children[0])
        case 13: return .struct(children)
        case 14:
            let rawMode = try i16(0, 0)
            guard let mode = UnionMode(rawValue: rawMode) else {
                throw ArrowError.invalid("field '\(name)': unknown union mode \(rawMode)")
            }
            var ids: [Int8] = []
            if let v = try t?.vector(1, elementSize: 4) {
                if v.count != children.count {
                    throw ArrowError.invalid("field '\(name)': union has \(v.count) type ids for \(children.count) children")
                }
                for i in 0..<v.count {
                    let id = try v.scalar(i, Int32.self)
                    guard id >= 0, id <= 127 else { throw ArrowError.invalid("field '\(name)': union type id \(id) out of 0...127") }
                    ids.append(Int8(id))
                }
            } else {
                guard children.count <= 128 else { throw ArrowError.invalid("field '\(name)': union has more than 128 children") }
                ids = children.indices.map { Int8(truncatingIfNeeded: $0) }
            }
            if Set(ids).count != ids.count { throw ArrowError.invalid("field '\(name)': duplicate union type ids") }
            return .union(mode, children, typeIds: ids)
        case 15:
            scalarType()
            let w = try i32(0, 0)
            guard w >= 0 else { throw ArrowError.invalid("field '\(name)': negative fixed-size binary width") }
            return .fixedSizeBinary(Int(w))
        case 16:
            try need(1)
            let n = try i32(0, 0)
            guard n >= 0 else { throw ArrowError.invalid("field '\(name)': negative fixed-size list size") }
            return .fixedSizeList(children[0], size: Int(n))
        case 17:
            try need(1)
            guard case .struct(let kv) = children[0].type, kv.count == 2 else {
                throw ArrowError.invalid("field '\(name)': map child must be a struct of key and value")
            }
            if children[0].dictionary != nil { throw ArrowError.invalid("field '\(name)': map entries cannot be dictionary-encoded") }
            return .map(children[0], keysSorted: try t?.bool(0, false) ?? false)
        case 18:
            scalarType()
            return .duration(try timeUnit(try i16(0, 1), name: name))
        case 19: scalarType(); return .largeBinary
        case 20: scalarType(); return .largeUtf8
        case 21: try need(1); return .largeList(children[0])
        case 22:
            try need(2)
            switch children[0].type {
            case .int16, .int32, .int64: break
            default: throw ArrowError.invalid("field '\(name)': run ends must be int16, int32 or int64")
            }
            if children[0].dictionary != nil { throw ArrowError.invalid("field '\(name)': run ends cannot be dictionary-encoded") }
            return .runEndEncoded(runEnds: children[0], values: children[1])
        case 23: scalarType(); return .binaryView
        case 24: scalarType(); return .utf8View
        case 25: try need(1); return .listView(children[0])
        case 26: try need(1); return .largeListView(children[0])
        default:
            throw ArrowError.unsupported("field '\(name)': unknown type id \(tt)")
        }
    }
}
