import Foundation
import Testing
@testable import HyphaArrow

/// Reads the pyarrow 26.0.1 fixtures in shared/reference/pyarrow-generated and compares
/// schema text, batch sizes and every value with NAME.expected.json.
@Suite(.timeLimit(.minutes(2))) struct PyarrowFixtureTests {
    static let files = ["types_plain.arrows", "types_plain.arrow", "types_lz4.arrows", "types_lz4.arrow",
                        "types_zstd.arrows", "types_zstd.arrow", "legacy_prefix.arrows", "metadata_v4.arrows",
                        "dict_delta_then_replace.arrows", "sliced_13_9.arrows", "zero_rows.arrows",
                        "schema_only.arrows", "views.arrows"]

    @Test(.enabled(if: TestSupport.referenceMissing == nil, TestSupport.referenceMissing ?? ""), arguments: files)
    func fixture(_ name: String) throws {
        let url = try #require(TestSupport.reference("pyarrow-generated/\(name)"))
        let base = String(name[..<(name.lastIndex(of: ".") ?? name.endIndex)])
        guard let expURL = TestSupport.reference("pyarrow-generated/\(base).expected.json"),
              let exp = try JSONSerialization.jsonObject(with: Data(contentsOf: expURL)) as? [String: Any] else {
            Issue.record("\(name): expected JSON missing")
            return
        }
        let table = try ArrowIPC.read(TestSupport.bytes(url))
        #expect(table.format == (name.hasSuffix(".arrow") ? .file : .stream))
        let schemaLines = exp["schema"] as? [String] ?? []
        #expect(table.schema.description.split(separator: "\n").map(String.init) == schemaLines, "\(name): schema text")
        #expect(table.rowCount == (exp["num_rows"] as? Int), "\(name): rows")
        // batch_rows describes pyarrow's in-memory table; the types_* files hold 6 + 4 rows
        // and zero_rows one empty batch (see the fixtures' README).
        if name.hasPrefix("types_") {
            #expect(table.batches.map(\.rowCount) == [6, 4], "\(name): batch sizes")
        } else if name.hasPrefix("zero_rows") {
            #expect(table.batches.map(\.rowCount) == [0], "\(name): batch sizes")
        } else {
            #expect(table.batches.map(\.rowCount) == (exp["batch_rows"] as? [Int] ?? []), "\(name): batch sizes")
        }
        let columns = exp["columns"] as? [String: [Any]] ?? [:]
        for (c, f) in table.schema.fields.enumerated() {
            let want = columns[f.name] ?? []
            var got: [Any] = []
            for b in table.batches {
                for r in 0..<b.rowCount { got.append(PlainValue.of(b.columns[c].value(at: r))) }
            }
            #expect(got.count == want.count, "\(name) column \(f.name): count")
            for (r, (g, w)) in zip(got, want).enumerated() where !PlainValue.same(g, w) {
                Issue.record("\(name) column \(f.name) row \(r): got \(g), want \(w)")
            }
        }
        if name.hasPrefix("metadata_v4") { #expect(table.metadataVersion == 4) }
    }
}

/// ArrowValue → the JSON-friendly form arrow_baseline.py writes.
enum PlainValue {
    static func of(_ v: ArrowValue) -> Any {
        switch v {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let x): return x
        case .uint(let x): return x
        case .float(let d): return d.isNaN ? "NaN" : d
        case .string(let s): return s
        case .binary(let b): return b.map { String(format: "%02x", $0) }.joined()
        case .decimal(let s): return s
        case .date(let x, _), .time(let x, _), .timestamp(let x, _, _), .duration(let x, _): return x
        case .interval(let i):
            switch i {
            case .monthDayNano(let m, let d, let ns): return [Int64(m), Int64(d), ns]
            case .dayTime(let d, let ms): return [Int64(d), Int64(ms)]
            case .yearMonth(let m): return Int64(m)
            }
        case .list(let xs): return xs.map(of)
        case .struct(let fs): return Dictionary(fs.map { ($0.name, of($0.value)) }, uniquingKeysWith: { a, _ in a })
        case .map(let kvs): return kvs.map { [of($0.key), of($0.value)] }
        case .union(_, let x): return of(x)
        }
    }

    static func same(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (is NSNull, is NSNull): return true
        // A JSON number also casts to Bool on Linux: what the JSON held is told by isJSONBool.
        case (let x as Bool, let y as NSNumber): return isJSONBool(y) && x == y.boolValue
        case (let x as Int64, let y as NSNumber): return !isJSONBool(y) && x == y.int64Value && "\(x)" == y.stringValue
        case (let x as UInt64, let y as NSNumber): return !isJSONBool(y) && x == y.uint64Value && "\(x)" == y.stringValue
        case (let x as Double, let y as NSNumber):
            // Foundation's JSON parser on Linux may be off by an ulp; allow a relative 1e-15.
            let d = y.doubleValue
            return x == d || abs(x - d) <= 1e-15 * max(abs(x), abs(d))
        case (let x as String, let y as String): return x == y
        case (let x as [Any], let y as [Any]): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (let x as [String: Any], let y as [String: Any]):
            return x.count == y.count && x.allSatisfy { k, v in y[k].map { same(v, $0) } ?? false }
        default: return false
        }
    }

    /// JSONSerialization gives `true`/`false` as a boolean NSNumber (type code "c") and
    /// numbers as integer ("i", "q") or double ("d") ones.
    static func isJSONBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }
}
