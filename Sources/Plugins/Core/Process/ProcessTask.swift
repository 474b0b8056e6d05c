import Engine

/// The one task of a job spec that the `process` executor can run, read from Bacalhau's
/// Job shape: `Tasks[0].Engine{Type: process, Params{Name, Arguments, WorkingDirectory}}`,
/// `Tasks[0].Env`, `Tasks[0].Timeouts.ExecutionTimeout`.
struct ProcessTask: Sendable, Equatable {
    var program: String
    var arguments: [String]
    var environment: [String: String]
    var workingDirectory: String?
    /// Seconds; nil or 0 means no limit.
    var executionTimeout: Double?

    init(job: Job) throws(MessageFailure) {
        let spec = job.spec
        guard case .list(let tasks)? = spec["Tasks"], !tasks.isEmpty else {
            throw MessageFailure("job '\(job.name)' has no Tasks; a job needs exactly one task")
        }
        guard tasks.count == 1, case .map(let task) = tasks[0] else {
            throw MessageFailure("job '\(job.name)' has \(tasks.count) tasks; the process executor runs jobs with exactly one task")
        }
        guard case .map(let engine)? = task["Engine"] else {
            throw MessageFailure("job '\(job.name)': Tasks[0] has no Engine; add Engine: {Type: process, Params: {Name: PROGRAM}}")
        }
        let type = engine["Type"]?.text ?? ""
        guard type == "process" else {
            throw MessageFailure("job '\(job.name)' has Engine.Type '\(type)'; the process executor runs only "
                          + "'process' tasks (use the bacalhau plugin for \(type.isEmpty ? "other engines" : "'\(type)'"))")
        }
        let params = engine["Params"]?.recordValue ?? Record()
        if let name = params["Name"], name.stringValue == nil, name != .null {
            // YAML reads `Name: true` or `Name: 7` as a bool or a number.
            throw MessageFailure("job '\(job.name)': Engine.Params.Name (the program to run) must be a string, "
                                 + "got \(name.json); quote it: Name: \"\(name.text)\"")
        }
        guard let program = params["Name"]?.stringValue, !program.isEmpty else {
            throw MessageFailure("job '\(job.name)': Engine.Params.Name (the program to run) is missing")
        }
        self.program = program
        switch params["Arguments"] {
        case nil, .null?: arguments = []
        case .list(let items)?:
            arguments = []
            for item in items {
                switch item {
                case .list, .map:
                    throw MessageFailure("job '\(job.name)': Engine.Params.Arguments must be a list of strings; got \(item.json)")
                default: arguments.append(item.text)
                }
            }
        case let other?:
            throw MessageFailure("job '\(job.name)': Engine.Params.Arguments must be a list of strings; got \(other.typeName)")
        }
        workingDirectory = params["WorkingDirectory"]?.stringValue
        environment = [:]
        if case .map(let env)? = task["Env"] {
            for (name, value) in env.fields {
                guard case .string = value else {
                    if case .list = value { throw MessageFailure("job '\(job.name)': Env.\(name) must be a string") }
                    if case .map = value { throw MessageFailure("job '\(job.name)': Env.\(name) must be a string") }
                    environment[name] = value.text
                    continue
                }
                environment[name] = value.text
            }
        }
        let timeouts = task["Timeouts"]?.recordValue ?? spec["Timeouts"]?.recordValue
        if let t = timeouts?["ExecutionTimeout"] {
            guard let seconds = t.doubleValue, seconds >= 0 else {
                throw MessageFailure("job '\(job.name)': Timeouts.ExecutionTimeout must be a number of seconds ≥ 0; got \(t.json)")
            }
            executionTimeout = seconds > 0 ? seconds : nil
        }
    }
}
