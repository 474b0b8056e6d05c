import Engine
import Foundation

/// Checks a job spec against Bacalhau's submission rules (API.md §5: `ValidateSubmission`,
/// and the store-time rules a submission would otherwise fail on with a 400) before
/// anything is sent, and normalizes it: canonical key case, whole numbers as integers,
/// `Count` always present.
public enum BacalhauSpecValidator {
    public static let jobTypes = ["batch", "ops", "service", "daemon"]
    static let topLevelKeys = ["Name", "Namespace", "Type", "Priority", "Count", "Constraints", "Meta", "Labels", "Tasks"]
    static let readOnlyKeys = ["ID", "State", "Version", "Revision", "CreateTime", "ModifyTime"]
    static let taskKeys = ["Name", "Engine", "Publisher", "Env", "Meta", "InputSources", "ResultPaths", "Resources",
                           "Network", "Timeouts"]
    static let operators = ["in", "notin", "exists", "!", "=", "==", "!=", "gt", "lt"]
    static let publisherTypes = ["noop", "local", "ipfs", "s3", "s3managed"]
    static let networkTypes = ["default", "none", "host", "full", "http", "bridge"]
    static let timeoutKeys = ["ExecutionTimeout", "QueueTimeout", "TotalTimeout"]
    static let resourceKeys = ["CPU", "Memory", "Disk", "GPU"]

    /// The normalized spec and every problem found (empty when it may be sent).
    public static func check(_ spec: Record) -> (spec: Record, problems: [String]) {
        var problems: [String] = []
        var job = canonicalize(spec, keys: topLevelKeys + readOnlyKeys)

        for key in job.names where !topLevelKeys.contains(key) {
            if readOnlyKeys.contains(key) {
                problems.append("\(key) is set by the server; remove it from the spec")
            } else {
                problems.append("unknown field '\(key)'\(didYouMean(key, topLevelKeys)); a Job has "
                                + topLevelKeys.joined(separator: ", "))
            }
        }

        if let name = job["Name"] {
            if case .string(let s) = name {
                if s.contains("\u{0}") { problems.append("Name contains a NUL character") }
            } else {
                problems.append("Name must be a string, got \(name.typeName)")
            }
        }
        if let ns = job["Namespace"] {
            if ns.stringValue?.trimmingCharacters(in: .whitespaces).isEmpty != false {
                problems.append("Namespace must be a non-empty string")
            }
        }

        let type = job["Type"]?.stringValue ?? ""
        if job["Type"] == nil || type.isEmpty {
            problems.append("Type is missing; use one of \(jobTypes.joined(separator: ", "))")
        } else if !jobTypes.contains(type) {
            problems.append("Type '\(type)' is not one of \(jobTypes.joined(separator: ", "))")
        }

        // Count: always sent (an omitted Count means 1 from v1.7 but 0 before).
        switch integer(job["Count"], "Count", &problems) {
        case nil where job["Count"] == nil:
            job["Count"] = .int(1)
        case let count?:
            job["Count"] = .int(count)
            if count < 0 { problems.append("Count must be ≥ 0, got \(count)") }
            if count > 1, type == "daemon" || type == "ops" {
                problems.append("Count must be 0 or 1 for a \(type) job, got \(count)")
            }
        default: break
        }
        if let priority = integer(job["Priority"], "Priority", &problems) { job["Priority"] = .int(priority) }

        checkStringMap(job["Meta"], "Meta", &problems)
        checkStringMap(job["Labels"], "Labels", &problems)
        checkConstraints(job["Constraints"], &problems)

        switch job["Tasks"] {
        case nil, .null?:
            problems.append("Tasks is missing; a job needs one task")
        case .list(let tasks)?:
            if tasks.isEmpty { problems.append("Tasks is empty; a job needs one task") }
            if tasks.count > 1 {
                problems.append("Tasks has \(tasks.count) tasks; Bacalhau runs only one task per job (it would drop the rest)")
            }
            var checked: [Value] = []
            for (index, task) in tasks.enumerated() {
                guard case .map(let record) = task else {
                    problems.append("Tasks[\(index)] must be a mapping, got \(task.typeName)")
                    checked.append(task)
                    continue
                }
                checked.append(.map(checkTask(record, label: "Tasks[\(index)]", &problems)))
            }
            job["Tasks"] = .list(checked)
        case let other?:
            problems.append("Tasks must be a list, got \(other.typeName)")
        }
        return (job, problems)
    }

    // MARK: - Task

    static func checkTask(_ task: Record, label: String, _ problems: inout [String]) -> Record {
        var task = canonicalize(task, keys: taskKeys)
        for key in task.names where !taskKeys.contains(key) {
            problems.append("\(label): unknown field '\(key)'\(didYouMean(key, taskKeys))")
        }
        let name = task["Name"]?.stringValue ?? ""
        if name.trimmingCharacters(in: .whitespaces).isEmpty {
            problems.append("\(label).Name is missing; every task needs a name")
        } else if name.contains("\u{0}") {
            problems.append("\(label).Name contains a NUL character")
        }
        let at = name.isEmpty ? label : "task '\(name)'"

        switch task["Engine"] {
        case .map(let engine)?:
            let engine = canonicalize(engine, keys: ["Type", "Params"])
            let type = engine["Type"]?.stringValue?.trimmingCharacters(in: .whitespaces) ?? ""
            if type.isEmpty {
                problems.append("\(at): Engine.Type is missing (for example process, docker or wasm)")
            }
            var params = Record()
            switch engine["Params"] {
            case nil, .null?: break
            case .map(let p)?: params = p
            case let other?: problems.append("\(at): Engine.Params must be a mapping, got \(other.typeName)")
            }
            checkEngineParams(type: type, params, at: at, &problems)
            task["Engine"] = .map(engine)
        case nil, .null?:
            problems.append("\(at): Engine is missing; add Engine: {Type: ..., Params: {...}}")
        case let other?:
            problems.append("\(at): Engine must be a mapping, got \(other.typeName)")
        }

        checkEnv(task["Env"], at: at, &problems)
        checkStringMap(task["Meta"], "\(at): Meta", &problems)
        if let resources = checkResources(task["Resources"], at: at, &problems) { task["Resources"] = .map(resources) }
        if let timeouts = checkTimeouts(task["Timeouts"], at: at, &problems) { task["Timeouts"] = .map(timeouts) }
        checkInputSources(task["InputSources"], at: at, &problems)
        let hasPublisher = checkPublisher(task["Publisher"], at: at, &problems)
        checkResultPaths(task["ResultPaths"], hasPublisher: hasPublisher, at: at, &problems)
        checkNetwork(task["Network"], at: at, &problems)
        return task
    }

    static func checkEngineParams(type: String, _ params: Record, at: String, _ problems: inout [String]) {
        switch type {
        case "process":
            if params["Name"]?.stringValue?.isEmpty != false {
                problems.append("\(at): Engine.Params.Name (the program to run) is missing")
            }
            checkStringList(params["Arguments"], "\(at): Engine.Params.Arguments", scalarsAllowed: true, &problems)
        case "docker":
            if params["Image"]?.stringValue?.isEmpty != false {
                problems.append("\(at): Engine.Params.Image is missing; a docker task needs an image")
            }
            checkStringList(params["Entrypoint"], "\(at): Engine.Params.Entrypoint", &problems)
            checkStringList(params["Parameters"], "\(at): Engine.Params.Parameters", &problems)
            checkStringList(params["EnvironmentVariables"], "\(at): Engine.Params.EnvironmentVariables", &problems)
            for item in params["EnvironmentVariables"]?.listValue ?? [] {
                if let s = item.stringValue, s.uppercased().hasPrefix("BACALHAU_") {
                    problems.append("\(at): Engine.Params.EnvironmentVariables: '\(s.prefix(while: { $0 != "=" }))' must not start with BACALHAU_")
                }
            }
            if let dir = params["WorkingDirectory"] {
                if dir.stringValue.map({ $0.isEmpty || $0.hasPrefix("/") }) != true {
                    problems.append("\(at): Engine.Params.WorkingDirectory must be an absolute path, got \(dir.text)")
                }
            }
        case "wasm":
            if params["EntryModule"] == nil || params["EntryModule"] == .null {
                problems.append("\(at): Engine.Params.EntryModule is missing; a wasm task needs one")
            }
        default:
            break  // Engine types are free text: nodes match on the engines they advertise.
        }
    }

    static func checkEnv(_ value: Value?, at: String, _ problems: inout [String]) {
        guard let value, value != .null else { return }
        guard case .map(let env) = value else {
            problems.append("\(at): Env must be a mapping of NAME: value, got \(value.typeName)")
            return
        }
        for (name, item) in env.fields {
            if !isEnvName(name) {
                problems.append("\(at): Env name '\(name)' must be uppercase letters, digits and _, starting with a letter")
            } else if name.hasPrefix("BACALHAU_") {
                problems.append("\(at): Env name '\(name)' must not start with BACALHAU_")
            }
            switch item {
            case .string(let s) where !s.isEmpty: break
            case .string: problems.append("\(at): Env.\(name) is empty; Bacalhau requires a value")
            default: problems.append("\(at): Env.\(name) must be a string, got \(item.typeName) (quote it in YAML)")
            }
        }
    }

    static func isEnvName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("A"..."Z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    static func checkResources(_ value: Value?, at: String, _ problems: inout [String]) -> Record? {
        guard let value, value != .null else { return nil }
        guard case .map(let record) = value else {
            problems.append("\(at): Resources must be a mapping, got \(value.typeName)")
            return nil
        }
        let resources = canonicalize(record, keys: resourceKeys)
        for (key, item) in resources.fields {
            guard resourceKeys.contains(key) else {
                problems.append("\(at): Resources has an unknown field '\(key)'\(didYouMean(key, resourceKeys))")
                continue
            }
            guard case .string(let text) = item else {
                problems.append("\(at): Resources.\(key) must be a string, got \(item.typeName) \(item.json) (write it quoted, e.g. \"\(item.text)\")")
                continue
            }
            if text.isEmpty { continue }
            switch key {
            case "CPU":
                if !Quantity.isCPU(text) { problems.append("\(at): Resources.CPU '\(text)' is not a CPU quantity (e.g. \"500m\", \"2\")") }
            case "GPU":
                if UInt(text) == nil { problems.append("\(at): Resources.GPU '\(text)' is not a whole number") }
            default:
                if !Quantity.isBytes(text) { problems.append("\(at): Resources.\(key) '\(text)' is not a size (e.g. \"512Mb\", \"4GiB\")") }
            }
        }
        return resources
    }

    static func checkTimeouts(_ value: Value?, at: String, _ problems: inout [String]) -> Record? {
        guard let value, value != .null else { return nil }
        guard case .map(let record) = value else {
            problems.append("\(at): Timeouts must be a mapping, got \(value.typeName)")
            return nil
        }
        var timeouts = canonicalize(record, keys: timeoutKeys)
        var seconds: [String: Int64] = [:]
        for key in timeouts.names {
            guard timeoutKeys.contains(key) else {
                problems.append("\(at): Timeouts has an unknown field '\(key)'\(didYouMean(key, timeoutKeys))")
                continue
            }
            if let n = integer(timeouts[key], "\(at): Timeouts.\(key) (whole seconds)", &problems) {
                if n < 0 { problems.append("\(at): Timeouts.\(key) must be ≥ 0, got \(n)") }
                seconds[key] = n
                timeouts[key] = .int(n)
            }
        }
        if let total = seconds["TotalTimeout"], total > 0 {
            let sum = (seconds["ExecutionTimeout"] ?? 0) + (seconds["QueueTimeout"] ?? 0)
            if sum > total {
                problems.append("\(at): ExecutionTimeout + QueueTimeout (\(sum) s) exceed TotalTimeout (\(total) s)")
            }
        }
        return timeouts
    }

    static func checkInputSources(_ value: Value?, at: String, _ problems: inout [String]) {
        guard let value, value != .null else { return }
        guard case .list(let items) = value else {
            problems.append("\(at): InputSources must be a list, got \(value.typeName)")
            return
        }
        var aliases = Set<String>(), targets = Set<String>()
        for (index, item) in items.enumerated() {
            let label = "\(at): InputSources[\(index)]"
            guard case .map(let raw) = item else {
                problems.append("\(label) must be a mapping, got \(item.typeName)")
                continue
            }
            let source = canonicalize(raw, keys: ["Alias", "Target", "Source"])
            let target = source["Target"]?.stringValue?.trimmingCharacters(in: .whitespaces) ?? ""
            if target.isEmpty { problems.append("\(label).Target is missing") }
            else if !targets.insert(target).inserted { problems.append("\(label).Target '\(target)' is used twice") }
            if let alias = source["Alias"]?.stringValue, !alias.isEmpty, !aliases.insert(alias).inserted {
                problems.append("\(label).Alias '\(alias)' is used twice")
            }
            let type = source["Source"]?.recordValue.map { canonicalize($0, keys: ["Type", "Params"]) }?["Type"]?
                .stringValue?.trimmingCharacters(in: .whitespaces) ?? ""
            if type.isEmpty { problems.append("\(label).Source.Type is missing (e.g. urlDownload, s3, local)") }
        }
    }

    /// Whether a publisher is set.
    static func checkPublisher(_ value: Value?, at: String, _ problems: inout [String]) -> Bool {
        guard let value, value != .null else { return false }
        guard case .map(let raw) = value else {
            problems.append("\(at): Publisher must be a mapping, got \(value.typeName)")
            return false
        }
        let publisher = canonicalize(raw, keys: ["Type", "Params"])
        let type = publisher["Type"]?.stringValue ?? ""
        if type.isEmpty {
            problems.append("\(at): Publisher.Type is missing (one of \(publisherTypes.joined(separator: ", ")))")
            return false
        }
        if !publisherTypes.contains(type) {
            problems.append("\(at): Publisher.Type '\(type)' is not one of \(publisherTypes.joined(separator: ", "))")
        }
        if type == "s3" {
            let params = publisher["Params"]?.recordValue ?? Record()
            for key in ["Bucket", "Key"] where params[key]?.stringValue?.isEmpty != false {
                problems.append("\(at): Publisher.Params.\(key) is required for an s3 publisher")
            }
        }
        return true
    }

    static func checkResultPaths(_ value: Value?, hasPublisher: Bool, at: String, _ problems: inout [String]) {
        guard let value, value != .null else { return }
        guard case .list(let items) = value else {
            problems.append("\(at): ResultPaths must be a list, got \(value.typeName)")
            return
        }
        var names = Set<String>(), paths = Set<String>()
        for (index, item) in items.enumerated() {
            let label = "\(at): ResultPaths[\(index)]"
            guard case .map(let raw) = item else {
                problems.append("\(label) must be a mapping, got \(item.typeName)")
                continue
            }
            let result = canonicalize(raw, keys: ["Name", "Path"])
            let name = result["Name"]?.stringValue ?? ""
            let path = result["Path"]?.stringValue ?? ""
            if name.isEmpty { problems.append("\(label).Name is missing") }
            else if !names.insert(name).inserted { problems.append("\(label).Name '\(name)' is used twice") }
            if path.isEmpty { problems.append("\(label).Path is missing") }
            else if !path.hasPrefix("/") { problems.append("\(label).Path '\(path)' must be absolute") }
            else if !paths.insert(path).inserted { problems.append("\(label).Path '\(path)' is used twice") }
        }
        if !items.isEmpty, !hasPublisher {
            problems.append("\(at): ResultPaths need a Publisher (e.g. Publisher: {Type: local}) to publish them")
        }
    }

    static func checkNetwork(_ value: Value?, at: String, _ problems: inout [String]) {
        guard let value, value != .null else { return }
        guard case .map(let raw) = value else {
            problems.append("\(at): Network must be a mapping, got \(value.typeName)")
            return
        }
        let network = canonicalize(raw, keys: ["Type", "Domains", "Ports"])
        var type = "default"
        switch network["Type"] {
        case nil, .null?: break
        case .string(let s)?:
            type = s.isEmpty ? "default" : s.lowercased()
            if !networkTypes.contains(type) {
                problems.append("\(at): Network.Type '\(s)' is not one of Default, None, Host, HTTP, Bridge")
            }
        case let other?:
            problems.append("\(at): Network.Type must be a name (None, Host, HTTP, Bridge), got \(other.typeName)")
        }
        if let domains = network["Domains"]?.listValue, !domains.isEmpty, type != "http" {
            problems.append("\(at): Network.Domains are allowed only with Network.Type HTTP")
        }
        if let ports = network["Ports"]?.listValue, !ports.isEmpty, type != "host", type != "bridge" {
            problems.append("\(at): Network.Ports are allowed only with Network.Type Host or Bridge")
        }
    }

    // MARK: - Shared checks

    static func checkConstraints(_ value: Value?, _ problems: inout [String]) {
        guard let value, value != .null else { return }
        guard case .list(let items) = value else {
            problems.append("Constraints must be a list, got \(value.typeName)")
            return
        }
        for (index, item) in items.enumerated() {
            guard case .map(let raw) = item else {
                problems.append("Constraints[\(index)] must be a mapping, got \(item.typeName)")
                continue
            }
            let constraint = canonicalize(raw, keys: ["Key", "Operator", "Values"])
            let key = constraint["Key"]?.stringValue ?? ""
            if key.trimmingCharacters(in: .whitespaces).isEmpty { problems.append("Constraints[\(index)].Key is missing") }
            let op = constraint["Operator"]?.stringValue ?? ""
            guard operators.contains(op) else {
                problems.append("Constraints[\(index)].Operator '\(op)' is not one of \(operators.joined(separator: ", "))")
                continue
            }
            let values = constraint["Values"]?.listValue ?? []
            if values.contains(where: { $0.stringValue == nil }) {
                problems.append("Constraints[\(index)].Values must be strings (quote values such as yes or 1)")
            }
            switch op {
            case "in", "notin":
                if values.isEmpty { problems.append("Constraints[\(index)]: operator '\(op)' needs at least one value") }
            case "exists", "!":
                if !values.isEmpty { problems.append("Constraints[\(index)]: operator '\(op)' takes no values") }
            default:
                if values.count != 1 {
                    problems.append("Constraints[\(index)]: operator '\(op)' needs exactly one value, got \(values.count)")
                }
            }
        }
    }

    static func checkStringMap(_ value: Value?, _ label: String, _ problems: inout [String]) {
        guard let value, value != .null else { return }
        guard case .map(let record) = value else {
            problems.append("\(label) must be a mapping of strings, got \(value.typeName)")
            return
        }
        for (key, item) in record.fields where item.stringValue == nil {
            problems.append("\(label).\(key) must be a string, got \(item.typeName) (quote it in YAML)")
        }
    }

    static func checkStringList(_ value: Value?, _ label: String, scalarsAllowed: Bool = false, _ problems: inout [String]) {
        guard let value, value != .null else { return }
        guard case .list(let items) = value else {
            problems.append("\(label) must be a list of strings, got \(value.typeName)")
            return
        }
        for item in items {
            switch item {
            case .string:
                continue
            case .list, .map:
                problems.append("\(label) must be a list of strings; got \(item.json)")
                return
            default:
                if !scalarsAllowed {
                    problems.append("\(label) must be a list of strings; quote \(item.json)")
                    return
                }
            }
        }
    }

    /// An integer field: whole floats become integers; anything else is a problem.
    static func integer(_ value: Value?, _ label: String, _ problems: inout [String]) -> Int64? {
        switch value {
        case nil, .null?: return nil
        case .int(let i)?: return i
        case .float(let d)? where d == d.rounded() && abs(d) < 9e18: return Int64(d)
        case let other?:
            problems.append("\(label) must be a whole number, got \(other.typeName) \(other.json)")
            return nil
        }
    }

    /// Renames keys that match a canonical name case-insensitively (Bacalhau's decoder
    /// matches keys that way), keeping order.
    static func canonicalize(_ record: Record, keys: [String]) -> Record {
        var out = Record()
        for (key, value) in record.fields {
            let canonical = keys.first { $0.caseInsensitiveCompare(key) == .orderedSame } ?? key
            if out[canonical] == nil { out[canonical] = value }
        }
        return out
    }
}

/// The quantity syntaxes Bacalhau parses: Kubernetes quantities for CPU, humanize byte
/// sizes for memory and disk.
enum Quantity {
    static func isCPU(_ text: String) -> Bool {
        var s = Substring(text.trimmingCharacters(in: .whitespaces))
        if s.hasPrefix("+") { s = s.dropFirst() }
        let number = s.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, number != "." else { return false }
        let suffix = String(s.dropFirst(number.count))
        if ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].contains(suffix) { return true }
        if suffix.hasPrefix("e") || suffix.hasPrefix("E") {
            let exponent = suffix.dropFirst()
            return !exponent.isEmpty && Int(exponent) != nil
        }
        return false
    }

    static func isBytes(_ text: String) -> Bool {
        let s = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: "")
        let number = s.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty, Double(number) != nil else { return false }
        let unit = s.dropFirst(number.count).trimmingCharacters(in: .whitespaces).lowercased()
        let units: Set<String> = ["", "b", "k", "kb", "ki", "kib", "m", "mb", "mi", "mib", "g", "gb", "gi", "gib",
                                  "t", "tb", "ti", "tib", "p", "pb", "pi", "pib", "e", "eb", "ei", "eib"]
        return units.contains(unit)
    }
}
