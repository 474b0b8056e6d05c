import HyphaArrow

/// The type of a field in the records a plugin emits, as far as it is known before running.
public enum FieldType: String, Sendable, Equatable, CaseIterable {
    case string, int, float, bool, timestamp, bytes, list, map
    /// Not known statically (any value).
    case any

    /// The type of a value (for literals such as a `default(...)` argument).
    public init(of value: Value) {
        switch value {
        case .null: self = .any
        case .bool: self = .bool
        case .int: self = .int
        case .float: self = .float
        case .string: self = .string
        case .bytes: self = .bytes
        case .timestamp: self = .timestamp
        case .list: self = .list
        case .map: self = .map
        }
    }
}

/// One field of the records a plugin emits: its name, its type and, for a map whose fields are
/// known (a job result's `record`), those fields.
public struct RecordField: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var type: FieldType
    public var fields: [RecordField]?

    public init(_ name: String, _ type: FieldType, fields: [RecordField]? = nil) {
        self.name = name
        self.type = type
        self.fields = fields
    }

    /// `name: type`, a known map's fields in braces.
    public var description: String { "\(name): \(typeDescription)" }

    public var typeDescription: String {
        guard type == .map, let fields else { return type.rawValue }
        return "map {" + fields.map(\.description).joined(separator: ", ") + "}"
    }

    /// The fields of several inputs together: a name found in several keeps its type where
    /// they agree, `any` where they don't.
    public static func union(_ schemas: [[RecordField]]) -> [RecordField] {
        var merged: [RecordField] = []
        for field in schemas.flatMap({ $0 }) {
            if let index = merged.firstIndex(where: { $0.name == field.name }) {
                if merged[index] != field {
                    let both = merged[index].type == field.type ? field.type : .any
                    let nested = both == .map ? merged[index].fields.flatMap { a in field.fields.map { union([a, $0]) } } : nil
                    merged[index] = RecordField(field.name, both, fields: nested)
                }
            } else {
                merged.append(field)
            }
        }
        return merged
    }

    /// The field at `path` (`record.name`) in `schema`: `.found` with it, `.unknown` where a
    /// map on the way has unknown fields, `.missing` with the first name not there and the
    /// names that were.
    public static func lookup(_ path: [String], in schema: [RecordField]) -> Lookup {
        var fields = schema
        var found: RecordField?
        for (depth, name) in path.enumerated() {
            guard let field = fields.first(where: { $0.name == name }) else {
                return .missing(path: Array(path[...depth]), available: fields.map(\.name))
            }
            found = field
            if depth == path.count - 1 { break }
            guard field.type == .map || field.type == .any, let inner = field.fields else { return .unknown }
            fields = inner
        }
        return found.map(Lookup.found) ?? .unknown
    }

    public enum Lookup: Sendable, Equatable {
        case found(RecordField)
        case unknown
        case missing(path: [String], available: [String])
    }
}

extension FieldType {
    /// The type a column of `type` has once decoded into records (as arrow-decode does).
    public init(arrow type: ArrowType) {
        switch type {
        case .null: self = .any
        case .bool: self = .bool
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .time32, .time64: self = .int
        case .float16, .float32, .float64, .duration: self = .float
        case .decimal, .interval, .utf8, .largeUtf8, .utf8View: self = .string
        case .date32, .date64, .timestamp: self = .timestamp
        case .binary, .largeBinary, .binaryView, .fixedSizeBinary: self = .bytes
        case .list, .largeList, .listView, .largeListView, .fixedSizeList: self = .list
        case .struct, .map: self = .map
        case .union: self = .any
        case .runEndEncoded(_, let values): self = FieldType(arrow: values.type)
        }
    }
}

extension RecordField {
    /// What an Arrow schema lacks of the `declared` fields, or a field whose type differs (an
    /// `int` column is taken where `float` is declared); nil when it has them all.
    public static func problem(in schema: ArrowSchema, declared: [RecordField]) -> String? {
        for field in declared {
            guard let column = schema.fields.first(where: { $0.name == field.name }) else {
                return "it has no column '\(field.name)' (its columns: \(schema.fields.map(\.name).joined(separator: ", ")))"
            }
            let actual = FieldType(arrow: column.type)
            let fits = field.type == .any || actual == .any || actual == field.type || (field.type == .float && actual == .int)
            if !fits {
                return "its column '\(field.name)' is \(actual.rawValue) (\(column.type)), declared \(field.type.rawValue)"
            }
        }
        return nil
    }
}
