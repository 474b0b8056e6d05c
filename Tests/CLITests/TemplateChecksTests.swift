import Foundation
import Testing

/// `validate` checks template variables against the typed fields of the upstream nodes, and
/// `graph --schemas` shows those fields on each edge.
@Suite(.timeLimit(.minutes(5))) struct TemplateChecksTests {
    static let workflow = """
        name: t
        jobstore: jobstore
        nodes:
          files: { plugin: file-watch, path: inbox }
          decode: { plugin: arrow-decode, from: files }
          spec: { plugin: template, from: decode, job: extract }
          run: { plugin: process, from: spec }
          after: { plugin: template, from: run, job: after }
        """

    /// Validates the workflow with `extract` and `after` as its templates; stderr with the folder cut.
    func validate(extract: String, after: String = "Type: batch\nTasks:\n  - Name: t\n    Engine: {Type: process, Params: {Name: echo}}\n")
        throws -> CLI.Result
    {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/jobstore", withIntermediateDirectories: true)
        try extract.write(toFile: dir + "/jobstore/extract.yml", atomically: true, encoding: .utf8)
        try after.write(toFile: dir + "/jobstore/after.yml", atomically: true, encoding: .utf8)
        try Self.workflow.write(toFile: dir + "/w.yml", atomically: true, encoding: .utf8)
        var r = try CLI.run(["validate", dir + "/w.yml"])
        r.stderr = r.stderr.replacingOccurrences(of: dir + "/", with: "")
        return r
    }

    static func template(_ arguments: [String]) -> String {
        "Type: batch\nTasks:\n  - Name: t\n    Engine:\n      Type: process\n      Params:\n        Name: echo\n        Arguments:\n"
            + arguments.map { "          - \"\($0)\"\n" }.joined()
    }

    @Test func aMisspeltVariableIsReportedWithASuggestion() throws {
        let r = try validate(extract: Self.template(["{{ path }}", "{{ nmae | stem }}"]))
        #expect(r.status == 1)
        #expect(r.stderr.contains("jobstore/extract.yml:10:14: error: template variable 'nmae' is not provided by node 'decode'"), "\(r.stderr)")
        #expect(r.stderr.contains("did you mean 'name'"), "\(r.stderr)")
    }

    @Test func aVariableTheUpstreamSchemaLacks() throws {
        let r = try validate(extract: Self.template(["{{ path }}", "{{ owner }}"]),
                             after: Self.template(["{{ record.name | stem }}", "{{ record.checksum }}"]))
        #expect(r.status == 1)
        #expect(r.stderr.contains("jobstore/extract.yml:10:14: error: template variable 'owner' is not provided by node 'decode'"),
                "\(r.stderr)")
        #expect(r.stderr.contains("available: modified, name, path, size, vars, workflow"), "\(r.stderr)")
        // Through a job: a result's `record` holds the fields of the record that made the job.
        #expect(r.stderr.contains("jobstore/after.yml:10:14: error: template variable 'record.checksum' is not provided: "
                                  + "'record' from node 'run' has no field 'checksum'"), "\(r.stderr)")
        #expect(!r.stderr.contains("after.yml:9:"), "\(r.stderr)")
    }

    @Test func aFilterThatDoesNotFitTheFieldsType() throws {
        let r = try validate(extract: Self.template(["{{ name | stem }}", "{{ size | stem }}", "{{ modified | basename }}",
                                                     "{{ size | json | upper }}"]),
                             after: Self.template(["{{ exit_code | lower }}", "{{ record.size | stem }}", "{{ stdout | lower }}"]))
        #expect(r.status == 1)
        #expect(r.stderr.contains("jobstore/extract.yml:10:14: error: filter 'stem' needs a string, but 'size' is an int "
                                  + "(through the edge 'decode' → 'spec')"), "\(r.stderr)")
        #expect(r.stderr.contains("jobstore/extract.yml:11:14: error: filter 'basename' needs a string, but 'modified' is a timestamp"),
                "\(r.stderr)")
        #expect(r.stderr.contains("jobstore/after.yml:9:14: error: filter 'lower' needs a string, but 'exit_code' is an int "
                                  + "(through the edge 'run' → 'after')"), "\(r.stderr)")
        #expect(r.stderr.contains("jobstore/after.yml:10:14: error: filter 'stem' needs a string, but 'record.size' is an int"),
                "\(r.stderr)")
        #expect(r.stderr.contains("4 errors in"), "\(r.stderr)")
    }

    @Test func theShippedTemplatesFitTheirFields() throws {
        for name in ["extract-aggregate.yml", "job-node.yml", "download-extract-aggregate.yml"] {
            for profile in [[], ["--profile", "cluster"]] {
                let r = try CLI.run(["validate", CLI.shipped("workflows/" + name)] + profile)
                #expect(r.status == 0, "\(name) \(profile): \(r.stderr)")
            }
        }
    }

    @Test func graphShowsTheFieldsOnEachEdge() throws {
        let r = try CLI.run(["graph", CLI.shipped("workflows/extract-aggregate.yml"), "--schemas"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("n_downloads -- \"arrow<br/>path: string<br/>name: string<br/>size: int<br/>modified: timestamp\" --> n_decode"),
                "\(r.stdout)")
        #expect(r.stdout.contains("exit_code: int<br/>duration: float"), "\(r.stdout)")
        #expect(r.stdout.contains("record: map #123;path: string, name: string, size: int, modified: timestamp#125;"), "\(r.stdout)")
        let dot = try CLI.run(["graph", CLI.shipped("workflows/job-node.yml"), "--schemas", "--format", "dot"])
        #expect(dot.stdout.contains("\"incoming\" -> \"decode\" [label=\"arrow\n(fields unknown)\"]"), "\(dot.stdout)")
    }

    /// A declared `schema:` on arrow-http, and on file-watch with `emit: contents`, is what the
    /// templates downstream are checked against; a type that is not one is a load error.
    @Test func declaredSchemasOnSourcesAreCheckedAgainst() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/jobstore", withIntermediateDirectories: true)
        try Self.template(["{{ path }}", "{{ size | stem }}", "{{ nmae }}"]).write(toFile: dir + "/jobstore/extract.yml",
                                                                                 atomically: true, encoding: .utf8)
        for source in ["{ plugin: arrow-http, port: 0, schema: { path: string, name: string, size: int } }",
                       "{ plugin: file-watch, path: in, emit: contents, schema: { path: string, name: string, size: int } }"] {
            try """
                jobstore: jobstore
                nodes:
                  incoming: \(source)
                  decode: { plugin: arrow-decode, from: incoming }
                  spec: { plugin: template, from: decode, job: extract }
                """.write(toFile: dir + "/w.yml", atomically: true, encoding: .utf8)
            let r = try CLI.run(["validate", dir + "/w.yml"])
            #expect(r.status == 1)
            #expect(r.stderr.contains("filter 'stem'") && r.stderr.contains("'size'") && r.stderr.contains("int"), "\(r.stderr)")
            #expect(r.stderr.contains("template variable 'nmae' is not provided") && r.stderr.contains("did you mean 'name'"),
                    "\(r.stderr)")
        }
        try """
            nodes:
              incoming: { plugin: arrow-http, port: 0, schema: { path: strng } }
              out: { plugin: capture, from: incoming, path: out.jsonl }
            """.write(toFile: dir + "/w.yml", atomically: true, encoding: .utf8)
        let bad = try CLI.run(["validate", dir + "/w.yml"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("w.yml:2:") && bad.stderr.contains("field 'path' has 'strng'")
                && bad.stderr.contains("did you mean 'string'"), "\(bad.stderr)")
    }
}
