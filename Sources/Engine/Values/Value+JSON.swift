import Foundation

extension Value {
    /// Compact JSON with keys in record order. Bytes become base64, timestamps ISO 8601.
    public var json: String {
        var out: [UInt8] = []
        writeJSON(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the compact JSON (as `json` spells it) as UTF-8 bytes.
    public func writeJSON(into out: inout [UInt8]) {
        switch self {
        case .null: out += "null".utf8
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .int(let i): out += String(i).utf8
        case .float(let d):
            if d.isFinite {
                out += (d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)").utf8
            } else {
                out += "null".utf8
            }
        case .string(let s): Value.writeJSONString(s, into: &out)
        case .bytes(let b): Value.writeJSONString(Data(b).base64EncodedString(), into: &out)
        case .timestamp(let t): Value.writeJSONString(Value.iso8601(micros: t), into: &out)
        case .list(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.writeJSON(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .map(let record):
            out.append(UInt8(ascii: "{"))
            for (i, (name, value)) in record.fields.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Value.writeJSONString(name, into: &out)
                out.append(UInt8(ascii: ":"))
                value.writeJSON(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string literal: `"` and `\` escaped, control characters as `\n`, `\r`, `\t` or
    /// `\u00XX`; everything else (all of non-ASCII UTF-8 included) copied as it is, in runs.
    static func writeJSONString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var runStart = 0
            for (i, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                runStart = i + 1
                switch byte {
                case UInt8(ascii: "\""): out += #"\""#.utf8
                case UInt8(ascii: "\\"): out += #"\\"#.utf8
                case UInt8(ascii: "\n"): out += #"\n"#.utf8
                case UInt8(ascii: "\r"): out += #"\r"#.utf8
                case UInt8(ascii: "\t"): out += #"\t"#.utf8
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out += #"\u00"#.utf8
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0xf)])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension Value: Encodable {
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .int(let i):
            var c = encoder.singleValueContainer()
            try c.encode(i)
        case .float(let d):
            var c = encoder.singleValueContainer()
            try c.encode(d)
        case .string, .bytes, .timestamp:
            var c = encoder.singleValueContainer()
            try c.encode(textForEncoding)
        case .list(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .map(let record):
            var c = encoder.container(keyedBy: AnyKey.self)
            for (name, value) in record.fields { try c.encode(value, forKey: AnyKey(name)) }
        }
    }

    private var textForEncoding: String {
        if case .bytes(let b) = self { return Data(b).base64EncodedString() }
        return text
    }
}

/// A coding key for arbitrary object keys.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { stringValue = String(intValue) }
}
