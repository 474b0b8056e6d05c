import Engine
import Foundation
@testable import CorePlugins
import Testing

@Suite(.timeLimit(.minutes(5))) struct TemplatePluginTests {
    let template = """
        Type: batch
        Count: 1
        Tasks:
          - Name: extract
            Engine:
              Type: process
              Params:
                Name: python3
                Arguments:
                  - "{{ vars.scripts }}/extract.py"
                  - "{{ path }}"
                  - "{{ vars.work }}/{{ name | stem }}/files"
                  - "{{ size }}"
            Env:
              SIZE: "{{ size }}"
        """

    func makeJobstore(_ h: PluginHarness) throws -> String {
        let store = h.directory + "/jobstore"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        try template.write(toFile: store + "/extract.yml", atomically: true, encoding: .utf8)
        try "Type: batch\nTasks:\n  - Name: t\n    Engine: {Type: process, Params: {Name: \"{{ nope }}\"}}\n"
            .write(toFile: store + "/broken.yml", atomically: true, encoding: .utf8)
        return store
    }

    func render(_ record: Record, job: String = "extract") async throws -> Job {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let store = try makeJobstore(h)
        let vars = Record([("scripts", "/opt/s"), ("work", "/w")])
        let plugin = try TemplatePlugin(node: try h.config("spec", plugin: TemplatePlugin.self, options: ["job": .string(job)],
                                                       jobstore: store, vars: vars), context: h.context())
        let out = Emitted()
        try await plugin.process(.record(record), out.output)
        guard case .job(let rendered)? = out.all.first else { throw Diagnostic("no job", at: nil) }
        return rendered
    }

    @Test func hostileFileNamesStayOneArgument() async throws {
        let name = "x\": y\n- {{ vars.work }} $(rm -rf ~); echo 'é'.zip"
        let job = try await render(Record([("path", .string("/in/" + name)), ("name", .string(name)), ("size", 7)]))
        let task = job.spec["Tasks"]?.listValue?.first
        let args = task?["Engine"]?["Params"]?["Arguments"]?.listValue
        #expect(args?.count == 4)
        #expect(args?[1] == .string("/in/" + name))
        #expect(args?[2] == .string("/w/x\": y\n- {{ vars.work }} $(rm -rf ~); echo 'é'/files"))
        #expect(args?[3] == .int(7))  // a whole placeholder keeps its type
        #expect(task?["Env"]?["SIZE"] == .int(7))
    }

    @Test func namesAreDeterministicPerInput() async throws {
        let a = try await render(Record([("path", "/in/a.zip"), ("name", "a.zip"), ("size", 1)]))
        let again = try await render(Record([("path", "/in/a.zip"), ("name", "a.zip"), ("size", 1)]))
        let b = try await render(Record([("path", "/in/b.zip"), ("name", "b.zip"), ("size", 1)]))
        #expect(a.name == again.name)
        #expect(a.name != b.name)
        #expect(a.name.hasPrefix("test-flow-extract-a-"))
        #expect(a.spec["Name"] == .string(a.name))
    }

    /// Job names must not change between Hypha versions (a restarted run finds its jobs by
    /// name): the hash is FNV-1a of "WORKFLOW\0NODE\0" + the record's compact JSON, pinned
    /// here to a value computed outside Swift (Python, from the same bytes).
    @Test func namesArePinnedAcrossVersions() async throws {
        let job = try await render(Record([("path", "/in/a.zip"), ("name", "a.zip"), ("size", 1)]))
        #expect(job.name == "test-flow-extract-a-9ecc8c3d02a047ec")
        let hostile = "Ünïcode \"q\"\t\u{1}.zip"
        let record = Record([("path", .string("/in/" + hostile)), ("name", .string(hostile)), ("size", 2)])
        let other = try await render(record)
        // Python: FNV-1a of b"test-flow\0spec\0" + json.dumps(record, ensure_ascii=False,
        // separators=(",", ":")).encode(), the record being
        // {"path":"/in/Ünïcode \"q\"\t\u0001.zip","name":"Ünïcode \"q\"\t\u0001.zip","size":2}
        #expect(other.name == "test-flow-extract-n-code-q-a1148e80707e9793")
    }

    @Test func aMissingVariableNamesTheTemplatePosition() async throws {
        await #expect {
            _ = try await render(Record([("path", "/in/a.zip")]), job: "broken")
        } throws: { error in
            // The runtime names the node; the failure names the template's place.
            guard let failure = error as? MessageFailure else { return false }
            return failure.location?.file.hasSuffix("broken.yml") == true && failure.location?.line == 4
                && failure.reason.contains("'nope'") && !failure.reason.contains("node 'spec'")
        }
    }

    @Test func validateFindsUnknownJobsAndUnknownVariables() throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let store = try makeJobstore(h)
        let missing = TemplatePlugin.validate(try h.config("spec", plugin: TemplatePlugin.self, options: ["job": "extrct"], jobstore: store))
        #expect(missing.first?.message.contains("did you mean 'extract'") == true)

        var config = try h.config("spec", plugin: TemplatePlugin.self, options: ["job": "broken"], jobstore: store)
        config.upstream = ["files"]
        config.upstreamSpecs = [FileWatchPlugin.spec]
        let unknown = TemplatePlugin.validate(config)
        #expect(unknown.count == 1)
        #expect(unknown.first?.location?.file.hasSuffix("broken.yml") == true)
        #expect(unknown.first?.message.contains("'nope' is not provided by node 'files'") == true)
    }

    @Test func aResultExposesTheRecordThatProducedIt() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let store = h.directory + "/js"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        try "Type: batch\nTasks:\n  - Name: t\n    Engine: {Type: process, Params: {Name: echo, Arguments: [\"{{ record.name | stem }}\", \"{{ exit_code }}\"]}}\n"
            .write(toFile: store + "/agg.yml", atomically: true, encoding: .utf8)
        let plugin = try TemplatePlugin(node: try h.config("agg", plugin: TemplatePlugin.self, options: ["job": "agg"], jobstore: store), context: h.context())
        let producer = Job(name: "j1", spec: Record(), renderedBy: "x", input: Record([("name", "sales.zip")]))
        let result = JobResult(job: producer, state: .completed, details: Record([("exit_code", 0)]))
        let out = Emitted()
        try await plugin.process(.result(result), out.output)
        guard case .job(let job)? = out.all.first else { Issue.record("no job"); return }
        let args = job.spec["Tasks"]?.listValue?.first?["Engine"]?["Params"]?["Arguments"]?.listValue
        #expect(args == [.string("sales"), .int(0)])
        #expect(job.name.hasPrefix("test-flow-agg-sales-"))

        // The same upstream job in another run (other log paths, durations) gives the same name.
        let rerun = JobResult(job: producer, state: .completed, details: Record([("exit_code", 0), ("duration", 9.5)]))
        let again = Emitted()
        try await plugin.process(.result(rerun), again.output)
        guard case .job(let second)? = again.all.first else { Issue.record("no job"); return }
        #expect(second.name == job.name)
    }
}
