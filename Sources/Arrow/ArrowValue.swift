/// An interval value; which case depends on the column's `IntervalUnit`.
public enum ArrowInterval: Sendable, Hashable {
    case yearMonth(months: Int32)
    case dayTime(days: Int32, milliseconds: Int32)
    case monthDayNano(months: Int32, days: Int32, nanoseconds: Int64)
}

/// One decoded Arrow value. Temporal values keep the stored integer and its unit, so no
/// precision is lost; `decimal` is the exact decimal text (e.g. "-12.340").
public enum ArrowValue: Sendable {
    case null
    case bool(Bool)
    /// Any signed integer column (int8...int64).
    case int(Int64)
    /// Any unsigned integer column (uint8...uint64).
    case uint(UInt64)
    /// float16, float32 and float64 columns.
    case float(Double)
    case string(String)
    /// binary, large binary, binary view and fixed-size binary columns.
    case binary([UInt8])
    /// Exact decimal text: unscaled integer with the column's scale applied ("-1.50").
    case decimal(String)
    /// date32 (`.day`: days since 1970-01-01) or date64 (`.millisecond` since the epoch).
    case date(Int64, DateUnit)
    /// Time of day since midnight.
    case time(Int64, TimeUnit)
    /// Since the UNIX epoch; `timezone` nil means naive (wall clock) time.
    case timestamp(Int64, TimeUnit, timezone: String?)
    case duration(Int64, TimeUnit)
    case interval(ArrowInterval)
    /// list, large list, fixed-size list, list view and large list view values.
    case list([ArrowValue])
    /// Ordered name/value pairs.
    case `struct`([(name: String, value: ArrowValue)])
    /// Ordered key/value pairs.
    case map([(key: ArrowValue, value: ArrowValue)])
    /// `typeId` is the union type code; `value` is the selected child's value (may be null).
    indirect case union(typeId: Int8, value: ArrowValue)

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    // Convenience accessors (nil when the case does not match).
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var int64Value: Int64? {
        switch self {
        case .int(let v): return v
        case .uint(let v): return Int64(exactly: v)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .float(let v): return v
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        default: return nil
        }
    }
    public var boolValue: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }
}

extension ArrowValue: Equatable {
    /// Structural equality; NaN equals NaN (bitwise float comparison semantics for tests).
    public static func == (lhs: ArrowValue, rhs: ArrowValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.uint(a), .uint(b)): return a == b
        case let (.float(a), .float(b)): return a == b || (a.isNaN && b.isNaN)
        case let (.string(a), .string(b)): return a == b
        case let (.binary(a), .binary(b)): return a == b
        case let (.decimal(a), .decimal(b)): return a == b
        case let (.date(a, u), .date(b, v)): return a == b && u == v
        case let (.time(a, u), .time(b, v)): return a == b && u == v
        case let (.timestamp(a, u, z), .timestamp(b, v, w)): return a == b && u == v && z == w
        case let (.duration(a, u), .duration(b, v)): return a == b && u == v
        case let (.interval(a), .interval(b)): return a == b
        case let (.list(a), .list(b)): return a == b
        case let (.struct(a), .struct(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.name == $1.name && $0.value == $1.value }
        case let (.map(a), .map(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.union(t, a), .union(u, b)): return t == u && a == b
        default: return false
        }
    }
}

extension ArrowValue: Hashable {
    public func hash(into h: inout Hasher) {
        switch self {
        case .null: h.combine(0)
        case .bool(let v): h.combine(1); h.combine(v)
        case .int(let v): h.combine(2); h.combine(v)
        case .uint(let v): h.combine(3); h.combine(v)
        case .float(let v): h.combine(4); h.combine(v.isNaN ? Double.nan.bitPattern : v.bitPattern)
        case .string(let v): h.combine(5); h.combine(v)
        case .binary(let v): h.combine(6); h.combine(v)
        case .decimal(let v): h.combine(7); h.combine(v)
        case .date(let v, let u): h.combine(8); h.combine(v); h.combine(u)
        case .time(let v, let u): h.combine(9); h.combine(v); h.combine(u)
        case .timestamp(let v, let u, let z): h.combine(10); h.combine(v); h.combine(u); h.combine(z)
        case .duration(let v, let u): h.combine(11); h.combine(v); h.combine(u)
        case .interval(let v): h.combine(12); h.combine(v)
        case .list(let v): h.combine(13); h.combine(v)
        case .struct(let v):
            h.combine(14)
            for e in v { h.combine(e.name); h.combine(e.value) }
        case .map(let v):
            h.combine(15)
            for e in v { h.combine(e.key); h.combine(e.value) }
        case .union(let t, let v): h.combine(16); h.combine(t); h.combine(v)
        }
    }
}
