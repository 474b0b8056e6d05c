import Foundation
import HyphaArrow
import Testing

/// `hypha render`: a template node's job specs, offline, exactly as `run` makes them.
@Suite(.timeLimit(.minutes(5))) struct RenderCommandTests {
    static let workflow = CLI.shipped("workflows/extract-aggregate.yml")

    func json(_ line: Substring) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    func arguments(_ spec: [String: Any]) -> [String] {
        let tasks = spec["Tasks"] as? [[String: Any]]
        let engine = tasks?.first?["Engine"] as? [String: Any]
        return (engine?["Params"] as? [String: Any])?["Arguments"] as? [String] ?? []
    }

    @Test func hostileNamesStayExactArguments() throws {
        let r = try CLI.run(["render", Self.workflow, "--node", "extract-spec", "--input", "path=/in/a b $(x).zip",
                             "--input", "name=a b $(x).zip", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let spec = try json(try #require(lines.first))
        let args = arguments(spec)
        #expect(args.count == 5, "\(args)")
        #expect(args.first?.hasSuffix("/scripts/extract.py") == true)
        #expect(args.dropFirst().first == "/in/a b $(x).zip")
        #expect(args.dropFirst(2).first?.hasSuffix("/work/a b $(x)/files") == true, "\(args)")
        #expect((spec["Name"] as? String)?.hasPrefix("extract-aggregate-extract-a-b-x-") == true)
    }

    @Test func yamlOutputKeepsTheStrings() throws {
        let r = try CLI.run(["render", Self.workflow, "--node", "extract-spec", "--input", "path=/in/a b $(x).zip",
                             "--input", "name=007", "--var", "work=/w"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("- /in/a b $(x).zip\n"), "\(r.stdout)")
        #expect(r.stdout.contains("- /w/007/files\n"), "\(r.stdout)")
        #expect(r.stdout.hasPrefix("Name: extract-aggregate-extract-007-"), "\(r.stdout)")
    }

    @Test func aNodeThatIsNotATemplateListsTheTemplateNodes() throws {
        let r = try CLI.run(["render", Self.workflow, "--node", "extract", "--input", "name=a.zip"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("extract-aggregate.yml:"), "\(r.stderr)")
        #expect(r.stderr.contains("node 'extract' is a process node, not a template node"), "\(r.stderr)")
        #expect(r.stderr.contains("template nodes: extract-spec, aggregate-spec"), "\(r.stderr)")
        let unknown = try CLI.run(["render", Self.workflow, "--node", "extract-spek"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("did you mean 'extract-spec'"), "\(unknown.stderr)")
    }

    @Test func aMissingFieldNamesTheTemplatesPlace() throws {
        let r = try CLI.run(["render", Self.workflow, "--node", "extract-spec", "--input", "path=/in/a.zip"])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains(CLI.shipped("jobstore/extract.yml") + ":15:13: error: template variable 'name' is not defined"),
                "\(r.stderr)")
    }

    /// A node fed by job results takes the result's record: `record.name` is the file's name.
    @Test func aResultFedNodeTakesAResultRecord() throws {
        let r = try CLI.run(["render", Self.workflow, "--node", "aggregate-spec", "--input", "name=job-1",
                             "--input", "record.name=sales 1.zip", "--var", "work=/w", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let args = arguments(try json(try #require(r.stdout.split(separator: "\n").first)))
        #expect(args.dropFirst().prefix(2) == ["/w/sales 1/files", "/w/sales 1"], "\(args)")
    }

    @Test func anArrowFileGivesARecordPerRow() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let schema = ArrowSchema(fields: [
            ArrowField(name: "path", type: .utf8, nullable: false),
            ArrowField(name: "name", type: .utf8, nullable: false),
        ])
        let batch = try RecordBatch(schema: schema, rows: [[.string("/in/a.zip"), .string("a.zip")], [.string("/in/b.zip"), .string("b.zip")]])
        try ArrowIPC.writeAllBytes(try ArrowFileWriter.encode(schema: schema, batches: [batch]), to: dir + "/in.arrow")
        let r = try CLI.run(["render", Self.workflow, "--node", "extract-spec", "--input-file", dir + "/in.arrow", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let specs = try r.stdout.split(separator: "\n").map(json)
        #expect(specs.map { arguments($0).dropFirst().first } == ["/in/a.zip", "/in/b.zip"])
    }

    /// What `run` captured and what `render` prints for the same records are the same specs,
    /// names included; render writes nothing.
    @Test func rendersExactlyWhatRunMakes() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inbox = dir + "/in", work = dir + "/work"
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        for name in ["a.zip", "b c $(d).zip", "007.zip"] {
            try Data("not really a zip".utf8).write(to: URL(fileURLWithPath: inbox + "/" + name))
        }
        let run = try CLI.run(["run", Self.workflow, "--once", "--profile", "capture", "--var", "inbox=\(inbox)",
                               "--var", "work=\(work)", "--no-state", "--no-progress", "--run-dir", dir + "/run"])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let captured = try String(contentsOfFile: work + "/extract-specs.jsonl", encoding: .utf8)
        let capturedSpecs = try captured.split(separator: "\n").map { line in
            try #require((try json(line)["value"] as? [String: Any])?["spec"] as? [String: Any])
        }
        #expect(capturedSpecs.count == 3)

        let before = try FileManager.default.subpathsOfDirectory(atPath: dir).sorted()
        let r = try CLI.run(["render", Self.workflow, "--node", "extract-spec", "--profile", "capture", "--var", "inbox=\(inbox)",
                             "--var", "work=\(work)", "--input-file", work + "/extract-specs.jsonl", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rendered = try r.stdout.split(separator: "\n").map(json)
        #expect(rendered.count == 3)
        for (a, b) in zip(capturedSpecs, rendered) {
            #expect(NSDictionary(dictionary: a).isEqual(to: b), "run: \(a)\nrender: \(b)")
        }
        #expect(try FileManager.default.subpathsOfDirectory(atPath: dir).sorted() == before)
    }
}
