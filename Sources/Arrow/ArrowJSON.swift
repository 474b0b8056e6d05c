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
        var out = "{"
        for (c, f) in batch.schema.fields.enumerated() {
            if c > 0 { out += "," }
            appendString(f.name, to: &out)
            out += ":"
            append(batch.columns[c].value(at: row), to: &out, options)
        }
        out += "}"
        return out
    }

    /// Every row of every batch, one JSON object per line (each line ends with "\n").
    public static func lines(_ table: ArrowTable, options: Options = .init()) -> String {
        var out = ""
        for b in table.batches {
            for r in 0..<b.rowCount {
                out += line(batch: b, row: r, options: options)
                out += "\n"
            }
        }
        return out
    }

    /// JSON text of one value.
    public static func render(_ v: ArrowValue, options: Options = .init()) -> String {
        var s = ""
        append(v, to: &s, options)
        return s
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

    static func appendInt(_ v: Int64, _ out: inout String, _ o: Options) {
        if o.bigIntegersAsStrings && (v > 9_007_199_254_740_992 || v < -9_007_199_254_740_992) {
            out += "\"\(v)\""
        } else {
            out += String(v)
        }
    }

    static func append(_ v: ArrowValue, to out: inout String, _ o: Options) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let x): appendInt(x, &out, o)
        case .uint(let x):
            if o.bigIntegersAsStrings && x > 9_007_199_254_740_992 { out += "\"\(x)\"" } else { out += String(x) }
        case .float(let d):
            if d.isNaN { out += "\"NaN\"" } else if d.isInfinite { out += d < 0 ? "\"-Infinity\"" : "\"Infinity\"" } else {
                out += d == d.rounded() && abs(d) < 1e16 ? String(Int64(d)) : String(d)
            }
        case .string(let s): appendString(s, to: &out)
        case .binary(let b): out += "\"" + base64(b) + "\""
        case .decimal(let s): out += "\"" + s + "\""
        case .date(let x, .day): out += "\"" + civilDate(days: x) + "\""
        case .date(let x, .millisecond):
            if x % 86_400_000 == 0 { out += "\"" + civilDate(days: x / 86_400_000) + "\"" } else {
                out += "\"" + isoTimestamp(x, .millisecond) + "\""
            }
        case .time(let x, let u): out += "\"" + timeOfDay(x, u) + "\""
        case .timestamp(let x, let u, let tz):
            out += "\"" + isoTimestamp(x, u) + (tz == nil ? "" : "Z") + "\""
        case .duration(let x, _): appendInt(x, &out, o)
        case .interval(let i):
            switch i {
            case .yearMonth(let m): out += "{\"months\":\(m)}"
            case .dayTime(let d, let ms): out += "{\"days\":\(d),\"milliseconds\":\(ms)}"
            case .monthDayNano(let m, let d, let ns):
                out += "{\"months\":\(m),\"days\":\(d),\"nanoseconds\":"
                appendInt(ns, &out, o)
                out += "}"
            }
        case .list(let xs):
            out += "["
            for (i, x) in xs.enumerated() {
                if i > 0 { out += "," }
                append(x, to: &out, o)
            }
            out += "]"
        case .struct(let fs):
            out += "{"
            for (i, f) in fs.enumerated() {
                if i > 0 { out += "," }
                appendString(f.name, to: &out)
                out += ":"
                append(f.value, to: &out, o)
            }
            out += "}"
        case .map(let kvs):
            out += "["
            for (i, kv) in kvs.enumerated() {
                if i > 0 { out += "," }
                out += "["
                append(kv.key, to: &out, o)
                out += ","
                append(kv.value, to: &out, o)
                out += "]"
            }
            out += "]"
        case .union(_, let x): append(x, to: &out, o)
        }
    }

    static func appendString(_ s: String, to out: inout String) {
        out += "\""
        var needsEscape = false
        for u in s.utf8 where u < 0x20 || u == 0x22 || u == 0x5C { needsEscape = true; break }
        if !needsEscape {
            out += s
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 {
                        let hex = String(scalar.value, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
        }
        out += "\""
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

    /// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
    public static func civilDate(days: Int64) -> String {
        // Beyond ±10^14 days (far outside any calendar) fall back to the raw count.
        guard days > -100_000_000_000_000 && days < 100_000_000_000_000 else { return "\(days)d" }
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
        let ys = y < 0 ? "-" + pad(-y, 4) : pad(y, 4)
        return "\(ys)-\(pad(m, 2))-\(pad(d, 2))"
    }

    static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    static func fraction(_ ticks: Int64, _ u: TimeUnit) -> String {
        switch u {
        case .second: return ""
        case .millisecond: return "." + pad(ticks, 3)
        case .microsecond: return "." + pad(ticks, 6)
        case .nanosecond: return "." + pad(ticks, 9)
        }
    }

    /// "HH:MM:SS[.fff]" for a time of day.
    public static func timeOfDay(_ v: Int64, _ u: TimeUnit) -> String {
        let tps = u.ticksPerSecond
        let secs = v.dividedFloor(by: tps)
        let sub = v &- secs &* tps
        let h = secs / 3600, m = secs / 60 % 60, s = secs % 60
        return "\(pad(h, 2)):\(pad(m, 2)):\(pad(s, 2))" + (sub == 0 ? "" : fraction(sub, u))
    }

    /// ISO 8601 date-time (no zone suffix) of a timestamp since the epoch.
    public static func isoTimestamp(_ v: Int64, _ u: TimeUnit) -> String {
        let tps = u.ticksPerSecond
        let secs = v.dividedFloor(by: tps)
        let sub = v &- secs &* tps
        let days = secs.dividedFloor(by: 86_400)
        let sod = secs &- days &* 86_400
        return civilDate(days: days) + "T" + "\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2))"
            + (sub == 0 ? "" : fraction(sub, u))
    }
}

extension Int64 {
    /// Floor division (rounds toward negative infinity); `d` > 0.
    func dividedFloor(by d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && self < 0) ? q - 1 : q
    }
}
