import Foundation

/// Checking a value against an option's declaration: its type, then its range or choices.
/// The loader checks plugin options with it, the parser the workflow's own keys.
extension OptionSpec {
    /// Why `value` does not fit this option, as the end of a sentence ("must be an integer, got
    /// string \"x\"", "must be at least 1, got 0"); nil when it fits.
    func problem(with value: Value) -> String? {
        if let kind = Self.typeProblem(value, type) { return "must be \(kind), got \(value.typeName) \(value.json)" }
        return boundsProblem(value)
    }

    /// A number outside the option's range, or a word not among its choices.
    func boundsProblem(_ value: Value) -> String? {
        if let range {
            let number = type == .duration ? OptionParsing.seconds(value) : value.doubleValue
            if let number, !range.contains(number) {
                return "must be \(range)\(type == .duration ? " seconds" : ""), got \(value.text)"
            }
        }
        if let choices, !choices.contains(value.text) {
            return "must be one of \(choices.map { "'\($0)'" }.joined(separator: ", ")), got '\(value.text)'"
                + didYouMean(value.text, choices)
        }
        return nil
    }

    static func typeProblem(_ value: Value, _ type: OptionType) -> String? {
        switch type {
        case .string, .path:
            if case .string = value { return nil }
            if case .int = value { return nil }
            return type == .path ? "a path (a string)" : "a string"
        case .int: return value.intValue == nil ? "an integer" : nil
        case .float: return value.doubleValue == nil ? "a number" : nil
        case .bool: return value.boolValue == nil ? "true or false" : nil
        case .stringList:
            switch value {
            case .string: return nil
            case .list(let items) where items.allSatisfy({ $0.stringValue != nil || $0.intValue != nil }): return nil
            default: return "a list of strings"
            }
        case .duration: return OptionParsing.seconds(value) == nil ? "a duration (seconds, or like \"500ms\", \"10s\", \"5m\")" : nil
        case .fields:
            guard case .map(let fields) = value else { return "a mapping of field names to types" }
            let types = FieldType.allCases.map(\.rawValue)
            for (name, type) in fields.fields where !types.contains(type.text) {
                return "a mapping of field names to types (\(types.joined(separator: ", "))); field '\(name)' has '\(type.text)'"
                    + didYouMean(type.text, types)
            }
            return nil
        }
    }
}
