import Engine
import Foundation
import Testing

@Suite(.timeLimit(.minutes(5))) struct JSONParserTests {
    @Test func objectsKeepTheirKeyOrderAndARepeatedKeyItsFirstPlace() throws {
        let value = try Value(json: #"{"zeta": 1, "alpha": {"y": [true, null], "b": "x"}, "zeta": 2}"#)
        guard case .map(let record) = value else { Issue.record("not a map: \(value)"); return }
        #expect(record.fields.map(\.0) == ["zeta", "alpha"])
        #expect(record["zeta"] == .int(2))
        guard case .map(let inner)? = record["alpha"] else { Issue.record("no alpha"); return }
        #expect(inner.fields.map(\.0) == ["y", "b"])
        #expect(inner["y"] == .list([.bool(true), .null]))
        // Written back as read.
        #expect(value.json == #"{"zeta":2,"alpha":{"y":[true,null],"b":"x"}}"#)
    }

    @Test(arguments: [
        ("0", Value.int(0)), ("-17", .int(-17)), ("9223372036854775807", .int(Int64.max)),
        ("9223372036854775808", .float(9_223_372_036_854_775_808)), ("1.5", .float(1.5)), ("-2e3", .float(-2000)),
        ("1.0", .float(1)), (#""a\"b\\c\/\n\t""#, .string("a\"b\\c/\n\t")), (#""\u00e9\ud83d\ude00""#, .string("é😀")),
        (" [ ] ", .list([])), ("{}", .map(Record())),
    ])
    func scalarsAndEscapes(text: String, expected: Value) throws {
        #expect(try Value(json: text) == expected)
    }

    @Test(arguments: [
        ("", "unexpected end"), ("[1, 2", "unexpected end in a list"), (#"{"a" 1}"#, "expected ':'"),
        ("[1] x", "unexpected text after the value"), (#""abc"#, "unexpected end in a string"), ("nul", "unexpected 'nul'"),
        (#""\q""#, "unknown escape"), (String(repeating: "[", count: 600), "nesting too deep"),
    ])
    func malformedTextSaysWhatAndWhere(text: String, expected: String) {
        #expect { _ = try Value(json: text) } throws: { "\($0)".contains(expected) && "\($0)".contains("at byte") }
    }
}
