/// Builds the flatbuffer tables of Schema, Message, RecordBatch and Footer.
enum MetadataEncoder {
    static func keyValues(_ kvs: [ArrowKeyValue]) -> FBNode {
        .tableVector(kvs.map { .table([FBSlot(0, .ref(.string($0.key))), FBSlot(1, .ref(.string($0.value)))]) })
    }

    static func schema(_ s: ArrowSchema) -> FBNode {
        var slots = [FBSlot(1, .ref(.tableVector(s.fields.map(field))))]
        if !s.metadata.isEmpty { slots.append(FBSlot(2, .ref(keyValues(s.metadata)))) }
        return .table(slots)
    }

    static func intTable(_ t: ArrowType) -> FBNode {
        let (bw, signed): (Int32, Bool)
        switch t {
        case .int8: (bw, signed) = (8, true)
        case .int16: (bw, signed) = (16, true)
        case .int32: (bw, signed) = (32, true)
        case .int64: (bw, signed) = (64, true)
        case .uint8: (bw, signed) = (8, false)
        case .uint16: (bw, signed) = (16, false)
        case .uint32: (bw, signed) = (32, false)
        default: (bw, signed) = (64, false)
        }
        return .table([FBSlot(0, .i32(bw)), FBSlot(1, .bool(signed))])
    }

    /// (Type union id, type table).
    static func typeTable(_ t: ArrowType) -> (UInt8, FBNode) {
        switch t {
        case .null: return (1, .table([]))
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64: return (2, intTable(t))
        case .float16: return (3, .table([FBSlot(0, .i16(0))]))
        case .float32: return (3, .table([FBSlot(0, .i16(1))]))
        case .float64: return (3, .table([FBSlot(0, .i16(2))]))
        case .binary: return (4, .table([]))
        case .utf8: return (5, .table([]))
        case .bool: return (6, .table([]))
        case .decimal(let p, let s, let bw):
            return (7, .table([FBSlot(0, .i32(Int32(truncatingIfNeeded: p))), FBSlot(1, .i32(Int32(truncatingIfNeeded: s))),
                               FBSlot(2, .i32(Int32(truncatingIfNeeded: bw)))]))
        case .date32: return (8, .table([FBSlot(0, .i16(0))]))
        case .date64: return (8, .table([FBSlot(0, .i16(1))]))
        case .time32(let u): return (9, .table([FBSlot(0, .i16(u.rawValue)), FBSlot(1, .i32(32))]))
        case .time64(let u): return (9, .table([FBSlot(0, .i16(u.rawValue)), FBSlot(1, .i32(64))]))
        case .timestamp(let u, let tz):
            var slots = [FBSlot(0, .i16(u.rawValue))]
            if let tz, !tz.isEmpty { slots.append(FBSlot(1, .ref(.string(tz)))) }
            return (10, .table(slots))
        case .interval(let u): return (11, .table([FBSlot(0, .i16(u.rawValue))]))
        case .list: return (12, .table([]))
        case .struct: return (13, .table([]))
        case .union(let mode, _, let ids):
            var bytes: [UInt8] = []
            for id in ids { bytes.appendLE(Int32(id)) }
            return (14, .table([FBSlot(0, .i16(mode.rawValue)),
                                FBSlot(1, .ref(.inlineVector(align: 4, count: ids.count, bytes: bytes)))]))
        case .fixedSizeBinary(let w): return (15, .table([FBSlot(0, .i32(Int32(truncatingIfNeeded: w)))]))
        case .fixedSizeList(_, let n): return (16, .table([FBSlot(0, .i32(Int32(truncatingIfNeeded: n)))]))
        case .map(_, let sorted): return (17, .table([FBSlot(0, .bool(sorted))]))
        case .duration(let u): return (18, .table([FBSlot(0, .i16(u.rawValue))]))
        case .largeBinary: return (19, .table([]))
        case .largeUtf8: return (20, .table([]))
        case .largeList: return (21, .table([]))
        case .runEndEncoded: return (22, .table([]))
        case .binaryView: return (23, .table([]))
        case .utf8View: return (24, .table([]))
        case .listView: return (25, .table([]))
        case .largeListView: return (26, .table([]))
        }
    }

    static func field(_ f: ArrowField) -> FBNode {
        let (tt, table) = typeTable(f.type)
        var slots = [FBSlot(0, .ref(.string(f.name))), FBSlot(1, .bool(f.nullable)), FBSlot(2, .u8(tt)),
                     FBSlot(3, .ref(table)), FBSlot(5, .ref(.tableVector(f.type.children.map(field))))]
        if let d = f.dictionary {
            slots.append(FBSlot(4, .ref(.table([FBSlot(0, .i64(d.id)), FBSlot(1, .ref(intTable(d.indexType))),
                                                FBSlot(2, .bool(d.isOrdered))]))))
        }
        if !f.metadata.isEmpty { slots.append(FBSlot(6, .ref(keyValues(f.metadata)))) }
        return .table(slots)
    }

    static func message(headerType: UInt8, header: FBNode, bodyLength: Int, version: Int16) -> [UInt8] {
        FBBuilder.finish(.table([FBSlot(0, .i16(version)), FBSlot(1, .u8(headerType)), FBSlot(2, .ref(header)),
                                 FBSlot(3, .i64(Int64(bodyLength)))]))
    }

    static func recordBatch(length: Int, body: BodyWriter) -> FBNode {
        var nodes: [UInt8] = []
        nodes.reserveCapacity(body.nodes.count * 16)
        for (l, n) in body.nodes { nodes.appendLE(Int64(l)); nodes.appendLE(Int64(n)) }
        var bufs: [UInt8] = []
        bufs.reserveCapacity(body.buffers.count * 16)
        for (o, l) in body.buffers { bufs.appendLE(Int64(o)); bufs.appendLE(Int64(l)) }
        var slots = [FBSlot(0, .i64(Int64(length))),
                     FBSlot(1, .ref(.inlineVector(align: 8, count: body.nodes.count, bytes: nodes))),
                     FBSlot(2, .ref(.inlineVector(align: 8, count: body.buffers.count, bytes: bufs)))]
        if let c = body.compression {
            slots.append(FBSlot(3, .ref(.table([FBSlot(0, .i8(c.codecId)), FBSlot(1, .i8(0))]))))
        }
        if body.hasViews {
            var v: [UInt8] = []
            for c in body.variadicCounts { v.appendLE(Int64(c)) }
            slots.append(FBSlot(4, .ref(.inlineVector(align: 8, count: body.variadicCounts.count, bytes: v))))
        }
        return .table(slots)
    }
}
