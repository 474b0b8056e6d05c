import Testing
@testable import HyphaArrow

@Suite(.timeLimit(.minutes(1))) struct JSONTests {
    @Test func lineRendering() throws {
        let s = ArrowSchema(fields: [
            ArrowField(name: "path", type: .utf8, nullable: false),
            ArrowField(name: "size", type: .int64),
            ArrowField(name: "big", type: .uint64),
            ArrowField(name: "ts", type: .timestamp(.microsecond, timezone: "UTC")),
            ArrowField(name: "naive", type: .timestamp(.second)),
            ArrowField(name: "day", type: .date32),
            ArrowField(name: "t", type: .time64(.nanosecond)),
            ArrowField(name: "bin", type: .binary),
            ArrowField(name: "dec", type: .decimal(precision: 5, scale: 2)),
            ArrowField(name: "f", type: .float64),
            ArrowField(name: "l", type: .listOf(.bool)),
            ArrowField(name: "st", type: .struct([ArrowField(name: "a", type: .int8)])),
            ArrowField(name: "m", type: .mapOf(key: .utf8, value: .float32)),
            ArrowField(name: "iv", type: .interval(.monthDayNano)),
        ])
        let row: [ArrowValue] = [
            .string("a \"q\"\n\\é"), .int(-42), .uint(UInt64.max), .timestamp(1_700_000_000_123_456, .microsecond, timezone: "UTC"),
            .timestamp(-1, .second, timezone: nil), .date(19_000, .day), .time(3_723_000_000_001, .nanosecond),
            .binary([0, 1, 2, 255]), .decimal("-1.50"), .float(2.5),
            .list([.bool(true), .null]), .struct([(name: "a", value: .int(1))]),
            .map([(key: .string("k"), value: .float(0.5))]),
            .interval(.monthDayNano(months: 1, days: -2, nanoseconds: 3)),
        ]
        let b = try RecordBatch(schema: s, rows: [row])
        let line = ArrowJSON.line(batch: b, row: 0)
        #expect(line == #"{"path":"a \"q\"\n\\é","size":-42,"big":"18446744073709551615","ts":"2023-11-14T22:13:20.123456Z","naive":"1969-12-31T23:59:59","day":"2022-01-08","t":"01:02:03.000000001","bin":"AAEC/w==","dec":"-1.50","f":2.5,"l":[true,null],"st":{"a":1},"m":[["k",0.5]],"iv":{"months":1,"days":-2,"nanoseconds":3}}"#)
        let plain = ArrowJSON.line(batch: b, row: 0, options: .init(bigIntegersAsStrings: false))
        #expect(plain.contains(#""big":18446744073709551615"#))
        var out: [UInt8] = []
        ArrowJSON.appendLine(batch: b, row: 0, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == line + "\n")
        #expect(ArrowJSON.lines(ArrowTable(schema: s, batches: [b, b])).split(separator: "\n").count == 2)
    }

    @Test func nullsAndSpecialFloats() throws {
        let s = ArrowSchema(fields: [ArrowField(name: "s", type: .utf8), ArrowField(name: "f", type: .float32)])
        let b = try RecordBatch(schema: s, rows: [[.null, .float(.nan)], [.string(""), .float(-.infinity)]])
        #expect(ArrowJSON.line(batch: b, row: 0) == #"{"s":null,"f":"NaN"}"#)
        #expect(ArrowJSON.line(batch: b, row: 1) == #"{"s":"","f":"-Infinity"}"#)
        let g = try RecordBatch(schema: s, rows: [[.string("x"), .float(0.3)], [.null, .float(2)]])
        #expect(ArrowJSON.line(batch: g, row: 0) == #"{"s":"x","f":0.3}"#)
        #expect(ArrowJSON.line(batch: g, row: 1) == #"{"s":null,"f":2}"#)
    }

    @Test func calendarHelpers() {
        #expect(ArrowJSON.civilDate(days: 0) == "1970-01-01")
        #expect(ArrowJSON.civilDate(days: -719_528) == "0000-01-01")
        #expect(ArrowJSON.civilDate(days: 2_932_896) == "9999-12-31")
        #expect(ArrowJSON.isoTimestamp(Int64.min, .nanosecond) == "1677-09-21T00:12:43.145224192")
        // numpy: str(numpy.datetime64(2**63 - 1, 's')) == '292277026596-12-04T15:30:07'
        #expect(ArrowJSON.isoTimestamp(Int64.max, .second) == "292277026596-12-04T15:30:07")
        // numpy: str(numpy.datetime64(-2**63 + 1, 's')) == '-292277022657-01-27T08:29:53'
        #expect(ArrowJSON.isoTimestamp(Int64.min + 1, .second) == "-292277022657-01-27T08:29:53")
        #expect(ArrowJSON.timeOfDay(86_399_999, .millisecond) == "23:59:59.999")
        #expect(ArrowJSON.base64([]) == "" && ArrowJSON.base64([0x66]) == "Zg==" && ArrowJSON.base64(Array("foobar".utf8)) == "Zm9vYmFy")
    }

    @Test func schemaText() {
        let s = ArrowSchema(fields: [
            ArrowField(name: "path", type: .utf8, nullable: false),
            ArrowField(name: "m", type: .mapOf(key: .utf8, value: .int64)),
            ArrowField(name: "d", type: .utf8, dictionary: DictionaryEncoding(id: 0, indexType: .int32)),
        ], metadata: [ArrowKeyValue("origin", "hypha")])
        #expect(ArrowJSON.schemaText(s) == """
            path: string not null
            m: map<string, int64>
              child 0, entries: struct<key: string not null, value: int64> not null
                  child 0, key: string not null
                  child 1, value: int64
            d: dictionary<values=string, indices=int32, ordered=0>
            -- schema metadata --
            origin: hypha
            """)
        #expect(ArrowJSON.schemaJSON(s).hasPrefix(#"{"fields":[{"name":"path","type":"string","nullable":false},"#))
        #expect(ArrowJSON.schemaJSON(s).hasSuffix(#""metadata":{"origin":"hypha"}}"#))
    }
}
