import Foundation

/// JSON text into a `Value`, keeping object keys in the order written, so a record read from
/// JSON (a JSON-lines file, an exec program's answer) hashes, names its job and prints as
/// written. Hand-written: Foundation's `JSONSerialization` and `JSONDecoder` both lose the key
/// order, tell neither booleans from numbers (the first) nor cheaply what a value is (the
/// second goes through `Decodable`, failing its way from one type to the next), and no package
/// of the project's set parses into `Value`.
public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

extension Value {
    /// Parses JSON text. A repeated key keeps its last value, in its first place.
    public init(json data: Data) throws(JSONParseError) {
        var parser = JSONParser(bytes: [UInt8](data))
        self = try parser.document()
    }

    public init(json text: String) throws(JSONParseError) {
        var parser = JSONParser(bytes: Array(text.utf8))
        self = try parser.document()
    }
}

/// A recursive-descent parser over the bytes of one JSON text.
struct JSONParser {
    typealias Failure = JSONParseError

    let bytes: [UInt8]
    var index = 0

    /// One value and nothing after it but white space.
    mutating func document() throws(Failure) -> Value {
        skipSpace()
        let value = try value(depth: 0)
        skipSpace()
        guard index == bytes.count else { throw failure("unexpected text after the value") }
        return value
    }

    func failure(_ what: String) -> Failure { Failure(description: "\(what) at byte \(index + 1)") }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8) throws(Failure) {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { throw failure("expected '\(Character(UnicodeScalar(byte)))'") }
        index += 1
    }

    mutating func value(depth: Int) throws(Failure) -> Value {
        guard depth < 512 else { throw failure("nesting too deep") }
        skipSpace()
        guard index < bytes.count else { throw failure("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var fields: [(String, Value)] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .map(Record(fields))
            }
            while true {
                skipSpace()
                let key = try string()
                try expect(UInt8(ascii: ":"))
                let item = try value(depth: depth + 1)
                if let at = fields.firstIndex(where: { $0.0 == key }) { fields[at].1 = item } else { fields.append((key, item)) }
                skipSpace()
                guard index < bytes.count else { throw failure("unexpected end in an object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .map(Record(fields)) }
                throw failure("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            index += 1
            var items: [Value] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .list(items)
            }
            while true {
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard index < bytes.count else { throw failure("unexpected end in a list") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .list(items) }
                throw failure("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        default:
            return try literal()
        }
    }

    mutating func literal() throws(Failure) -> Value {
        let start = index
        while index < bytes.count, !",]} \n\r\t".utf8.contains(bytes[index]) { index += 1 }
        let word = String(decoding: bytes[start..<index], as: UTF8.self)
        switch word {
        case "null": return .null
        case "true": return .bool(true)
        case "false": return .bool(false)
        default:
            if let i = Int64(word) { return .int(i) }
            if let first = word.utf8.first, first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
               let d = Double(word), d.isFinite {
                return .float(d)
            }
            index = start
            throw failure("unexpected '\(word.prefix(20))'")
        }
    }

    mutating func string() throws(Failure) -> String {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a string") }
        index += 1
        var out: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw failure("unexpected end in a string") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                       bytes[index + 1] == UInt8(ascii: "u") {
                        index += 2
                        let low = try hex4()
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    out += Array(String(UnicodeScalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
                default: throw failure("unknown escape '\\\(Character(UnicodeScalar(escape)))'")
                }
            default:
                out.append(byte)
            }
        }
        throw failure("unexpected end in a string")
    }

    mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count, let n = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
            throw failure("bad \\u escape")
        }
        index += 4
        return n
    }
}
