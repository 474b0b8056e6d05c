/// One row: named, typed values in a stable order. Also the body of a `Value.map`.
public struct Record: Sendable, Equatable {
    public private(set) var names: [String]
    public private(set) var values: [Value]

    public init() {
        names = []
        values = []
    }

    public init(_ pairs: [(String, Value)]) {
        names = pairs.map(\.0)
        values = pairs.map(\.1)
    }

    public var count: Int { names.count }
    public var isEmpty: Bool { names.isEmpty }
    public var fields: Zip2Sequence<[String], [Value]> { zip(names, values) }

    /// The value of field `name`, or nil when there is no such field.
    public subscript(name: String) -> Value? {
        get { names.firstIndex(of: name).map { values[$0] } }
        set {
            if let index = names.firstIndex(of: name) {
                if let newValue { values[index] = newValue } else {
                    names.remove(at: index)
                    values.remove(at: index)
                }
            } else if let newValue {
                names.append(name)
                values.append(newValue)
            }
        }
    }

    /// Follows a dotted path (`record.name`, `tasks.0.Engine`) through maps and lists.
    public func lookup(_ path: [String]) -> Value? {
        guard let first = path.first, var current = self[first] else { return nil }
        for component in path.dropFirst() {
            switch current {
            case .map(let record):
                guard let next = record[component] else { return nil }
                current = next
            case .list(let list):
                guard let index = Int(component), list.indices.contains(index) else { return nil }
                current = list[index]
            default:
                return nil
            }
        }
        return current
    }
}
