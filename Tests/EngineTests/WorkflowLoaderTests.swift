import Engine
import Testing

/// Every kind of load error, with its position.
@Suite(.timeLimit(.minutes(5))) struct WorkflowLoaderTests {
    let loader = WorkflowLoader(registry: testRegistry, environment: ["HOME_DIR": "/home/x"])

    func errors(_ yaml: String, overrides: RunOverrides = RunOverrides()) -> [Diagnostic] {
        do {
            _ = try loader.load(text: yaml, path: "w.yml", overrides: overrides)
            return []
        } catch {
            return error.all
        }
    }

    func position(_ d: Diagnostic?) -> String { d?.location.map { "\($0.line):\($0.column)" } ?? "none" }

    @Test func validWorkflowLoadsInTopologicalOrder() throws {
        let plan = try loader.load(text: """
            name: ok
            nodes:
              sink:
                plugin: collect
                from: [a, b]
              a: { plugin: double, from: src }
              b: { plugin: double, from: src }
              src: { plugin: numbers, count: 3 }
            """, path: "w.yml")
        #expect(plan.nodes.map(\.config.id) == ["src", "a", "b", "sink"])
        #expect(plan.node("src")?.downstream == ["a", "b"])
        #expect(plan.node("a")?.config[DoubleTransform.parallel] == 1)  // default filled in
    }

    @Test func malformedYAML() {
        let e = errors("nodes:\n  a: [1, 2\n  b: x\n")
        #expect(e.count == 1)
        #expect(e.first?.message.contains("malformed YAML") == true)
        #expect(e.first?.location?.line == 3)
        #expect(e.first?.description.hasPrefix("w.yml:3:") == true)
    }

    @Test func unknownPluginSuggestsTheClosest() {
        let e = errors("nodes:\n  src:\n    plugin: numbrs\n    count: 1\n")
        #expect(e.count == 1)
        #expect(position(e.first) == "3:13")
        #expect(e.first?.message.contains("did you mean 'numbers'") == true)
    }

    @Test func unknownOptionSuggestsTheClosest() {
        let e = errors("nodes:\n  src:\n    plugin: numbers\n    count: 1\n    cont: 2\n")
        #expect(e.count == 1)
        #expect(position(e.first) == "5:11")
        #expect(e.first?.message.contains("unknown option 'cont'") == true)
        #expect(e.first?.message.contains("did you mean 'count'") == true)
    }

    @Test func missingRequiredOption() {
        let e = errors("nodes:\n  src:\n    plugin: numbers\n")
        #expect(e.count == 1)
        #expect(position(e.first) == "2:3")
        #expect(e.first?.message.contains("missing required option 'count'") == true)
    }

    @Test func optionOfTheWrongType() {
        let e = errors("nodes:\n  src:\n    plugin: numbers\n    count: many\n")
        #expect(e.count == 1)
        #expect(position(e.first) == "4:12")
        #expect(e.first?.message.contains("must be an integer") == true)
    }

    @Test func fromUnknownNode() {
        let e = errors("nodes:\n  src: { plugin: numbers, count: 1 }\n  d:\n    plugin: double\n    from: sorce\n")
        #expect(e.count == 1)
        #expect(position(e.first) == "5:11")
        #expect(e.first?.message.contains("unknown node 'sorce'") == true)
        #expect(e.first?.message.contains("did you mean 'src'") == true)
    }

    @Test func sourceGivenFrom() {
        let e = errors("nodes:\n  a: { plugin: numbers, count: 1 }\n  b:\n    plugin: numbers\n    count: 1\n    from: a\n")
        #expect(e.count == 1)
        #expect(position(e.first) == "6:11")
        #expect(e.first?.message.contains("takes no input") == true)
    }

    @Test func transformWithoutFrom() {
        let e = errors("nodes:\n  a: { plugin: numbers, count: 1 }\n  b:\n    plugin: double\n")
        #expect(e.count == 1)
        #expect(position(e.first) == "3:3")
        #expect(e.first?.message.contains("needs an input") == true)
    }

    @Test func cycleIsPrintedWithItsPath() {
        let e = errors("""
            nodes:
              src: { plugin: numbers, count: 1 }
              a: { plugin: double, from: [src, c] }
              b: { plugin: double, from: a }
              c: { plugin: double, from: b }
            """)
        #expect(e.count == 1)
        let message = e.first?.message ?? ""
        #expect(message.contains("cycle"))
        #expect(message.contains("a -> b -> c -> a") || message.contains("b -> c -> a -> b") || message.contains("c -> a -> b -> c"))
        #expect(e.first?.location != nil)
    }

    @Test func portTypeMismatchNamesBothEnds() {
        let e = errors("nodes:\n  src: { plugin: numbers, count: 1 }\n  j:\n    plugin: job-sink\n    from: src\n")
        #expect(e.count == 1)
        #expect(position(e.first) == "5:11")
        let m = e.first?.message ?? ""
        #expect(m.contains("'src' (numbers) emits record"))
        #expect(m.contains("'j' (job-sink) takes job"))
    }

    @Test func readingFromASink() {
        let e = errors("nodes:\n  src: { plugin: numbers, count: 1 }\n  s: { plugin: collect, from: src }\n  d: { plugin: double, from: s }\n")
        #expect(e.count == 1)
        #expect(e.first?.message.contains("is a sink") == true)
    }

    @Test func duplicateNodeIDs() {
        let e = errors("nodes:\n  src: { plugin: numbers, count: 1 }\n  src: { plugin: numbers, count: 2 }\n")
        #expect(e.count == 1)
        #expect(position(e.first) == "3:3")
        #expect(e.first?.message.contains("duplicate key 'src'") == true)
    }

    @Test func unknownProfile() {
        let e = errors("nodes:\n  src: { plugin: numbers, count: 1 }\nprofiles:\n  cluster: {}\n",
                       overrides: RunOverrides(profile: "clustr"))
        #expect(e.count == 1)
        #expect(e.first?.message.contains("unknown profile 'clustr'") == true)
        #expect(e.first?.message.contains("did you mean 'cluster'") == true)
        #expect(position(e.first) == "3:1")
    }

    @Test func allErrorsAreReportedInOneRun() {
        let e = errors("""
            nodes:
              src: { plugin: numbrs, count: 1 }
              a: { plugin: double, from: nowhere }
              b: { plugin: collect, form: a }
            """)
        #expect(e.count >= 3)
    }

    @Test func unknownTopLevelKey() {
        let e = errors("nodse:\n  src: { plugin: numbers, count: 1 }\n")
        #expect(e.contains { $0.message.contains("unknown key 'nodse'") && $0.message.contains("did you mean 'nodes'") })
    }

    @Test func environmentVariablesAndVars() throws {
        let plan = try loader.load(text: """
            vars:
              n: 4
            nodes:
              src: { plugin: numbers, count: "{{ vars.n }}" }
              s: { plugin: collect, from: src, delay_ms: "${MISSING:-7}" }
            """, path: "w.yml", overrides: RunOverrides(vars: [("n", "5")]))
        #expect(plan.node("src")?.config[NumbersSource.count] == 5)
        #expect(plan.node("s")?.config[CollectSink.delay] == 7)
        let e = errors("nodes:\n  src: { plugin: numbers, count: \"${NOPE}\" }\n")
        #expect(e.first?.message.contains("environment variable 'NOPE'") == true)
    }

    @Test func setOverridesAndSwapsToASinkPruneDownstream() throws {
        let yaml = """
            nodes:
              src: { plugin: numbers, count: 1 }
              a: { plugin: double, from: src }
              b: { plugin: double, from: a }
              c: { plugin: collect, from: b }
            """
        let plan = try loader.load(text: yaml, path: "w.yml",
                                   overrides: RunOverrides(sets: [("a", "plugin", "collect"), ("src", "count", "9")]))
        #expect(plan.nodes.map(\.config.id) == ["src", "a"])
        #expect(plan.node("src")?.config[NumbersSource.count] == 9)
        #expect(plan.notes.count == 2)
    }

    /// `api_key: 0123456789` is an identifier, not a number: a string option keeps the text as
    /// written, however YAML would read it; so do `--set` values and variables.
    @Test func stringOptionsKeepTheirTextAsWritten() throws {
        let plan = try loader.load(text: """
            vars: { key: 0123456789 }
            nodes:
              src: { plugin: numbers, count: 1 }
              a: { plugin: collect, from: src, label: 0123456789 }
              b: { plugin: collect, from: src, label: 1.10 }
              c: { plugin: collect, from: src, label: "{{ vars.key }}" }
              d: { plugin: collect, from: src, label: 98765432109876543210 }
            """, path: "w.yml")
        #expect(plan.node("a")?.config.string("label") == "0123456789")
        #expect(plan.node("b")?.config.string("label") == "1.10")
        #expect(plan.node("c")?.config.string("label") == "0123456789")
        #expect(plan.node("d")?.config.string("label") == "98765432109876543210")
        let set = try loader.load(text: "nodes:\n  src: { plugin: numbers, count: 1 }\n  a: { plugin: collect, from: src }\n",
                                  path: "w.yml", overrides: RunOverrides(sets: [(node: "a", option: "label", value: "007")]))
        #expect(set.node("a")?.config.string("label") == "007")
        // Numbers are still numbers where a number is asked for.
        #expect(plan.node("src")?.config[NumbersSource.count] == 1)
    }
}
