import Testing
@testable import HyphaArrow

@Suite(.timeLimit(.minutes(2))) struct WriterTests {
    let dictSchema = ArrowSchema(fields: [
        ArrowField(name: "color", type: .utf8, dictionary: DictionaryEncoding(id: 7, indexType: .int8)),
        ArrowField(name: "n", type: .int32),
    ])

    func messageKinds(_ bytes: [UInt8]) throws -> [(UInt8, Bool)] {
        var out: [(UInt8, Bool)] = []
        var pos = ArrowIPC.isFileFormat(bytes) ? 8 : 0
        while let m = try readMessage(bytes, at: pos, end: bytes.count) {
            var delta = false
            if m.headerType == MessageHeader.dictionaryBatch, let h = m.header { delta = try h.bool(2, false) }
            out.append((m.headerType, delta))
            pos = m.end
        }
        return out
    }

    @Test func dictionaryDeltasAcrossBatches() throws {
        let b1 = try RecordBatch(schema: dictSchema, rows: [[.string("red"), .int(1)], [.string("blue"), .int(2)], [.null, .int(3)]])
        let b2 = try RecordBatch(schema: dictSchema, rows: [[.string("green"), .int(4)], [.string("red"), .int(5)]],
                                 dictionariesFrom: b1)
        #expect(b2.columns[0].dictionary?.count == 3)
        for bytes in [try ArrowStreamWriter.encode(schema: dictSchema, batches: [b1, b2]),
                      try ArrowFileWriter.encode(schema: dictSchema, batches: [b1, b2])] {
            let kinds = try messageKinds(bytes)
            // schema, dictionary, batch, delta dictionary, batch
            #expect(kinds.map(\.0) == [1, 2, 3, 2, 3])
            #expect(kinds.map(\.1) == [false, false, false, true, false])
            let t = try ArrowIPC.read(bytes)
            #expect(t.batches[0].columns[0].allValues == [.string("red"), .string("blue"), .null])
            #expect(t.batches[1].columns[0].allValues == [.string("green"), .string("red")])
        }
    }

    @Test func dictionaryReplacementOnlyInStreams() throws {
        let b1 = try RecordBatch(schema: dictSchema, rows: [[.string("red"), .int(1)]])
        let b2 = try RecordBatch(schema: dictSchema, rows: [[.string("blue"), .int(2)]])  // fresh dictionary
        let stream = try ArrowStreamWriter.encode(schema: dictSchema, batches: [b1, b2])
        #expect(try messageKinds(stream).map(\.0) == [1, 2, 3, 2, 3])
        let t = try ArrowIPC.read(stream)
        #expect(t.batches[1].value(row: 0, column: 0) == .string("blue"))
        #expect(throws: ArrowError.self) { try ArrowFileWriter.encode(schema: dictSchema, batches: [b1, b2]) }
        // the same dictionary object is sent once
        let b3 = try RecordBatch(schema: dictSchema, columns: [b1.columns[0], b1.columns[1]])
        let once = try ArrowStreamWriter.encode(schema: dictSchema, batches: [b1, b3])
        #expect(try messageKinds(once).map(\.0) == [1, 2, 3, 3])
    }

    @Test func sharedDictionaryBetweenFields() throws {
        let s = ArrowSchema(fields: [
            ArrowField(name: "a", type: .utf8, dictionary: DictionaryEncoding(id: 0)),
            ArrowField(name: "b", type: .utf8, dictionary: DictionaryEncoding(id: 0)),
        ])
        let b = try RecordBatch(schema: s, rows: [[.string("x"), .string("y")], [.string("y"), .null]])
        #expect(b.columns[0].dictionary === b.columns[1].dictionary)
        for bytes in [try ArrowStreamWriter.encode(schema: s, batches: [b]), try ArrowFileWriter.encode(schema: s, batches: [b])] {
            #expect(try messageKinds(bytes).map(\.0) == [1, 2, 3])
            let t = try ArrowIPC.read(bytes)
            #expect(t.batches[0].columns[1].allValues == [.string("y"), .null])
        }
    }

    @Test(.enabled(if: TestSupport.codecsMissing == nil, TestSupport.codecsMissing ?? ""), arguments: [ArrowCompression.lz4Frame, .zstd(level: 3)])
    func compressedRoundTrip(_ codec: ArrowCompression) throws {
        let s = ArrowSchema(fields: [ArrowField(name: "s", type: .utf8), ArrowField(name: "i", type: .int64)])
        let rows: [[ArrowValue]] = (0..<500).map { [.string(String(repeating: "abc", count: $0 % 7)), .int(Int64($0))] }
        let b = try RecordBatch(schema: s, rows: rows)
        let plain = try ArrowStreamWriter.encode(schema: s, batches: [b])
        let packed = try ArrowStreamWriter.encode(schema: s, batches: [b], options: .init(compression: codec))
        #expect(packed.count < plain.count)
        let t = try ArrowIPC.read(packed)
        #expect(t.batches[0].columns[0].allValues == b.columns[0].allValues)
        #expect(t.batches[0].columns[1].allValues == b.columns[1].allValues)
    }

    @Test func incrementalEncoderMatchesOneShot() throws {
        let s = ArrowSchema(fields: [ArrowField(name: "i", type: .int16)])
        let b = try RecordBatch(schema: s, rows: [[.int(1)], [.int(-2)]])
        var enc = ArrowStreamEncoder(schema: s)
        var bytes = enc.start()
        bytes += try enc.encode(b)
        bytes += try enc.encode(b)
        bytes += enc.finish()
        #expect(bytes == (try ArrowStreamWriter.encode(schema: s, batches: [b, b])))
        #expect(try ArrowIPC.read(bytes).rowCount == 4)
    }

    @Test func legacyFramingAndV4() throws {
        let s = ArrowSchema(fields: [ArrowField(name: "u", type: .unionOf(.sparse, [ArrowField(name: "i", type: .int8)]))])
        let b = try RecordBatch(schema: s, rows: [[.union(typeId: 0, value: .int(3))], [.null]])
        let bytes = try ArrowStreamWriter.encode(schema: s, batches: [b], options: .init(metadataV4: true, legacyFraming: true))
        #expect(bytes.prefix(4) != [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(bytes.suffix(4) == [0, 0, 0, 0])
        let t = try ArrowIPC.read(bytes)
        #expect(t.metadataVersion == 4)
        #expect(t.batches[0].value(row: 0, column: 0) == .union(typeId: 0, value: .int(3)))
        #expect(t.batches[0].columns[0].isNull(1))
    }

    @Test func builderTypeErrors() {
        let s = ArrowSchema(fields: [ArrowField(name: "i", type: .int8)])
        #expect(throws: ArrowError.self) { try RecordBatch(schema: s, rows: [[.int(300)]]) }
        #expect(throws: ArrowError.self) { try RecordBatch(schema: s, rows: [[.string("x")]]) }
        #expect(throws: ArrowError.self) { try RecordBatch(schema: s, rows: [[.int(1), .int(2)]]) }
        let f = ArrowSchema(fields: [ArrowField(name: "f", type: .fixedSizeBinary(2))])
        #expect(throws: ArrowError.self) { try RecordBatch(schema: f, rows: [[.binary([1, 2, 3])]]) }
        let d = ArrowSchema(fields: [ArrowField(name: "d", type: .decimal(precision: 4, scale: 2))])
        #expect(throws: ArrowError.self) { try RecordBatch(schema: d, rows: [[.decimal("123.45")]]) }  // 5 digits
        #expect(throws: ArrowError.self) { try RecordBatch(schema: d, rows: [[.decimal("1.234")]]) }   // scale 3
        do {
            _ = try RecordBatch(schema: s, rows: [[.string("x")]])
        } catch {
            #expect(error.kind == .typeMismatch)
            #expect(error.description.contains("'i'"))
        }
    }

    @Test func decimalsAllWidths() throws {
        let cases: [(Int, Int, [String])] = [
            (32, 9, ["0.00", "-1.50", "9999999.99", "-9999999.99", "0.05"]),
            (64, 18, ["123456789012345.678", "-0.001", "0.000"]),
            (128, 38, ["12345678901234567890123456789012.345678", "-99999999999999999999999999999999.999999"]),
            (256, 76, [String(repeating: "9", count: 70) + ".999999", "-" + String(repeating: "1", count: 70) + ".000001"]),
        ]
        for (bw, precision, values) in cases {
            let scale = values[0].split(separator: ".").last.map(\.count) ?? 0
            let s = ArrowSchema(fields: [ArrowField(name: "d", type: .decimal(precision: precision, scale: scale, bitWidth: bw))])
            let rows = values.map { [ArrowValue.decimal($0)] }
            let t = try ArrowIPC.read(ArrowStreamWriter.encode(schema: s, batches: [try RecordBatch(schema: s, rows: rows)]))
            #expect(t.batches[0].columns[0].allValues == values.map { .decimal($0) }, "decimal\(bw)")
        }
    }

    @Test func float16RoundTrip() {
        for d in [0.0, -0.0, 1.0, -2.5, 65504.0, 0.000061035156, 5.96e-8, 0.1, 3.14159] {
            let h = halfToDouble(doubleToHalf(d))
            #expect(abs(h - d) <= abs(d) * 0.001 + 6e-8, "\(d) → \(h)")
        }
        #expect(halfToDouble(doubleToHalf(1e6)) == .infinity)
        #expect(halfToDouble(doubleToHalf(.nan)).isNaN)
    }

    @Test func everyTypeThroughTheBuilder() throws {
        let item = ArrowField(name: "item", type: .int32)
        let s = ArrowSchema(fields: [
            ArrowField(name: "f16", type: .float16),
            ArrowField(name: "d32", type: .date32), ArrowField(name: "d64", type: .date64),
            ArrowField(name: "t32", type: .time32(.millisecond)), ArrowField(name: "t64", type: .time64(.nanosecond)),
            ArrowField(name: "dur", type: .duration(.second)),
            ArrowField(name: "ym", type: .interval(.yearMonth)), ArrowField(name: "dt", type: .interval(.dayTime)),
            ArrowField(name: "mdn", type: .interval(.monthDayNano)),
            ArrowField(name: "lb", type: .largeBinary), ArrowField(name: "lu", type: .largeUtf8),
            ArrowField(name: "bv", type: .binaryView), ArrowField(name: "uv", type: .utf8View),
            ArrowField(name: "fsb", type: .fixedSizeBinary(2)),
            ArrowField(name: "ll", type: .largeList(item)), ArrowField(name: "lv", type: .listView(item)),
            ArrowField(name: "llv", type: .largeListView(item)), ArrowField(name: "fsl", type: .fixedSizeList(item, size: 2)),
            ArrowField(name: "map", type: .mapOf(key: .utf8, value: .int64)),
            ArrowField(name: "su", type: .union(.sparse, [item, ArrowField(name: "s", type: .utf8)], typeIds: [5, 9])),
            ArrowField(name: "du", type: .unionOf(.dense, [item, ArrowField(name: "s", type: .utf8)])),
            ArrowField(name: "ree", type: .runEndEncoded(runEnds: ArrowField(name: "run_ends", type: .int16, nullable: false),
                                                         values: ArrowField(name: "values", type: .utf8))),
        ])
        let rows: [[ArrowValue]] = [
            [.float(1.5), .date(19000, .day), .date(86_400_000, .millisecond), .time(1234, .millisecond), .time(5, .nanosecond),
             .duration(-3, .second), .interval(.yearMonth(months: 14)), .interval(.dayTime(days: 1, milliseconds: -2)),
             .interval(.monthDayNano(months: 1, days: 2, nanoseconds: 3)), .binary([1, 2]), .string("large"),
             .binary(Array(repeating: 7, count: 20)), .string("a view that is long enough"), .binary([9, 9]),
             .list([.int(1)]), .list([.int(2), .null]), .list([]), .list([.int(3), .int(4)]),
             .map([(key: .string("k"), value: .int(1)), (key: .string("z"), value: .null)]),
             .union(typeId: 9, value: .string("s")), .union(typeId: 0, value: .int(8)), .string("run")],
            [.null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null, .null,
             .null, .null, .null, .union(typeId: 5, value: .null), .union(typeId: 1, value: .string("x")), .string("run")],
            [.float(-0.25), .date(-1, .day), .date(-86_400_000, .millisecond), .time(0, .millisecond), .time(86_399_999_999_999, .nanosecond),
             .duration(0, .second), .interval(.yearMonth(months: -1)), .interval(.dayTime(days: 0, milliseconds: 0)),
             .interval(.monthDayNano(months: 0, days: 0, nanoseconds: -1)), .binary([]), .string(""),
             .binary([1]), .string("short"), .binary([0, 0]),
             .list([]), .list([]), .list([.int(5)]), .list([.null, .null]), .map([]),
             .union(typeId: 5, value: .int(-1)), .union(typeId: 0, value: .null), .null],
        ]
        let b = try RecordBatch(schema: s, rows: rows)
        for bytes in [try ArrowStreamWriter.encode(schema: s, batches: [b]), try ArrowFileWriter.encode(schema: s, batches: [b])] {
            let t = try ArrowIPC.read(bytes)
            #expect(t.schema == s)
            for r in rows.indices {
                for c in s.fields.indices {
                    #expect(t.batches[0].value(row: r, column: c) == rows[r][c], "row \(r) \(s.fields[c].name)")
                }
            }
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct TypedColumnTests {
    /// Columns built from Swift arrays equal the ones built from values, and encode to the
    /// same bytes.
    @Test func typedColumnsMatchTheValueBuilder() throws {
        let schema = ArrowSchema(fields: [
            ArrowField(name: "s", type: .utf8, nullable: false),
            ArrowField(name: "n", type: .int64, nullable: false),
            ArrowField(name: "t", type: .timestamp(.microsecond, timezone: "UTC"), nullable: false),
        ])
        let strings = ["", "a", "é 雪", String(repeating: "x", count: 300)]
        let numbers: [Int64] = [0, -1, .max, .min]
        let typed = try RecordBatch(schema: schema, columns: [
            .utf8(strings), .int64(numbers), .int64(numbers, type: .timestamp(.microsecond, timezone: "UTC")),
        ])
        let rows: [[ArrowValue]] = (0..<4).map {
            [.string(strings[$0]), .int(numbers[$0]), .timestamp(numbers[$0], .microsecond, timezone: "UTC")]
        }
        let built = try RecordBatch(schema: schema, rows: rows)
        #expect(try ArrowStreamWriter.encode(schema: schema, batches: [typed]) == ArrowStreamWriter.encode(schema: schema, batches: [built]))
        let table = try ArrowIPC.read(try ArrowStreamWriter.encode(schema: schema, batches: [typed]))
        #expect(table.batches.first?.value(row: 2, column: 0) == .string("é 雪"))
        #expect(throws: ArrowError.self) { try ArrowArray.int64([1], type: .int32) }
    }

    /// A copy of an encoder that has written the schema continues the same stream: what
    /// file-watch does to encode its constant schema once.
    @Test func aStartedEncoderCopyContinuesTheStream() throws {
        let schema = ArrowSchema(fields: [ArrowField(name: "n", type: .int64)])
        var started = ArrowStreamEncoder(schema: schema)
        let schemaMessage = started.start()
        let batch = try RecordBatch(schema: schema, columns: [.int64([1, 2, 3])])
        for _ in 0..<2 {
            var encoder = started
            var bytes = schemaMessage
            try encoder.encode(batch, into: &bytes)
            bytes += encoder.finish()
            #expect(bytes == (try ArrowStreamWriter.encode(schema: schema, batches: [batch])))
        }
    }
}
