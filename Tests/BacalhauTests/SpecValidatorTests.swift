import Engine
import Bacalhau
import Testing

/// The client-side check of API.md §5 (what the plugin refuses before sending anything).
@Suite(.timeLimit(.minutes(5))) struct SpecValidatorTests {
    func problems(_ spec: Record) -> [String] { BacalhauSpecValidator.check(spec).problems }

    func task(_ fields: [(String, Value)]) -> Record {
        var spec = processSpec(name: "j", program: "echo")
        guard case .list(let tasks)? = spec["Tasks"], case .map(var task) = tasks[0] else { return spec }
        for (key, value) in fields { task[key] = value }
        spec["Tasks"] = .list([.map(task)])
        return spec
    }

    @Test func aGoodSpecPassesAndGetsCount() {
        var spec = processSpec(name: "j", program: "echo", ["a"])
        spec["Count"] = nil
        let (checked, problems) = BacalhauSpecValidator.check(spec)
        #expect(problems.isEmpty)
        #expect(checked["Count"] == .int(1))
    }

    @Test func theRealisticBatchJobOfAPIMarkdownPasses() {
        let spec = task([
            ("Env", .map(Record([("SAMPLE_ID", "sample01"), ("HOST_TOKEN", "env:TOKEN")]))),
            ("InputSources", [.map(Record([("Alias", "reads"), ("Target", "/inputs/reads"),
                                           ("Source", .map(Record([("Type", "s3"), ("Params", .map(Record([("Bucket", "b")])))])))]))]),
            ("Publisher", .map(Record([("Type", "local")]))),
            ("ResultPaths", [.map(Record([("Name", "outputs"), ("Path", "/outputs")]))]),
            ("Resources", .map(Record([("CPU", "2"), ("Memory", "4Gb"), ("Disk", "10Gb")]))),
            ("Network", .map(Record([("Type", "None")]))),
            ("Timeouts", .map(Record([("QueueTimeout", 600), ("ExecutionTimeout", 3600), ("TotalTimeout", 7200)]))),
        ])
        #expect(problems(spec).isEmpty)
    }

    @Test(arguments: [
        ("Type", Value.null, "Type is missing"),
        ("Type", "Batch", "Type 'Batch' is not one of"),
        ("Count", -1, "Count must be ≥ 0"),
        ("Count", "1", "Count must be a whole number"),
        ("Count", 1.5, "Count must be a whole number"),
        ("Tasks", .list([]), "Tasks is empty"),
        ("Tasks", "x", "Tasks must be a list"),
        ("ID", "j-1", "ID is set by the server"),
        ("Taks", .list([]), "unknown field 'Taks' (did you mean 'Tasks'?)"),
        ("Labels", .map(Record([("a", 1)])), "Labels.a must be a string"),
        ("Constraints", [.map(Record([("Key", "arch"), ("Operator", "="), ("Values", [])]))], "needs exactly one value"),
        ("Constraints", [.map(Record([("Key", "arch"), ("Operator", "~"), ("Values", ["x"])]))], "Operator '~' is not one of"),
        ("Constraints", [.map(Record([("Key", "arch"), ("Operator", "exists"), ("Values", ["x"])]))], "takes no values"),
        ("Constraints", [.map(Record([("Key", "arch"), ("Operator", "in"), ("Values", [])]))], "at least one value"),
    ] as [(String, Value, String)])
    func jobLevelRules(field: String, value: Value, expected: String) {
        var spec = processSpec(name: "j", program: "echo")
        spec[field] = value == .null ? nil : value
        let found = problems(spec)
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    @Test func countAboveOneIsRefusedForDaemonAndOps() {
        for type in ["daemon", "ops"] {
            var spec = processSpec(name: "j", program: "echo")
            spec["Type"] = .string(type)
            spec["Count"] = 2
            #expect(problems(spec).contains { $0.contains("Count must be 0 or 1 for a \(type) job") })
        }
    }

    @Test(arguments: [
        ([("Env", Value.map(Record([("lower", "x")])))], "must be uppercase letters"),
        ([("Env", .map(Record([("1ABC", "x")])))], "must be uppercase letters"),
        ([("Env", .map(Record([("BACALHAU_X", "x")])))], "must not start with BACALHAU_"),
        ([("Env", .map(Record([("EMPTY", "")])))], "is empty"),
        ([("Env", .map(Record([("NUM", 3)])))], "must be a string"),
        ([("Resources", .map(Record([("CPU", 2)])))], "Resources.CPU must be a string"),
        ([("Resources", .map(Record([("CPU", "lots")])))], "is not a CPU quantity"),
        ([("Resources", .map(Record([("Memory", "12 parsecs")])))], "is not a size"),
        ([("Timeouts", .map(Record([("ExecutionTimeout", -1)])))], "must be ≥ 0"),
        ([("Timeouts", .map(Record([("ExecutionTimeout", "10s")])))], "whole seconds"),
        ([("Timeouts", .map(Record([("ExecutionTimeout", 60), ("QueueTimeout", 60), ("TotalTimeout", 100)])))],
         "exceed TotalTimeout"),
        ([("ResultPaths", [.map(Record([("Name", "out"), ("Path", "relative/out")]))])], "must be absolute"),
        ([("ResultPaths", [.map(Record([("Name", "out"), ("Path", "/out")]))])], "need a Publisher"),
        ([("ResultPaths", [.map(Record([("Path", "/out")]))]), ("Publisher", .map(Record([("Type", "local")])))],
         "Name is missing"),
        ([("ResultPaths", [.map(Record([("Name", "a"), ("Path", "/o")])), .map(Record([("Name", "a"), ("Path", "/p")]))]),
          ("Publisher", .map(Record([("Type", "local")])))], "used twice"),
        ([("Publisher", .map(Record([("Type", "s3")])))], "Bucket is required"),
        ([("InputSources", [.map(Record([("Target", ""), ("Source", .map(Record([("Type", "s3")])))]))])], "Target is missing"),
        ([("InputSources", [.map(Record([("Target", "/in")]))])], "Source.Type is missing"),
        ([("Network", .map(Record([("Type", "None"), ("Domains", ["example.org"])])))], "only with Network.Type HTTP"),
        ([("Network", .map(Record([("Type", "Wormhole")])))], "is not one of"),
        ([("Network", .map(Record([("Type", 1)])))], "must be a name"),
        ([("Engine", .map(Record([("Type", "process"), ("Params", .map(Record()))])))], "Params.Name (the program to run) is missing"),
        ([("Engine", .map(Record([("Type", "docker"), ("Params", .map(Record([("WorkingDirectory", "rel")])))])))],
         "Image is missing"),
        ([("Engine", .map(Record([("Params", .map(Record()))])))], "Engine.Type is missing"),
        ([("Engine", Value.null)], "Engine is missing"),
        ([("Name", "")], "Name is missing"),
    ] as [([(String, Value)], String)])
    func taskLevelRules(fields: [(String, Value)], expected: String) {
        let found = problems(task(fields))
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    @Test func moreThanOneTaskIsRefused() {
        var spec = processSpec(name: "j", program: "echo")
        if case .list(let tasks)? = spec["Tasks"] { spec["Tasks"] = .list(tasks + tasks) }
        #expect(problems(spec).contains { $0.contains("only one task per job") })
    }

    @Test func keysAreMatchedIgnoringCaseAndWholeFloatsBecomeIntegers() {
        var spec = Record([("name", "j"), ("type", "batch"), ("count", 1.0)])
        spec["tasks"] = [.map(Record([("name", "t"), ("engine", .map(Record([("type", "noop")]))),
                                      ("timeouts", .map(Record([("executiontimeout", 30.0)])))]))]
        let (checked, problems) = BacalhauSpecValidator.check(spec)
        #expect(problems.isEmpty, "\(problems)")
        #expect(checked["Count"] == .int(1))
        #expect(checked.lookup(["Tasks", "0", "Timeouts", "ExecutionTimeout"]) == .int(30))
        #expect(checked.names == ["Name", "Type", "Count", "Tasks"])
    }

    @Test func engineTypesAreFreeText() {
        let spec = task([("Engine", .map(Record([("Type", "flibble")])))])
        #expect(problems(spec).isEmpty)
    }

    @Test func everyProblemIsReportedAtOnce() {
        let spec = Record([("Name", "j"), ("Type", "nope"), ("Count", -2), ("Tasks", .list([]))])
        #expect(problems(spec).count == 3)
    }
}
