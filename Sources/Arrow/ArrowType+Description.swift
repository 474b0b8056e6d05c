extension ArrowType: CustomStringConvertible {
    /// pyarrow-style type name: "int64", "timestamp[us, tz=UTC]", "list<item: int32>".
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .uint8: return "uint8"
        case .uint16: return "uint16"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .float16: return "halffloat"
        case .float32: return "float"
        case .float64: return "double"
        case .decimal(let p, let s, let bw): return "decimal\(bw)(\(p), \(s))"
        case .date32: return "date32[day]"
        case .date64: return "date64[ms]"
        case .time32(let u): return "time32[\(u.symbol)]"
        case .time64(let u): return "time64[\(u.symbol)]"
        case .timestamp(let u, let tz):
            if let tz, !tz.isEmpty { return "timestamp[\(u.symbol), tz=\(tz)]" }
            return "timestamp[\(u.symbol)]"
        case .duration(let u): return "duration[\(u.symbol)]"
        case .interval(let u):
            switch u {
            case .yearMonth: return "month_interval"
            case .dayTime: return "day_time_interval"
            case .monthDayNano: return "month_day_nano_interval"
            }
        case .binary: return "binary"
        case .largeBinary: return "large_binary"
        case .binaryView: return "binary_view"
        case .fixedSizeBinary(let w): return "fixed_size_binary[\(w)]"
        case .utf8: return "string"
        case .largeUtf8: return "large_string"
        case .utf8View: return "string_view"
        case .list(let f): return "list<\(f.shortDescription)>"
        case .largeList(let f): return "large_list<\(f.shortDescription)>"
        case .listView(let f): return "list_view<\(f.shortDescription)>"
        case .largeListView(let f): return "large_list_view<\(f.shortDescription)>"
        case .fixedSizeList(let f, let n): return "fixed_size_list<\(f.shortDescription)>[\(n)]"
        case .struct(let fs): return "struct<\(fs.map(\.shortDescription).joined(separator: ", "))>"
        case .map(let e, let sorted):
            let kv = e.type.children
            let k = kv.first?.typeDescription ?? "?"
            let v = kv.count > 1 ? kv[1].typeDescription : "?"
            return "map<\(k), \(v)\(sorted ? ", keys_sorted" : "")>"
        case .union(let mode, let fs, let ids):
            let parts = zip(fs, ids).map { "\($0.shortDescription)=\($1)" }
            return "\(mode == .sparse ? "sparse" : "dense")_union<\(parts.joined(separator: ", "))>"
        case .runEndEncoded(let r, let v):
            return "run_end_encoded<run_ends: \(r.type), values: \(v.typeDescription)>"
        }
    }
}

extension ArrowField {
    /// Type including dictionary encoding: "dictionary<values=string, indices=int32, ordered=0>".
    public var typeDescription: String {
        if let d = dictionary {
            return "dictionary<values=\(type), indices=\(d.indexType), ordered=\(d.isOrdered ? 1 : 0)>"
        }
        return type.description
    }

    /// "name: type" (plus " not null").
    public var shortDescription: String {
        "\(name): \(typeDescription)\(nullable ? "" : " not null")"
    }
}

extension ArrowSchema: CustomStringConvertible {
    /// One line per field, nested children as "  child 0, name: type" (pyarrow's format).
    public var description: String {
        var lines: [String] = []
        func walk(_ f: ArrowField, _ depth: Int, _ index: Int) {
            if depth == 0 {
                lines.append(f.shortDescription)
            } else {
                lines.append(String(repeating: " ", count: 2 + 4 * (depth - 1)) + "child \(index), " + f.shortDescription)
            }
            for (i, c) in f.type.children.enumerated() { walk(c, depth + 1, i) }
        }
        for f in fields { walk(f, 0, 0) }
        if !metadata.isEmpty {
            lines.append("-- schema metadata --")
            for kv in metadata { lines.append("\(kv.key): \(kv.value)") }
        }
        return lines.joined(separator: "\n")
    }
}
