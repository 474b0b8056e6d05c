/// JSON rendering for `hypha arrow cat` (one JSON object per row) and
/// `hypha arrow schema`.
///
/// Value mapping:
/// - null → `null`; bool → `true`/`false`
/// - integers → JSON numbers; with `bigIntegersAsStrings` (default true) integers outside
///   ±2^53 become strings so JavaScript-style consumers stay exact
/// - floats → numbers; NaN / ±infinity → "NaN", "Infinity", "-Infinity"
/// - utf8 → string; binary kinds → base64 string (RFC 4648, with padding)
/// - decimal → string with the exact digits ("-12.50")
/// - date32 → "YYYY-MM-DD"; date64 → "YYYY-MM-DD" (or full timestamp if not midnight)
/// - time → "HH:MM:SS[.fraction]"
/// - timestamp → ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fraction]" with a trailing "Z" when the
///   column has a time zone (the value is a UTC instant); naive timestamps have no suffix
/// - duration → integer number of the column's unit
/// - interval → {"months":…} / {"days":…,"milliseconds":…} / {"months":…,"days":…,"nanoseconds":…}
/// - list → array; struct → object; map → array of [key, value] pairs; union → the
///   selected child's value
public enum ArrowJSON {
    public struct Options: Sendable {
        public var bigIntegersAsStrings: Bool
        public init(bigIntegersAsStrings: Bool = true) { self.bigIntegersAsStrings = bigIntegersAsStrings }
    }

    /// One JSON object for row `row` of `batch`, keys in column order.
    public static func line(batch: RecordBatch, row: Int, options: Options = .init()) -> String {
        var w = JSONBytes()
        w.appendRow(batch, row, options)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// Appends the JSON object of row `row` plus "\n" to `out` (UTF-8), for streaming output.
    public static func appendLine(batch: RecordBatch, row: Int, to out: inout [UInt8], options: Options = .init()) {
        var w = JSONBytes()
        swap(&w.bytes, &out)
        w.appendRow(batch, row, options)
        w.bytes.append(0x0A)
        swap(&w.bytes, &out)
    }

    /// Every row of every batch, one JSON object per line (each line ends with "\n").
    public static func lines(_ table: ArrowTable, options: Options = .init()) -> String {
        var out: [UInt8] = []
        for b in table.batches {
            for r in 0..<b.rowCount { appendLine(batch: b, row: r, to: &out, options: options) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// JSON text of one value.
    public static func render(_ v: ArrowValue, options: Options = .init()) -> String {
        var w = JSONBytes()
        w.append(v, options)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// Human-readable schema text (pyarrow style), one field per line.
    public static func schemaText(_ schema: ArrowSchema) -> String { schema.description }

    /// Machine-readable schema: {"fields":[{"name":…,"type":…,"nullable":…,…}],"metadata":{…}}.
    public static func schemaJSON(_ schema: ArrowSchema) -> String {
        var out = "{\"fields\":["
        func field(_ f: ArrowField, _ out: inout String) {
            out += "{\"name\":"
            appendString(f.name, to: &out)
            out += ",\"type\":"
            appendString(f.type.description, to: &out)
            out += ",\"nullable\":\(f.nullable)"
            if let d = f.dictionary {
                out += ",\"dictionary\":{\"id\":\(d.id),\"indexType\":"
                appendString(d.indexType.description, to: &out)
                out += ",\"ordered\":\(d.isOrdered)}"
            }
            let children = f.type.children
            if !children.isEmpty {
                out += ",\"children\":["
                for (i, c) in children.enumerated() {
                    if i > 0 { out += "," }
                    field(c, &out)
                }
                out += "]"
            }
            if !f.metadata.isEmpty {
                out += ",\"metadata\":"
                metadataObject(f.metadata, &out)
            }
            out += "}"
        }
        for (i, f) in schema.fields.enumerated() {
            if i > 0 { out += "," }
            field(f, &out)
        }
        out += "]"
        if !schema.metadata.isEmpty {
            out += ",\"metadata\":"
            metadataObject(schema.metadata, &out)
        }
        out += "}"
        return out
    }

    static func metadataObject(_ kvs: [ArrowKeyValue], _ out: inout String) {
        out += "{"
        for (i, kv) in kvs.enumerated() {
            if i > 0 { out += "," }
            appendString(kv.key, to: &out)
            out += ":"
            appendString(kv.value, to: &out)
        }
        out += "}"
    }

    static func appendString(_ s: String, to out: inout String) {
        var w = JSONBytes()
        w.appendString(s)
        out += String(decoding: w.bytes, as: UTF8.self)
    }

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// RFC 4648 base64 with padding.
    public static func base64(_ b: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((b.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= b.count {
            let v = UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2])
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        let rest = b.count - i
        if rest == 1 {
            let v = UInt32(b[i]) << 16
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], 61, 61]
        } else if rest == 2 {
            let v = UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], 61]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Proleptic Gregorian date "YYYY-MM-DD" of a day count since 1970-01-01.
    public static func civilDate(days: Int64) -> String {
        var w = JSONBytes()
        w.appendDate(days)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// "HH:MM:SS[.fff]" for a time of day.
    public static func timeOfDay(_ v: Int64, _ u: TimeUnit) -> String {
        var w = JSONBytes()
        w.appendTime(v, u)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// ISO 8601 date-time (no zone suffix) of a timestamp since the epoch.
    public static func isoTimestamp(_ v: Int64, _ u: TimeUnit) -> String {
        var w = JSONBytes()
        w.appendISOTimestamp(v, u)
        return String(decoding: w.bytes, as: UTF8.self)
    }
}

extension Int64 {
    /// Floor division (rounds toward negative infinity); `d` > 0.
    func dividedFloor(by d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && self < 0) ? q - 1 : q
    }
}

/// Byte-level JSON writer used by ArrowJSON (no intermediate Strings per value).
struct JSONBytes {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }

    @inline(__always) mutating func lit(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func appendRow(_ batch: RecordBatch, _ row: Int, _ o: ArrowJSON.Options) {
        bytes.append(UInt8(ascii: "{"))
        for (c, f) in batch.schema.fields.enumerated() {
            if c > 0 { bytes.append(UInt8(ascii: ",")) }
            appendString(f.name)
            bytes.append(UInt8(ascii: ":"))
            appendCell(batch.columns[c], row, o)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Fast paths straight from the column buffers; other types go through ArrowValue.
    mutating func appendCell(_ a: ArrowArray, _ i: Int, _ o: ArrowJSON.Options) {
        switch a.kind {
        case .utf8, .largeUtf8, .utf8View, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .timestamp, .date32,
             .float32:
            if !a.isValidSlot(i) { lit("null"); return }
        default:
            append(a.value(at: i), o)
            return
        }
        switch a.kind {
        case .utf8:
            let s = Int(a.values.load(i, as: Int32.self)), e = Int(a.values.load(i + 1, as: Int32.self))
            appendUTF8(a.data, s, e - s)
        case .largeUtf8:
            let s = Int(a.values.load(i, as: Int64.self)), e = Int(a.values.load(i + 1, as: Int64.self))
            appendUTF8(a.data, s, e - s)
        case .utf8View:
            let (buf, off, len) = a.viewLocation(i)
            appendUTF8(buf, off, len)
        case .timestamp:
            bytes.append(UInt8(ascii: "\""))
            appendISOTimestamp(a.values.load(i, as: Int64.self), a.unit)
            if a.timezone != nil { bytes.append(UInt8(ascii: "Z")) }
            bytes.append(UInt8(ascii: "\""))
        case .date32:
            bytes.append(UInt8(ascii: "\""))
            appendDate(Int64(a.values.load(i, as: Int32.self)))
            bytes.append(UInt8(ascii: "\""))
        case .float32:
            // Shortest float32 text ("0.3", not the widened double 0.30000001192092896).
            let f = Float(bitPattern: a.values.load(i, as: UInt32.self))
            if f.isNaN || f.isInfinite || (f == f.rounded() && abs(f) < 1e15) {
                append(.float(Double(f)), o)
            } else {
                bytes.append(contentsOf: String(f).utf8)
            }
        default:
            appendInt(a.int64(at: i), o)
        }
    }

    mutating func appendUTF8(_ buf: ArrowBuffer, _ off: Int, _ len: Int) {
        bytes.append(UInt8(ascii: "\""))
        if len > 0 {
            buf.withUnsafeBytes { raw in appendEscaped(UnsafeRawBufferPointer(rebasing: raw[off..<(off + len)])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func appendEscaped(_ raw: UnsafeRawBufferPointer) {
        var clean = true
        for b in raw where b < 0x20 || b == 0x22 || b == 0x5C { clean = false; break }
        if clean { bytes.append(contentsOf: raw); return }
        for b in raw {
            switch b {
            case 0x22: lit("\\\"")
            case 0x5C: lit("\\\\")
            case 0x0A: lit("\\n")
            case 0x0D: lit("\\r")
            case 0x09: lit("\\t")
            case 0..<0x20:
                lit("\\u00")
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 15)])
            default: bytes.append(b)
            }
        }
    }

    mutating func appendString(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var copy = s
        copy.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0)) }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func appendDecimal(_ v: UInt64) {
        if v < 10 { bytes.append(UInt8(truncatingIfNeeded: v) &+ 48); return }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch
        withUnsafeMutableBytes(of: &tmp) { buf in
            var n = v
            var k = 24
            while n > 0 {
                k -= 1
                buf[k] = UInt8(truncatingIfNeeded: n % 10) &+ 48
                n /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[k..<24]))
        }
    }

    mutating func appendSigned(_ v: Int64) {
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(v.magnitude)
    }

    mutating func appendPadded(_ v: Int64, _ width: Int) {
        var digits = 1
        var p: Int64 = 10
        while v >= p && digits < 19 { digits += 1; p = p &* 10 }
        if digits < width { bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - digits)) }
        appendDecimal(UInt64(v))
    }

    mutating func appendInt(_ v: Int64, _ o: ArrowJSON.Options) {
        let big = o.bigIntegersAsStrings && (v > 9_007_199_254_740_992 || v < -9_007_199_254_740_992)
        if big { bytes.append(UInt8(ascii: "\"")) }
        appendSigned(v)
        if big { bytes.append(UInt8(ascii: "\"")) }
    }

    mutating func appendDate(_ days: Int64) {
        // Every Int64 timestamp's day (at most ±1.07e14, in seconds) is within the civil
        // calendar below; a larger count, which no Arrow type makes, is written as "Nd".
        guard days > -1_000_000_000_000_000 && days < 1_000_000_000_000_000 else {
            appendSigned(days)
            bytes.append(UInt8(ascii: "d"))
            return
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        if m <= 2 { y += 1 }
        if y < 0 { bytes.append(UInt8(ascii: "-")) }
        appendPadded(y.magnitude > UInt64(Int64.max) ? 0 : Int64(y.magnitude), 4)
        bytes.append(UInt8(ascii: "-"))
        appendPadded(m, 2)
        bytes.append(UInt8(ascii: "-"))
        appendPadded(d, 2)
    }

    mutating func appendClock(_ secondsOfDay: Int64) {
        appendPadded(secondsOfDay / 3600, 2)
        bytes.append(UInt8(ascii: ":"))
        appendPadded(secondsOfDay / 60 % 60, 2)
        bytes.append(UInt8(ascii: ":"))
        appendPadded(secondsOfDay % 60, 2)
    }

    mutating func appendFraction(_ ticks: Int64, _ u: TimeUnit) {
        if ticks == 0 { return }
        bytes.append(UInt8(ascii: "."))
        switch u {
        case .second: break
        case .millisecond: appendPadded(ticks, 3)
        case .microsecond: appendPadded(ticks, 6)
        case .nanosecond: appendPadded(ticks, 9)
        }
    }

    mutating func appendISOTimestamp(_ v: Int64, _ u: TimeUnit) {
        let tps = u.ticksPerSecond
        let secs = v.dividedFloor(by: tps)
        let sub = v &- secs &* tps
        let days = secs.dividedFloor(by: 86_400)
        appendDate(days)
        bytes.append(UInt8(ascii: "T"))
        appendClock(secs &- days &* 86_400)
        appendFraction(sub, u)
    }

    mutating func appendTime(_ v: Int64, _ u: TimeUnit) {
        let tps = u.ticksPerSecond
        let secs = v.dividedFloor(by: tps)
        let sub = v &- secs &* tps
        if secs < 0 || secs >= 1_000_000_000_000 {
            appendSigned(v)
            return
        }
        appendClock(secs)
        appendFraction(sub, u)
    }

    mutating func append(_ v: ArrowValue, _ o: ArrowJSON.Options) {
        switch v {
        case .null: lit("null")
        case .bool(let b): if b { lit("true") } else { lit("false") }
        case .int(let x): appendInt(x, o)
        case .uint(let x):
            let big = o.bigIntegersAsStrings && x > 9_007_199_254_740_992
            if big { bytes.append(UInt8(ascii: "\"")) }
            appendDecimal(x)
            if big { bytes.append(UInt8(ascii: "\"")) }
        case .float(let d):
            if d.isNaN { lit("\"NaN\"") } else if d.isInfinite { if d < 0 { lit("\"-Infinity\"") } else { lit("\"Infinity\"") } } else if d == d.rounded() && abs(d) < 1e15 {
                appendSigned(Int64(d))
            } else {
                bytes.append(contentsOf: String(d).utf8)
            }
        case .string(let s): appendString(s)
        case .binary(let b):
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: ArrowJSON.base64(b).utf8)
            bytes.append(UInt8(ascii: "\""))
        case .decimal(let s):
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: s.utf8)
            bytes.append(UInt8(ascii: "\""))
        case .date(let x, let unit):
            bytes.append(UInt8(ascii: "\""))
            if unit == .day {
                appendDate(x)
            } else if x % 86_400_000 == 0 {
                appendDate(x / 86_400_000)
            } else {
                appendISOTimestamp(x, .millisecond)
            }
            bytes.append(UInt8(ascii: "\""))
        case .time(let x, let u):
            bytes.append(UInt8(ascii: "\""))
            appendTime(x, u)
            bytes.append(UInt8(ascii: "\""))
        case .timestamp(let x, let u, let tz):
            bytes.append(UInt8(ascii: "\""))
            appendISOTimestamp(x, u)
            if tz != nil { bytes.append(UInt8(ascii: "Z")) }
            bytes.append(UInt8(ascii: "\""))
        case .duration(let x, _): appendInt(x, o)
        case .interval(let i):
            switch i {
            case .yearMonth(let m):
                lit("{\"months\":"); appendSigned(Int64(m)); lit("}")
            case .dayTime(let d, let ms):
                lit("{\"days\":"); appendSigned(Int64(d)); lit(",\"milliseconds\":"); appendSigned(Int64(ms)); lit("}")
            case .monthDayNano(let m, let d, let ns):
                lit("{\"months\":"); appendSigned(Int64(m)); lit(",\"days\":"); appendSigned(Int64(d))
                lit(",\"nanoseconds\":"); appendInt(ns, o); lit("}")
            }
        case .list(let xs):
            bytes.append(UInt8(ascii: "["))
            for (i, x) in xs.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                append(x, o)
            }
            bytes.append(UInt8(ascii: "]"))
        case .struct(let fs):
            bytes.append(UInt8(ascii: "{"))
            for (i, f) in fs.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                appendString(f.name)
                bytes.append(UInt8(ascii: ":"))
                append(f.value, o)
            }
            bytes.append(UInt8(ascii: "}"))
        case .map(let kvs):
            bytes.append(UInt8(ascii: "["))
            for (i, kv) in kvs.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes.append(UInt8(ascii: "["))
                append(kv.key, o)
                bytes.append(UInt8(ascii: ","))
                append(kv.value, o)
                bytes.append(UInt8(ascii: "]"))
            }
            bytes.append(UInt8(ascii: "]"))
        case .union(_, let x): append(x, o)
        }
    }
}
