import Foundation
import Testing
@testable import HyphaArrow

@Suite(.timeLimit(.minutes(5))) struct RoundTripTests {
    let schema = ArrowSchema(fields: [
        ArrowField(name: "path", type: .utf8, nullable: false),
        ArrowField(name: "size", type: .int64, nullable: false),
        ArrowField(name: "modified", type: .timestamp(.microsecond, timezone: "UTC"), nullable: false),
    ])

    @Test func stageOneExample() throws {
        let rows: [[ArrowValue]] = [
            [.string("/tmp/a.zip"), .int(42), .timestamp(1_700_000_000_000_000, .microsecond, timezone: "UTC")],
            [.string("/tmp/b.zip"), .int(7), .timestamp(1_700_000_000_000_001, .microsecond, timezone: "UTC")],
        ]
        let batch = try RecordBatch(schema: schema, rows: rows)
        let bytes = try ArrowStreamWriter.encode(schema: schema, batches: [batch])
        let table = try ArrowIPC.read(bytes)
        #expect(table.format == .stream)
        #expect(table.schema == schema)
        #expect(table.batches.count == 1)
        let b = try #require(table.batches.first)
        #expect(b.rowCount == 2)
        for r in 0..<2 {
            for c in 0..<3 { #expect(b.value(row: r, column: c) == rows[r][c]) }
        }
        #expect(b.row(1)["path"] == .string("/tmp/b.zip"))
        let file = try ArrowFileWriter.encode(schema: schema, batches: [batch, batch])
        let t2 = try ArrowIPC.read(file)
        #expect(t2.format == .file)
        #expect(t2.rowCount == 4)
        #expect(t2.batches[1].value(row: 0, column: 1) == .int(42))
    }

    @Test func stageOneTypes() throws {
        let s = ArrowSchema(fields: [
            ArrowField(name: "n", type: .null),
            ArrowField(name: "b", type: .bool),
            ArrowField(name: "i8", type: .int8), ArrowField(name: "i16", type: .int16),
            ArrowField(name: "i32", type: .int32), ArrowField(name: "i64", type: .int64),
            ArrowField(name: "u8", type: .uint8), ArrowField(name: "u16", type: .uint16),
            ArrowField(name: "u32", type: .uint32), ArrowField(name: "u64", type: .uint64),
            ArrowField(name: "f32", type: .float32), ArrowField(name: "f64", type: .float64),
            ArrowField(name: "s", type: .utf8), ArrowField(name: "bin", type: .binary),
            ArrowField(name: "ts", type: .timestamp(.nanosecond)),
            ArrowField(name: "l", type: .listOf(.int32)),
            ArrowField(name: "st", type: .struct([ArrowField(name: "a", type: .int16), ArrowField(name: "b", type: .utf8)])),
        ])
        let rows: [[ArrowValue]] = [
            [.null, .bool(true), .int(-128), .int(-32768), .int(Int64(Int32.min)), .int(.min), .uint(255), .uint(65535),
             .uint(UInt64(UInt32.max)), .uint(.max), .float(1.5), .float(-0.1), .string("héllo"), .binary([0, 1, 255]),
             .timestamp(-5, .nanosecond, timezone: nil), .list([.int(1), .null, .int(3)]),
             .struct([(name: "a", value: .int(1)), (name: "b", value: .string("x"))])],
            [.null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null],
            [.null, .bool(false), .int(127), .int(32767), .int(Int64(Int32.max)), .int(.max), .uint(0), .uint(0),
             .uint(0), .uint(0), .float(.infinity), .float(1e300), .string(""), .binary([]),
             .timestamp(1, .nanosecond, timezone: nil), .list([]),
             .struct([(name: "a", value: .null), (name: "b", value: .string("a much longer string value"))])],
        ]
        let batch = try RecordBatch(schema: s, rows: rows)
        for bytes in [try ArrowStreamWriter.encode(schema: s, batches: [batch, batch]),
                      try ArrowFileWriter.encode(schema: s, batches: [batch, batch])] {
            let t = try ArrowIPC.read(bytes)
            #expect(t.batches.count == 2)
            for b in t.batches {
                for r in rows.indices {
                    for c in s.fields.indices { #expect(b.value(row: r, column: c) == rows[r][c], "row \(r) col \(c)") }
                }
            }
        }
    }

    @Test func filesOnDisk() throws {
        let batch = try RecordBatch(schema: schema, rows: [[.string("x"), .int(1), .timestamp(0, .microsecond, timezone: "UTC")]])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-arrow-\(UUID().uuidString).arrow").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = try ArrowFileWriter.encode(schema: schema, batches: [batch])
        try ArrowIPC.writeAllBytes(bytes, to: path)
        #expect(try ArrowIPC.readAllBytes(path) == bytes)
        #expect(try ArrowIPC.read(contentsOfFile: path).rowCount == 1)
        #expect(throws: ArrowError.self) { try ArrowIPC.read(contentsOfFile: "/nonexistent/file.arrow") }
    }

    /// Buffers of an uncompressed little-endian read point into the caller's array.
    @Test func readIsZeroCopy() throws {
        let batch = try RecordBatch(schema: schema, rows: (0..<100).map {
            [.string("/p/\($0)"), .int(Int64($0)), .timestamp(Int64($0), .microsecond, timezone: "UTC")]
        })
        let bytes = try ArrowStreamWriter.encode(schema: schema, batches: [batch])
        let table = try ArrowIPC.read(bytes)
        let col = table.batches[0].columns[0]
        bytes.withUnsafeBytes { input in
            let lo = UInt(bitPattern: input.baseAddress), hi = lo + UInt(input.count)
            for buf in [col.values, col.data] {
                buf.withUnsafeBytes { b in
                    let p = UInt(bitPattern: b.baseAddress)
                    #expect(p >= lo && p + UInt(b.count) <= hi, "buffer is not a view into the input")
                }
            }
        }
    }

    @Test func rejectsNullInNonNullable() {
        #expect(throws: ArrowError.self) {
            try RecordBatch(schema: schema, rows: [[.null, .int(1), .timestamp(0, .microsecond, timezone: "UTC")]])
        }
    }
}
