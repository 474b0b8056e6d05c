/// An Arrow logical type (the `Type` union of Schema.fbs). Dictionary encoding is not a
/// type: it is carried by `ArrowField.dictionary`, and `type` is then the *value* type.
public indirect enum ArrowType: Sendable, Hashable {
    case null
    case bool
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case float16, float32, float64
    /// Unscaled two's-complement integer of `bitWidth` (32, 64, 128 or 256) bits.
    case decimal(precision: Int, scale: Int, bitWidth: Int = 128)
    case date32, date64
    /// time32 takes .second or .millisecond; time64 .microsecond or .nanosecond.
    case time32(TimeUnit), time64(TimeUnit)
    /// `timezone` nil or empty: naive wall-clock time; otherwise a UTC instant.
    case timestamp(TimeUnit, timezone: String? = nil)
    case duration(TimeUnit)
    case interval(IntervalUnit)
    case binary, largeBinary, binaryView
    case fixedSizeBinary(Int)
    case utf8, largeUtf8, utf8View
    case list(ArrowField), largeList(ArrowField)
    case listView(ArrowField), largeListView(ArrowField)
    case fixedSizeList(ArrowField, size: Int)
    case `struct`([ArrowField])
    /// `entries` is a non-nullable struct field with two children: key and value.
    case map(ArrowField, keysSorted: Bool = false)
    /// `typeIds[i]` is the type code of `fields[i]` (0...127).
    case union(UnionMode, [ArrowField], typeIds: [Int8])
    /// `runEnds`: non-nullable int16/int32/int64 field; `values`: any type.
    case runEndEncoded(runEnds: ArrowField, values: ArrowField)

    // MARK: convenience constructors

    /// `list<item: element>`.
    public static func listOf(_ element: ArrowType, nullable: Bool = true) -> ArrowType {
        .list(ArrowField(name: "item", type: element, nullable: nullable))
    }
    /// `large_list<item: element>`.
    public static func largeListOf(_ element: ArrowType, nullable: Bool = true) -> ArrowType {
        .largeList(ArrowField(name: "item", type: element, nullable: nullable))
    }
    /// `map<key, value>` with the canonical `entries{key, value}` child.
    public static func mapOf(key: ArrowType, value: ArrowType, valueNullable: Bool = true,
                             keysSorted: Bool = false) -> ArrowType {
        .map(ArrowField(name: "entries", type: .struct([
            ArrowField(name: "key", type: key, nullable: false),
            ArrowField(name: "value", type: value, nullable: valueNullable),
        ]), nullable: false), keysSorted: keysSorted)
    }
    /// A union whose type codes are the child indices 0, 1, 2...
    public static func unionOf(_ mode: UnionMode, _ fields: [ArrowField]) -> ArrowType {
        .union(mode, fields, typeIds: fields.indices.map { Int8(truncatingIfNeeded: $0) })
    }

    /// Child fields of nested types (empty for the others).
    public var children: [ArrowField] {
        switch self {
        case .list(let f), .largeList(let f), .listView(let f), .largeListView(let f),
             .fixedSizeList(let f, _), .map(let f, _):
            return [f]
        case .struct(let fs), .union(_, let fs, _):
            return fs
        case .runEndEncoded(let r, let v):
            return [r, v]
        default:
            return []
        }
    }

    /// Byte width of fixed-width value buffers, nil for other layouts (bool is bit-packed: nil).
    public var byteWidth: Int? {
        switch self {
        case .int8, .uint8: return 1
        case .int16, .uint16, .float16: return 2
        case .int32, .uint32, .float32, .date32, .time32: return 4
        case .int64, .uint64, .float64, .date64, .time64, .timestamp, .duration: return 8
        case .decimal(_, _, let bw): return bw / 8
        case .interval(let u):
            switch u {
            case .yearMonth: return 4
            case .dayTime: return 8
            case .monthDayNano: return 16
            }
        case .fixedSizeBinary(let w): return w
        default: return nil
        }
    }

    /// True for the integer types usable as dictionary indices / run ends.
    public var isInteger: Bool {
        switch self {
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64: return true
        default: return false
        }
    }
}
