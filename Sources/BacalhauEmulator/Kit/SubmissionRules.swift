import Foundation

/// What the orchestrator does with a `PUT /jobs` body before storing it (API.md §3.1, §5):
/// bind (JSON type checks, keys matched ignoring case), `ValidateSubmission`, `Normalize`,
/// `SanitizeSubmission`, the job transformers, and the store's full `Validate`.
enum SubmissionRules {
    struct Prepared: Sendable {
        /// The normalized Job object without server-set fields, keys in Go's order.
        var spec: JSON
        var name: String
        var namespace: String
        var type: String
        var warnings: [String]
        /// Whether the name was empty (it becomes the job ID).
        var nameFromID: Bool
    }

    // MARK: - Bind

    indirect enum Shape: Sendable {
        case string, int, bool, anyObject, stringMap, network, jobState
        case list(Shape)
        case object([(String, Shape)])
    }

    static let specConfig: Shape = .object([("Type", .string), ("Params", .anyObject)])
    static let task: Shape = .object([
        ("Name", .string), ("Engine", specConfig), ("Publisher", specConfig), ("Env", .stringMap), ("Meta", .stringMap),
        ("InputSources", .list(.object([("Alias", .string), ("Target", .string), ("Source", specConfig)]))),
        ("ResultPaths", .list(.object([("Name", .string), ("Path", .string)]))),
        ("Resources", .object([("CPU", .string), ("Memory", .string), ("Disk", .string), ("GPU", .string)])),
        ("Network", .object([("Type", .network), ("Domains", .list(.string)),
                             ("Ports", .list(.object([("Name", .string), ("Static", .int), ("Target", .int),
                                                      ("HostNetwork", .string)])))])),
        ("Timeouts", .object([("ExecutionTimeout", .int), ("QueueTimeout", .int), ("TotalTimeout", .int)])),
    ])
    static let job: Shape = .object([
        ("ID", .string), ("Name", .string), ("Namespace", .string), ("Type", .string), ("Priority", .int),
        ("Count", .int), ("Constraints", .list(.object([("Key", .string), ("Operator", .string), ("Values", .list(.string))]))),
        ("Meta", .stringMap), ("Labels", .stringMap), ("Tasks", .list(task)),
        ("State", .object([("StateType", .jobState), ("Message", .string)])),
        ("Version", .int), ("Revision", .int), ("CreateTime", .int), ("ModifyTime", .int),
    ])

    static let networkNames = ["default": "Default", "none": "None", "host": "Host", "full": "Host", "http": "HTTP",
                               "bridge": "Bridge"]

    /// Checks JSON types the way Go's decoder would, returning a canonical copy (known keys
    /// renamed to their exact case, unknown keys dropped, network names canonical).
    static func bind(_ value: JSON, as shape: Shape, field: String) throws(APIError) -> JSON {
        func mismatch(_ expected: String) -> APIError {
            .bind("Unmarshal type error: expected=\(expected), got=\(value.typeName), field=\(field)")
        }
        if value.isNull { return .null }
        switch shape {
        case .string:
            guard case .string = value else { throw mismatch("string") }
            return value
        case .int:
            guard let i = value.int else {
                if case .double = value { throw mismatch("int") }
                throw mismatch("int")
            }
            return .int(i)
        case .bool:
            guard case .bool = value else { throw mismatch("bool") }
            return value
        case .anyObject:
            guard case .object = value else { throw mismatch("map[string]interface {}") }
            return value
        case .stringMap:
            guard case .object(let pairs) = value else { throw mismatch("map[string]string") }
            for (key, item) in pairs where item.string == nil && !item.isNull {
                throw APIError.bind("Unmarshal type error: expected=string, got=\(item.typeName), field=\(field).\(key)")
            }
            return value
        case .network:
            guard case .string(let name) = value else { throw mismatch("models.Network") }
            guard let canonical = networkNames[name.lowercased()] else {
                throw APIError.bind("invalid network type: \"\(name)\"")
            }
            return .str(canonical)
        case .jobState:
            guard case .string = value else { throw mismatch("models.JobStateType") }
            return value
        case .list(let element):
            guard case .array(let items) = value else { throw mismatch("array") }
            var out: [JSON] = []
            for (index, item) in items.enumerated() {
                out.append(try bind(item, as: element, field: "\(field)[\(index)]"))
            }
            return .array(out)
        case .object(let fields):
            guard case .object(let pairs) = value else { throw mismatch("object") }
            var out: [(String, JSON)] = []
            for (name, fieldShape) in fields {
                let lower = name.lowercased()
                guard let hit = pairs.last(where: { $0.0 == name }) ?? pairs.last(where: { $0.0.lowercased() == lower })
                else { continue }
                out.append((name, try bind(hit.1, as: fieldShape, field: "\(field).\(name)")))
            }
            return .object(out)
        }
    }

    /// Binds a `PUT /jobs` body: `{"Job": {...}, "Force": bool}`.
    static func bindRequest(_ body: JSON) throws(APIError) -> (job: JSON, force: Bool) {
        guard case .object = body else {
            throw APIError.bind("Unmarshal type error: expected=apimodels.PutJobRequest, got=\(body.typeName), field=")
        }
        let force: Bool
        switch body["Force"] {
        case nil, .null?: force = false
        case .bool(let b)?: force = b
        case let other?: throw APIError.bind("Unmarshal type error: expected=bool, got=\(other.typeName), field=Force")
        }
        guard let raw = body["Job"], !raw.isNull else {
            throw APIError.bind("invalid request: job spec is required")
        }
        return (try bind(raw, as: job, field: "Job"), force)
    }

    // MARK: - ValidateSubmission

    static let jobTypes = ["batch", "ops", "service", "daemon"]
    static let operators = ["in", "notin", "exists", "!", "=", "==", "!=", "gt", "lt"]

    /// `Job.ValidateSubmission()`; nil when valid, else the multierror text.
    static func validateSubmission(_ job: JSON) -> String? {
        var errors: [String] = []
        let type = job["Type"]?.string ?? ""
        if type.isEmpty {
            errors.append("missing job type")
        } else if !jobTypes.contains(type) {
            errors.append("invalid job type: \"\(type)\"")
        }
        let count = job["Count"]?.int ?? 0
        if count < 0 { errors.append("job count must be >= 0") }
        if count > 1, type == "daemon" || type == "ops" {
            errors.append("job count must be 0 or 1 for \(type) jobs")
        }
        if (job["Name"]?.string ?? "").contains("\u{0}") { errors.append("job name contains a null character") }
        let tasks = job["Tasks"]?.array ?? []
        if tasks.isEmpty { errors.append("missing job tasks") }
        for (index, constraint) in (job["Constraints"]?.array ?? []).enumerated() {
            if let problem = constraintProblem(constraint) {
                errors.append("constraint \(index + 1) validation failed: \(problem)")
            }
        }
        for task in tasks {
            let problems = taskProblems(task)
            if !problems.isEmpty {
                errors.append("task \(task["Name"]?.string ?? "") validation failed: " + problems.joined(separator: "; "))
            }
        }
        return errors.isEmpty ? nil : multierror(errors)
    }

    static func multierror(_ errors: [String]) -> String {
        let noun = errors.count == 1 ? "error" : "errors"
        return "\(errors.count) \(noun) occurred:\n" + errors.map { "\t* \($0)" }.joined(separator: "\n") + "\n\n"
    }

    static func constraintProblem(_ constraint: JSON) -> String? {
        let key = constraint["Key"]?.string ?? ""
        if key.trimmingCharacters(in: .whitespaces).isEmpty { return "key is required" }
        let op = constraint["Operator"]?.string ?? ""
        guard operators.contains(op) else { return "operator \"\(op)\" is not supported" }
        let values = constraint["Values"]?.array ?? []
        switch op {
        case "in", "notin": return values.isEmpty ? "operator \(op) requires at least one value" : nil
        case "exists", "!": return values.isEmpty ? nil : "operator \(op) takes no values"
        default: return values.count == 1 ? nil : "operator \(op) requires exactly one value"
        }
    }

    static func taskProblems(_ task: JSON) -> [String] {
        var problems: [String] = []
        let name = task["Name"]?.string ?? ""
        if name.trimmingCharacters(in: .whitespaces).isEmpty { problems.append("missing task name") }
        if name.contains("\u{0}") { problems.append("task name contains a null character") }
        if let engine = task["Engine"], !engine.isNull {
            if (engine["Type"]?.string ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                problems.append("engine validation failed: type must not be blank")
            }
        } else {
            problems.append("missing engine spec")
        }
        for (key, value) in task["Env"]?.object ?? [] {
            if !isEnvName(key) {
                problems.append("invalid environment variable name \"\(key)\": must be uppercase letters, digits and underscores, starting with a letter")
            } else if key.hasPrefix("BACALHAU_") {
                problems.append("environment variable \"\(key)\" must not start with BACALHAU_")
            }
            if (value.string ?? "").isEmpty { problems.append("environment variable \"\(key)\" has an empty value") }
        }
        if let resources = task["Resources"] {
            if let cpu = resources["CPU"]?.string, !cpu.isEmpty, !isCPU(cpu) {
                problems.append("invalid CPU value: \(cpu)")
            }
            for key in ["Memory", "Disk"] {
                if let size = resources[key]?.string, !size.isEmpty, !isBytes(size) {
                    problems.append("invalid \(key.lowercased()) value: \(size)")
                }
            }
            if let gpu = resources["GPU"]?.string, !gpu.isEmpty, UInt(gpu) == nil {
                problems.append("invalid GPU value: \(gpu)")
            }
        }
        for key in ["ExecutionTimeout", "QueueTimeout", "TotalTimeout"] {
            if let t = task["Timeouts"]?[key]?.int, t < 0 { problems.append("\(key) must be >= 0") }
        }
        var aliases = Set<String>(), targets = Set<String>()
        for source in task["InputSources"]?.array ?? [] {
            let target = source["Target"]?.string ?? ""
            if target.trimmingCharacters(in: .whitespaces).isEmpty { problems.append("input source target must not be blank") }
            else if !targets.insert(target).inserted { problems.append("duplicate input source target: \(target)") }
            if let alias = source["Alias"]?.string, !alias.isEmpty, !aliases.insert(alias).inserted {
                problems.append("duplicate input source alias: \(alias)")
            }
            if (source["Source"]?["Type"]?.string ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                problems.append("input source type must not be blank")
            }
        }
        var names = Set<String>(), paths = Set<String>()
        for result in task["ResultPaths"]?.array ?? [] {
            let name = result["Name"]?.string ?? "", path = result["Path"]?.string ?? ""
            if name.isEmpty { problems.append("result path name must not be blank") }
            else if !names.insert(name).inserted { problems.append("duplicate result path name: \(name)") }
            if path.isEmpty { problems.append("result path must not be blank") }
            else if !path.hasPrefix("/") { problems.append("result path \(path) must be absolute") }
            else if !paths.insert(path).inserted { problems.append("duplicate result path: \(path)") }
        }
        let network = task["Network"]?["Type"]?.string ?? "Default"
        if !(task["Network"]?["Domains"]?.array ?? []).isEmpty, network != "HTTP" {
            problems.append("domains are only supported with network type HTTP")
        }
        if !(task["Network"]?["Ports"]?.array ?? []).isEmpty, network != "Host", network != "Bridge" {
            problems.append("port mappings are only supported with network type Host or Bridge")
        }
        return problems
    }

    static func isEnvName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("A"..."Z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    static func isCPU(_ text: String) -> Bool {
        var s = Substring(text.trimmingCharacters(in: .whitespaces))
        if s.hasPrefix("+") { s = s.dropFirst() }
        let number = s.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1 else { return false }
        let suffix = String(s.dropFirst(number.count))
        if ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].contains(suffix) { return true }
        return (suffix.hasPrefix("e") || suffix.hasPrefix("E")) && Int(suffix.dropFirst()) != nil
    }

    static func isBytes(_ text: String) -> Bool {
        let s = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: "")
        let number = s.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty, Double(number) != nil else { return false }
        let unit = s.dropFirst(number.count).trimmingCharacters(in: .whitespaces).lowercased()
        return ["", "b", "k", "kb", "ki", "kib", "m", "mb", "mi", "mib", "g", "gb", "gi", "gib", "t", "tb", "ti", "tib",
                "p", "pb", "pi", "pib", "e", "eb", "ei", "eib"].contains(unit)
    }

    // MARK: - Normalize, sanitize, transform

    /// Runs everything between bind and store. `bodyHadCount` tells an omitted Count from 0.
    static func prepare(_ job: JSON) throws(APIError) -> Prepared {
        if let problem = validateSubmission(job) { throw APIError.bind(problem) }
        var warnings: [String] = []
        let type = (job["Type"]?.string ?? "").trimmingCharacters(in: .whitespaces)
        let name = (job["Name"]?.string ?? "").trimmingCharacters(in: .whitespaces)
        var namespace = (job["Namespace"]?.string ?? "").trimmingCharacters(in: .whitespaces)
        if namespace.isEmpty { namespace = "default" }

        // Count: omitted means 1 for batch and service jobs (v1.7+).
        var count = job["Count"]?.int
        if count == nil { count = (type == "batch" || type == "service") ? 1 : 0 }

        for (key, label) in [("State", "State"), ("Revision", "Revision"), ("Version", "Version"),
                             ("CreateTime", "CreateTime"), ("ModifyTime", "ModifyTime")]
        where job[key].map({ !$0.isNull && $0 != .int(0) && $0 != .str("") }) == true {
            warnings.append("job \(label) is set by the server and was ignored")
        }
        if let id = job["ID"]?.string, !id.isEmpty, type == "batch" || type == "ops" {
            warnings.append("job ID is assigned by the server and was ignored")
        }
        var tasks = job["Tasks"]?.array ?? []
        if tasks.count > 1 {
            warnings.append("only one task is supported per job; keeping task \(tasks[0]["Name"]?.string ?? "")")
            tasks = [tasks[0]]
        }
        var meta = (job["Meta"]?.object ?? []).filter { !$0.0.hasPrefix("bacalhau.org/") }
        meta.append(("bacalhau.org/requester.id", .str("bacalhau-emulator")))

        let spec = JSON.object([
            ("Name", .str(name)), ("Namespace", .str(namespace)), ("Type", .str(type)),
            ("Priority", .int(job["Priority"]?.int ?? 0)), ("Count", .int(count ?? 0)),
            ("Constraints", job["Constraints"].flatMap { $0.isNull ? nil : $0 } ?? .array([])),
            ("Meta", .object(meta)), ("Labels", job["Labels"].flatMap { $0.isNull ? nil : $0 } ?? .object([])),
            ("Tasks", .array(tasks.map(normalizeTask))),
        ])
        // Store-time rules (full Validate): these fail with 400 from the JobStore.
        for task in tasks {
            let timeouts = task["Timeouts"]
            let total = timeouts?["TotalTimeout"]?.int ?? 0
            let sum = (timeouts?["ExecutionTimeout"]?.int ?? 0) + (timeouts?["QueueTimeout"]?.int ?? 0)
            if total > 0, sum > total {
                throw APIError.store("task \(task["Name"]?.string ?? "") validation failed: execution timeout plus queue timeout (\(sum)s) exceeds total timeout (\(total)s)")
            }
            if !(task["ResultPaths"]?.array ?? []).isEmpty,
               (task["Publisher"]?["Type"]?.string ?? "").isEmpty
            {
                throw APIError.store("task \(task["Name"]?.string ?? "") validation failed: publisher is required when result paths are set")
            }
        }
        return Prepared(spec: spec, name: name, namespace: namespace, type: type, warnings: warnings, nameFromID: name.isEmpty)
    }

    /// A Task in Go's field order with defaults applied (Resources CPU 500m, Memory 512Mb).
    static func normalizeTask(_ task: JSON) -> JSON {
        func orEmptyObject(_ value: JSON?) -> JSON { value.flatMap { $0.isNull ? nil : $0 } ?? .object([]) }
        func orEmptyArray(_ value: JSON?) -> JSON { value.flatMap { $0.isNull ? nil : $0 } ?? .array([]) }
        let engine = task["Engine"] ?? .null
        let publisher = task["Publisher"].flatMap { $0.isNull ? nil : $0 }
        func specConfig(_ value: JSON) -> JSON {
            .obj(("Type", .str((value["Type"]?.string ?? "").trimmingCharacters(in: .whitespaces))),
                 ("Params", orEmptyObject(value["Params"])))
        }
        let resources = task["Resources"]
        func resource(_ key: String, _ fallback: String) -> JSON {
            let given = resources?[key]?.string ?? ""
            return .str(given.isEmpty ? fallback : given)
        }
        let timeouts = task["Timeouts"]
        var network: [(String, JSON)] = [("Type", .str(task["Network"]?["Type"]?.string ?? "Default"))]
        if let domains = task["Network"]?["Domains"], !domains.isNull { network.append(("Domains", domains)) }
        if let ports = task["Network"]?["Ports"], !ports.isNull { network.append(("Ports", ports)) }
        return .object([
            ("Name", .str((task["Name"]?.string ?? "").trimmingCharacters(in: .whitespaces))),
            ("Engine", specConfig(engine)),
            ("Publisher", publisher.map(specConfig) ?? .null),
            ("Env", orEmptyObject(task["Env"])), ("Meta", orEmptyObject(task["Meta"])),
            ("InputSources", orEmptyArray(task["InputSources"])), ("ResultPaths", orEmptyArray(task["ResultPaths"])),
            ("Resources", .obj(("CPU", resource("CPU", "500m")), ("Memory", resource("Memory", "512Mb")),
                               ("Disk", resource("Disk", "")), ("GPU", resource("GPU", "")))),
            ("Network", .object(network)),
            ("Timeouts", .obj(("ExecutionTimeout", .int(timeouts?["ExecutionTimeout"]?.int ?? 0)),
                              ("QueueTimeout", .int(timeouts?["QueueTimeout"]?.int ?? 0)),
                              ("TotalTimeout", .int(timeouts?["TotalTimeout"]?.int ?? 0)))),
        ])
    }

    /// The spec as the name upsert compares it: without server meta, keys sorted.
    static func comparable(_ spec: JSON) -> String {
        var copy = spec
        let meta = (spec["Meta"]?.object ?? []).filter { !$0.0.hasPrefix("bacalhau.org/") }
        copy.set("Meta", .object(meta))
        return copy.serialized(sortedKeys: true)
    }
}
