import Engine

/// Checks what reached a node against a test's expectation; a failure is a readable diff.
enum ExpectationCheck {
    /// The lines that describe every way `actual` misses `expectation` (none: it holds).
    /// Expected strings may hold `{{ ... }}` placeholders, filled from `scope`.
    static func check(_ expectation: WorkflowTest.Expectation, actual: [Value], scope: Record) -> [String] {
        var lines: [String] = []
        let node = expectation.node
        if let count = expectation.count, count != actual.count {
            lines.append("\(node): expected \(count) message\(count == 1 ? "" : "s"), got \(actual.count)")
            for (index, value) in actual.prefix(5).enumerated() { lines.append("  got #\(index + 1): \(label(value))") }
        }
        do {
            if let equals = expectation.equals {
                lines += match(try equals.map { try fill($0, scope) }, actual, partial: false, node: node, what: "equals")
            }
            if let subset = expectation.subset {
                lines += match(try subset.map { try fill($0, scope) }, actual, partial: true, node: node, what: "subset")
            }
            if !expectation.fields.isEmpty && actual.isEmpty {
                lines.append("\(node): expected fields \(expectation.fields.map(\.path).joined(separator: ", ")), but no message reached it")
            }
            for (index, value) in actual.enumerated() {
                var differences: [String] = []
                for (path, expectedRaw, _) in expectation.fields {
                    let expected = try fill(expectedRaw, scope)
                    let found = lookup(path, in: value)
                    if let found, same(expected, found, partial: false) { continue }
                    differences.append("  \(path)")
                    differences.append("  - expected: \(show(expected))")
                    differences.append("  + actual:   \(found.map(show) ?? "(missing)")")
                }
                if !differences.isEmpty {
                    lines.append("\(node): message #\(index + 1) (\(label(value))):")
                    lines += differences
                }
            }
        } catch {
            lines.append("\(node): an expected value's placeholder: \(error)")
        }
        return lines
    }

    /// Each expected message must match a different actual one, in any order; with `partial`,
    /// only the fields given must match. For `equals` the counts must agree too.
    static func match(_ expected: [Value], _ actual: [Value], partial: Bool, node: String, what: String) -> [String] {
        var unused = Array(actual.indices)
        var lines: [String] = []
        for (index, item) in expected.enumerated() {
            if let position = unused.firstIndex(where: { same(item, actual[$0], partial: partial) }) {
                unused.remove(at: position)
                continue
            }
            lines.append("\(node): \(what) #\(index + 1) matches no message that reached it")
            // The closest message, shown as the fields that differ.
            let closest = unused.min { differences(item, actual[$0], partial: partial).count < differences(item, actual[$1], partial: partial).count }
            if let closest {
                lines.append("  closest: #\(closest + 1) (\(label(actual[closest])))")
                for (path, exp, act) in differences(item, actual[closest], partial: partial) {
                    lines.append("  \(path.isEmpty ? "(the message)" : path)")
                    lines.append("  - expected: \(exp.map(show) ?? "(absent)")")
                    lines.append("  + actual:   \(act.map(show) ?? "(missing)")")
                }
            } else {
                lines.append("  - expected: \(show(item))")
                lines.append("  + actual:   nothing left (\(actual.count) message\(actual.count == 1 ? "" : "s") reached it)")
            }
        }
        if !partial, !unused.isEmpty {
            lines.append("\(node): \(unused.count) message\(unused.count == 1 ? "" : "s") not in 'equals':")
            for index in unused.prefix(5) { lines.append("  + #\(index + 1): \(show(actual[index]))") }
        }
        return lines
    }

    /// Whether `actual` is `expected` (numbers by value, a timestamp by its ISO 8601 text);
    /// with `partial`, a map need only have the expected fields.
    static func same(_ expected: Value, _ actual: Value, partial: Bool) -> Bool {
        switch (expected, actual) {
        case (.map(let e), .map(let a)):
            if !partial && e.names.sorted() != a.names.sorted() { return false }
            return e.fields.allSatisfy { name, value in a[name].map { same(value, $0, partial: partial) } ?? false }
        case (.list(let e), .list(let a)):
            return e.count == a.count && zip(e, a).allSatisfy { same($0, $1, partial: partial) }
        case (.int, .float), (.float, .int), (.float, .float):
            return expected.doubleValue == actual.doubleValue
        case (.string(let s), .timestamp), (.string(let s), .bytes):
            return s == actual.text
        default:
            return expected == actual
        }
    }

    /// Where `actual` differs from `expected`: (path, expected, actual) at each leaf.
    static func differences(_ expected: Value, _ actual: Value, partial: Bool, path: String = "") -> [(String, Value?, Value?)] {
        switch (expected, actual) {
        case (.map(let e), .map(let a)):
            var found: [(String, Value?, Value?)] = []
            for (name, value) in e.fields {
                let here = path.isEmpty ? name : path + "." + name
                if let other = a[name] {
                    found += differences(value, other, partial: partial, path: here)
                } else {
                    found.append((here, value, nil))
                }
            }
            if !partial {
                for (name, value) in a.fields where e[name] == nil {
                    found.append((path.isEmpty ? name : path + "." + name, nil, value))
                }
            }
            return found
        case (.list(let e), .list(let a)) where e.count == a.count:
            return zip(e, a).enumerated().flatMap { index, pair in
                differences(pair.0, pair.1, partial: partial, path: path + "[\(index)]")
            }
        default:
            return same(expected, actual, partial: partial) ? [] : [(path, expected, actual)]
        }
    }

    /// The value at `spec.Tasks[0].Engine.Params.Arguments[1]` (dots between names, `[N]` or
    /// `.N` for list items).
    static func lookup(_ path: String, in value: Value) -> Value? {
        var components: [String] = []
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(part)
            if let bracket = rest.firstIndex(of: "[") {
                components.append(String(rest[..<bracket]))
                rest = rest[bracket...]
                while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                    components.append(String(rest[rest.index(after: rest.startIndex)..<close]))
                    rest = rest[rest.index(after: close)...]
                }
            } else {
                components.append(String(rest))
            }
        }
        components.removeAll { $0.isEmpty }
        guard case .map(let record) = value else { return nil }
        return record.lookup(components)
    }

    /// `value` with `{{ ... }}` in its strings filled from `scope` (`test.inbox`, `vars.NAME`, ...).
    static func fill(_ value: Value, _ scope: Record) throws(Interpolator.Failure) -> Value {
        switch value {
        case .string(let s) where Interpolator.hasPlaceholder(s): return try Interpolator.render(s, in: scope)
        case .list(let items):
            var out: [Value] = []
            for item in items { out.append(try fill(item, scope)) }
            return .list(out)
        case .map(let record):
            var out: [(String, Value)] = []
            for (name, item) in record.fields { out.append((name, try fill(item, scope))) }
            return .map(Record(out))
        default: return value
        }
    }

    /// A value as one line: JSON, so spaces and quotes show.
    static func show(_ value: Value) -> String {
        let text = value.json
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    /// A short name for a message: a job's or record's `name`, else its start.
    static func label(_ value: Value) -> String {
        if let name = value["name"]?.stringValue { return name }
        return show(value).prefix(80) + ""
    }
}
