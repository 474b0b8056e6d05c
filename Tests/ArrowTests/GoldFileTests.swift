import Foundation
import Testing
@testable import HyphaArrow

/// Walks every gold file of apache/arrow-testing's IPC integration folders (stream and
/// file) and compares each value with the Arrow integration JSON next to it.
///
/// Left out: none of the cases in these folders. `1.0.0-bigendian` is read too (bodies are
/// byte-swapped to little endian).
@Suite(.timeLimit(.minutes(3))) struct GoldFileTests {
    static let folders = ["cpp-21.0.0", "1.0.0-littleendian", "1.0.0-bigendian", "0.14.1", "0.17.1",
                          "2.0.0-compression", "4.0.0-shareddict"]

    @Test(.enabled(if: TestSupport.referenceMissing == nil, TestSupport.referenceMissing ?? ""), arguments: folders)
    func goldFolder(_ folder: String) throws {
        let dir = try #require(TestSupport.reference("arrow-testing/data/arrow-ipc-stream/integration/\(folder)"))
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".json.gz") }.map { String($0.dropLast(8)) }.sorted()
        #expect(!names.isEmpty)
        var checked = 0
        for name in names {
            let json = try JSONSerialization.jsonObject(with: TestSupport.gunzip(dir.appendingPathComponent(name + ".json.gz")))
            guard let gold = json as? [String: Any] else { Issue.record("\(name): bad JSON"); continue }
            for ext in ["stream", "arrow_file"] {
                let url = dir.appendingPathComponent("\(name).\(ext)")
                guard FileManager.default.fileExists(atPath: url.path) else { continue }
                let label = "\(folder)/\(name).\(ext)"
                do {
                    let table = try ArrowIPC.read(TestSupport.bytes(url))
                    #expect(table.format == (ext == "stream" ? .stream : .file), "\(label)")
                    var cmp = GoldCompare(gold: gold, label: label)
                    try cmp.check(table)
                    checked += 1
                } catch {
                    Issue.record("\(label): \(error)")
                }
            }
        }
        print("gold \(folder): \(checked) files checked")
    }
}

/// Compares an ArrowTable with an integration-JSON document.
struct GoldCompare {
    let gold: [String: Any]
    let label: String
    var dictionaryFields: [Int64: ArrowField] = [:]
    var dictionaryJSON: [Int64: [String: Any]] = [:]

    init(gold: [String: Any], label: String) {
        self.gold = gold
        self.label = label
        for d in gold["dictionaries"] as? [[String: Any]] ?? [] {
            if let id = (d["id"] as? NSNumber)?.int64Value, let data = d["data"] as? [String: Any] {
                dictionaryJSON[id] = data
            }
        }
    }

    mutating func check(_ table: ArrowTable) throws {
        let schemaJSON = gold["schema"] as? [String: Any] ?? [:]
        let fieldsJSON = schemaJSON["fields"] as? [[String: Any]] ?? []
        #expect(fieldsJSON.count == table.schema.fields.count, "\(label): field count")
        for (f, j) in zip(table.schema.fields, fieldsJSON) {
            checkField(f, j, path: f.name)
            mapIds(f, j)
        }
        collect(table.schema.fields)
        let batches = gold["batches"] as? [[String: Any]] ?? []
        #expect(batches.count == table.batches.count, "\(label): batch count \(table.batches.count) vs \(batches.count)")
        for (bi, (b, jb)) in zip(table.batches, batches).enumerated() {
            let count = (jb["count"] as? NSNumber)?.intValue ?? -1
            #expect(b.rowCount == count, "\(label) batch \(bi): row count")
            let cols = jb["columns"] as? [[String: Any]] ?? []
            for (ci, (f, jc)) in zip(table.schema.fields, cols).enumerated() {
                let want = expected(f, jc)
                let col = b.columns[ci]
                #expect(want.count == b.rowCount, "\(label) batch \(bi) column \(f.name): \(want.count) expected values")
                var bad = 0
                for r in 0..<min(want.count, b.rowCount) {
                    let got = col.value(at: r)
                    if got != want[r] {
                        if bad < 3 { Issue.record("\(label) batch \(bi) column \(f.name) row \(r): got \(got), want \(want[r])") }
                        bad += 1
                    }
                    var wantNull = want[r].isNull
                    if case .union(_, let inner) = want[r] { wantNull = inner.isNull }
                    if col.isNull(r) != wantNull {
                        if bad < 3 { Issue.record("\(label) batch \(bi) column \(f.name) row \(r): isNull \(col.isNull(r))") }
                        bad += 1
                    }
                }
            }
            // JSON rendering must not crash on anything
            for r in 0..<b.rowCount { _ = ArrowJSON.line(batch: b, row: r) }
        }
    }

    func isContainer(_ f: ArrowField) -> Bool { false }

    /// C++ renumbers dictionary ids when it writes binary files; map ours to the JSON's.
    var idMap: [Int64: Int64] = [:]
    mutating func mapIds(_ f: ArrowField, _ j: [String: Any]) {
        if let d = f.dictionary, let jd = j["dictionary"] as? [String: Any], let jid = (jd["id"] as? NSNumber)?.int64Value {
            idMap[d.id] = jid
        }
        for (c, jc) in zip(f.type.children, j["children"] as? [[String: Any]] ?? []) { mapIds(c, jc) }
    }

    mutating func collect(_ fields: [ArrowField]) {
        for f in fields {
            if let d = f.dictionary, dictionaryFields[d.id] == nil {
                var v = f
                v.dictionary = nil
                dictionaryFields[d.id] = v
            }
            collect(f.type.children)
        }
    }

    func checkField(_ f: ArrowField, _ j: [String: Any], path: String) {
        // C++ writes canonical map child names (entries/key/value) whatever the JSON says.
        if !path.hasSuffix(".entries") && !path.hasSuffix(".entries.key") && !path.hasSuffix(".entries.value") {
            #expect(f.name == (j["name"] as? String), "\(label): field name at \(path)")
        }
        #expect(f.nullable == (j["nullable"] as? Bool), "\(label): nullable of \(path)")
        let t = j["type"] as? [String: Any] ?? [:]
        let want = jsonTypeName(f.type)
        #expect(want.name == (t["name"] as? String), "\(label): type of \(path): \(f.type) vs \(t)")
        for (k, v) in want.attrs {
            let got = t[k].map { "\($0)" }
            #expect(got == v, "\(label): type attribute \(k) of \(path): \(String(describing: got)) vs \(v)")
        }
        if let d = j["dictionary"] as? [String: Any] {
            #expect(f.dictionary != nil, "\(label): dictionary of \(path)")
            let it = d["indexType"] as? [String: Any] ?? [:]
            if let idx = f.dictionary?.indexType {
                let want = jsonTypeName(idx)
                for (k, v) in want.attrs { #expect(it[k].map { "\($0)" } == v, "\(label): index type of \(path)") }
            }
        } else {
            #expect(f.dictionary == nil, "\(label): unexpected dictionary on \(path)")
        }
        let md = (j["metadata"] as? [[String: Any]] ?? []).map { ArrowKeyValue($0["key"] as? String ?? "", $0["value"] as? String ?? "") }
        #expect(f.metadata.sorted { $0.key < $1.key } == md.sorted { $0.key < $1.key }, "\(label): metadata of \(path)")
        let cj = j["children"] as? [[String: Any]] ?? []
        let cs = f.type.children
        #expect(cs.count == cj.count, "\(label): children of \(path)")
        for (c, jc) in zip(cs, cj) { checkField(c, jc, path: path + "." + c.name) }
    }

    func jsonTypeName(_ t: ArrowType) -> (name: String, attrs: [String: String]) {
        func int(_ bw: Int, _ s: Bool) -> (String, [String: String]) { ("int", ["bitWidth": "\(bw)", "isSigned": s ? "1" : "0"]) }
        func unit(_ u: TimeUnit) -> String {
            switch u {
            case .second: return "SECOND"
            case .millisecond: return "MILLISECOND"
            case .microsecond: return "MICROSECOND"
            case .nanosecond: return "NANOSECOND"
            }
        }
        switch t {
        case .null: return ("null", [:])
        case .bool: return ("bool", [:])
        case .int8: return int(8, true)
        case .int16: return int(16, true)
        case .int32: return int(32, true)
        case .int64: return int(64, true)
        case .uint8: return int(8, false)
        case .uint16: return int(16, false)
        case .uint32: return int(32, false)
        case .uint64: return int(64, false)
        case .float16: return ("floatingpoint", ["precision": "HALF"])
        case .float32: return ("floatingpoint", ["precision": "SINGLE"])
        case .float64: return ("floatingpoint", ["precision": "DOUBLE"])
        case .decimal(let p, let s, let bw):
            return ("decimal", ["precision": "\(p)", "scale": "\(s)"].merging(bw == 128 ? [:] : ["bitWidth": "\(bw)"]) { a, _ in a })
        case .date32: return ("date", ["unit": "DAY"])
        case .date64: return ("date", ["unit": "MILLISECOND"])
        case .time32(let u): return ("time", ["unit": unit(u), "bitWidth": "32"])
        case .time64(let u): return ("time", ["unit": unit(u), "bitWidth": "64"])
        case .timestamp(let u, let tz):
            var a = ["unit": unit(u)]
            if let tz { a["timezone"] = tz }
            return ("timestamp", a)
        case .duration(let u): return ("duration", ["unit": unit(u)])
        case .interval(let u):
            return ("interval", ["unit": u == .yearMonth ? "YEAR_MONTH" : (u == .dayTime ? "DAY_TIME" : "MONTH_DAY_NANO")])
        case .binary: return ("binary", [:])
        case .largeBinary: return ("largebinary", [:])
        case .binaryView: return ("binaryview", [:])
        case .fixedSizeBinary(let w): return ("fixedsizebinary", ["byteWidth": "\(w)"])
        case .utf8: return ("utf8", [:])
        case .largeUtf8: return ("largeutf8", [:])
        case .utf8View: return ("utf8view", [:])
        case .list: return ("list", [:])
        case .largeList: return ("largelist", [:])
        case .listView: return ("listview", [:])
        case .largeListView: return ("largelistview", [:])
        case .fixedSizeList(_, let n): return ("fixedsizelist", ["listSize": "\(n)"])
        case .struct: return ("struct", [:])
        case .map(_, let sorted): return ("map", ["keysSorted": sorted ? "1" : "0"])
        case .union(let m, _, _): return ("union", ["mode": m == .sparse ? "SPARSE" : "DENSE"])
        case .runEndEncoded: return ("runendencoded", [:])
        }
    }

    // MARK: expected values from the JSON columns

    func ints(_ any: Any?) -> [Int64] {
        (any as? [Any] ?? []).map { v in
            if let s = v as? String { return Int64(s) ?? 0 }
            return (v as? NSNumber)?.int64Value ?? 0
        }
    }
    func uints(_ any: Any?) -> [UInt64] {
        (any as? [Any] ?? []).map { v in
            if let s = v as? String { return UInt64(s) ?? 0 }
            return (v as? NSNumber)?.uint64Value ?? 0
        }
    }

    func dictionaryValues(_ id: Int64) -> [ArrowValue] {
        guard let f = dictionaryFields[id], let data = dictionaryJSON[idMap[id] ?? id],
              let col = (data["columns"] as? [[String: Any]])?.first else { return [] }
        return expected(f, col)
    }

    func expected(_ f: ArrowField, _ c: [String: Any]) -> [ArrowValue] {
        let n = (c["count"] as? NSNumber)?.intValue ?? 0
        let validity = (c["VALIDITY"] as? [NSNumber])?.map { $0.intValue != 0 } ?? [Bool](repeating: true, count: n)
        func masked(_ vals: [ArrowValue]) -> [ArrowValue] {
            (0..<n).map { i in i < validity.count && !validity[i] ? .null : (i < vals.count ? vals[i] : .null) }
        }
        let data = c["DATA"] as? [Any] ?? []
        if let d = f.dictionary {
            let dict = dictionaryValues(d.id)
            return masked(ints(data).map { k in k >= 0 && Int(k) < dict.count ? dict[Int(k)] : .null })
        }
        let children = c["children"] as? [[String: Any]] ?? []
        switch f.type {
        case .null:
            return [ArrowValue](repeating: .null, count: n)
        case .bool:
            return masked(data.map { .bool(($0 as? Bool) ?? false) })
        case .int8, .int16, .int32, .int64:
            return masked(ints(data).map { .int($0) })
        case .uint8, .uint16, .uint32, .uint64:
            return masked(uints(data).map { .uint($0) })
        case .float16:
            // The gold JSON gives the decimal text of each half float: rounded to the nearest
            // half by the standard library's Float16, not by the reader's own conversion.
            return masked(data.map { .float(Double(Float16(($0 as? NSNumber)?.doubleValue ?? 0))) })
        case .float32:
            return masked(data.map { .float(Double(Float(($0 as? NSNumber)?.doubleValue ?? 0))) })
        case .float64:
            return masked(data.map { .float(($0 as? NSNumber)?.doubleValue ?? 0) })
        case .decimal(_, let scale, _):
            return masked(data.map { .decimal(TestSupport.scaleDecimal(($0 as? String) ?? "0", scale)) })
        case .date32: return masked(ints(data).map { .date($0, .day) })
        case .date64: return masked(ints(data).map { .date($0, .millisecond) })
        case .time32(let u), .time64(let u): return masked(ints(data).map { .time($0, u) })
        case .timestamp(let u, let tz): return masked(ints(data).map { .timestamp($0, u, timezone: tz) })
        case .duration(let u): return masked(ints(data).map { .duration($0, u) })
        case .interval(let u):
            return masked(data.map { v in
                switch u {
                case .yearMonth: return .interval(.yearMonth(months: Int32((v as? NSNumber)?.intValue ?? 0)))
                case .dayTime:
                    let o = v as? [String: Any] ?? [:]
                    return .interval(.dayTime(days: Int32((o["days"] as? NSNumber)?.intValue ?? 0),
                                              milliseconds: Int32((o["milliseconds"] as? NSNumber)?.intValue ?? 0)))
                case .monthDayNano:
                    let o = v as? [String: Any] ?? [:]
                    let ns: Int64 = (o["nanoseconds"] as? String).flatMap { Int64($0) } ?? (o["nanoseconds"] as? NSNumber)?.int64Value ?? 0
                    return .interval(.monthDayNano(months: Int32((o["months"] as? NSNumber)?.intValue ?? 0),
                                                   days: Int32((o["days"] as? NSNumber)?.intValue ?? 0), nanoseconds: ns))
                }
            })
        case .binary, .largeBinary, .fixedSizeBinary:
            return masked(data.map { .binary(TestSupport.hexBytes(($0 as? String) ?? "")) })
        case .utf8, .largeUtf8:
            return masked(data.map { .string(($0 as? String) ?? "") })
        case .binaryView, .utf8View:
            let isString = f.type == .utf8View
            let bufs = (c["VARIADIC_DATA_BUFFERS"] as? [String] ?? []).map(TestSupport.hexBytes)
            let views = c["VIEWS"] as? [[String: Any]] ?? []
            return masked(views.map { v in
                var bytes: [UInt8]
                if let inl = v["INLINED"] as? String {
                    bytes = isString ? Array(inl.utf8) : TestSupport.hexBytes(inl)
                } else {
                    let size = (v["SIZE"] as? NSNumber)?.intValue ?? 0
                    let bi = (v["BUFFER_INDEX"] as? NSNumber)?.intValue ?? 0
                    let off = (v["OFFSET"] as? NSNumber)?.intValue ?? 0
                    bytes = bi < bufs.count && off + size <= bufs[bi].count ? Array(bufs[bi][off..<(off + size)]) : []
                }
                return isString ? .string(String(decoding: bytes, as: UTF8.self)) : .binary(bytes)
            })
        case .list(let cf), .largeList(let cf):
            let offs = ints(c["OFFSET"])
            let items = children.first.map { expected(cf, $0) } ?? []
            return masked((0..<n).map { i in
                guard i + 1 < offs.count, offs[i] <= offs[i + 1], Int(offs[i + 1]) <= items.count else { return .list([]) }
                return .list(Array(items[Int(offs[i])..<Int(offs[i + 1])]))
            })
        case .listView(let cf), .largeListView(let cf):
            let offs = ints(c["OFFSET"]), sizes = ints(c["SIZE"])
            let items = children.first.map { expected(cf, $0) } ?? []
            return masked((0..<n).map { i in
                guard i < offs.count, i < sizes.count, offs[i] >= 0, sizes[i] >= 0, Int(offs[i] + sizes[i]) <= items.count else { return .list([]) }
                return .list(Array(items[Int(offs[i])..<Int(offs[i] + sizes[i])]))
            })
        case .fixedSizeList(let cf, let size):
            let items = children.first.map { expected(cf, $0) } ?? []
            return masked((0..<n).map { i in (i * size + size) <= items.count ? .list(Array(items[(i * size)..<(i * size + size)])) : .list([]) })
        case .struct(let fs):
            let cols = zip(fs, children).map { expected($0, $1) }
            return masked((0..<n).map { i in .struct(zip(fs, cols).map { (name: $0.name, value: $1[i]) }) })
        case .map(let ef, _):
            let offs = ints(c["OFFSET"])
            guard case .struct(let kv) = ef.type, kv.count == 2, let ec = children.first,
                  let kvc = ec["children"] as? [[String: Any]], kvc.count == 2 else { return [] }
            let keys = expected(kv[0], kvc[0]), vals = expected(kv[1], kvc[1])
            return masked((0..<n).map { i in
                guard i + 1 < offs.count, offs[i] <= offs[i + 1], Int(offs[i + 1]) <= min(keys.count, vals.count) else { return .map([]) }
                return .map((Int(offs[i])..<Int(offs[i + 1])).map { (key: keys[$0], value: vals[$0]) })
            })
        case .union(let mode, let fs, let ids):
            let types = ints(c["TYPE_ID"])
            let offs = ints(c["OFFSET"])
            let cols = zip(fs, children).map { expected($0, $1) }
            return (0..<n).map { i in
                guard i < types.count else { return .null }
                let code = Int8(truncatingIfNeeded: types[i])
                guard let k = ids.firstIndex(of: code), k < cols.count else { return .null }
                let j = mode == .sparse ? i : (i < offs.count ? Int(offs[i]) : -1)
                guard j >= 0, j < cols[k].count else { return .null }
                return .union(typeId: code, value: cols[k][j])
            }
        case .runEndEncoded(let rf, let vf):
            guard children.count == 2 else { return [] }
            let ends = ints(children[0]["DATA"])
            let vals = expected(vf, children[1])
            _ = rf
            var out: [ArrowValue] = []
            var run = 0
            for i in 0..<n {
                while run < ends.count && Int64(i) >= ends[run] { run += 1 }
                out.append(run < vals.count ? vals[run] : .null)
            }
            return out
        }
    }
}
