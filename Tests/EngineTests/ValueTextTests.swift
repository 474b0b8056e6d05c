import Engine
import Foundation
import Testing
import Yams

@Suite(.timeLimit(.minutes(5))) struct ValueTextTests {
    /// Timestamps as text are ISO 8601 in UTC, microseconds when there are any; checked against
    /// Foundation's own formatter over 2,000 instants from 1900 to 2200 (a fixed sequence).
    @Test func timestampsAsTextMatchFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withInternetDateTime]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let low: Int64 = -2_208_988_800, high: Int64 = 7_258_118_400  // 1900-01-01 ... 2200-01-01
        for i in 0..<2000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let seconds = low + Int64(state >> 11) % (high - low)
            let fraction: Int64 = i % 3 == 0 ? 0 : Int64(state % 1_000_000)
            let expected = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
                .replacingOccurrences(of: "Z", with: fraction == 0 ? "Z" : String(format: ".%06dZ", Int(fraction)))
            #expect(Value.timestamp(seconds * 1_000_000 + fraction).text == expected)
        }
        #expect(Value.timestamp(0).text == "1970-01-01T00:00:00Z")
        #expect(Value.timestamp(-1).text == "1969-12-31T23:59:59.999999Z")
        #expect(Value.timestamp(951_782_400_000_000).text == "2000-02-29T00:00:00Z")
    }

    /// JSON strings escape exactly `"`, `\\` and control characters, and parse back to the
    /// same text (checked with Foundation's JSON parser), non-ASCII letters included.
    @Test func jsonStringsRoundTrip() throws {
        let texts = ["", "plain", "q\"uote", "back\\slash", "tab\tnew\nline\rret", "\u{1}\u{1f}\u{7f}", "é ü 雪 🍄", "mixed \"é\"\n\u{0}end"]
        for text in texts {
            let json = Value.string(text).json
            let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed) as? String
            #expect(parsed == text, "\(json)")
        }
        #expect(Value.string("a\u{1}\"b").json == #""a\u0001\"b""#)
        #expect(Value.map(Record([("k", .list([.int(1), .null, .bool(true), .float(2)]))])).json == #"{"k":[1,null,true,2.0]}"#)
    }

    /// Hashing in pieces gives the hash of the joined text.
    @Test func stableHashInPieces() {
        var hash = StableHash()
        hash.add("work".utf8)
        hash.add("flow\u{0}é".utf8)
        #expect(hash.hex == StableHash.hex(of: "workflow\u{0}é"))
        #expect(StableHash.hex(of: "") == "cbf29ce484222325")
    }

    /// A compiled template renders each scalar on its own: constants typed as YAML types them,
    /// a whole placeholder keeping the value's type, text with placeholders as text.
    @Test func compiledYAMLRendersLikeTheTree() throws {
        let text = """
            Name: "{{ name | stem }}-job"
            Count: 1
            Size: "{{ size }}"
            Flags: [true, ~, 3.5, "{{ vars.work }}/{{ name }}", plain]
            Nested: {a: "{{ record.name | upper }}", b: '{{ name }}'}
            """
        let node = try #require(try Yams.compose(yaml: text))
        let scope = Record([("name", "a b.zip"), ("size", 42), ("vars", .map(Record([("work", "/w")]))),
                            ("record", .map(Record([("name", "r.zip")])))])
        let compiled = try CompiledYAML(node, file: "t.yml")
        let direct = try compiled.render(in: scope)
        let expected = Value.map(Record([
            ("Name", "a b-job"), ("Count", 1), ("Size", 42),
            ("Flags", [true, .null, 3.5, "/w/a b.zip", "plain"]),
            ("Nested", .map(Record([("a", "R.ZIP"), ("b", "a b.zip")]))),
        ]))
        #expect(direct == expected)
        // Without a scope the tree keeps its placeholders as text.
        #expect(try YAMLValue.value(of: node, file: "t.yml")["Size"] == "{{ size }}")
        #expect(direct["Count"] == .int(1))
        #expect(direct["Size"] == .int(42))
        #expect(direct["Name"] == "a b-job")
        #expect(throws: YAMLValue.Failure.self) { try compiled.render(in: Record()) }
    }
}
