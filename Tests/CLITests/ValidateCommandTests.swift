import Foundation
import Testing

/// `hypha validate` on every kind of broken workflow: the right PATH:LINE:COL, exit 1.
@Suite(.timeLimit(.minutes(5))) struct ValidateCommandTests {
    /// A valid base to break: nodes with known positions.
    static let jobstoreYAML = "Type: batch\nCount: 1\nTasks:\n  - Name: t\n    Engine: {Type: process, Params: {Name: echo, Arguments: [\"{{ path }}\"]}}\n"

    func validate(_ yaml: String, extra: [String] = [], template: String = Self.jobstoreYAML) throws -> CLI.Result {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/jobstore", withIntermediateDirectories: true)
        try template.write(toFile: dir + "/jobstore/extract.yml", atomically: true, encoding: .utf8)
        try yaml.write(toFile: dir + "/bad.yml", atomically: true, encoding: .utf8)
        var result = try CLI.run(["validate", dir + "/bad.yml"] + extra)
        result.stderr = result.stderr.replacingOccurrences(of: dir + "/", with: "")
        return result
    }

    static let base = """
        name: t
        jobstore: jobstore
        nodes:
          files:
            plugin: file-watch
            path: inbox
          decode:
            plugin: arrow-decode
            from: files
          spec:
            plugin: template
            from: decode
            job: extract
          run:
            plugin: process
            from: spec
        """

    func expectError(_ yaml: String, at position: String, containing text: String, extra: [String] = [],
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try validate(yaml, extra: extra)
        #expect(r.status == 1, sourceLocation: sourceLocation)
        #expect(r.stderr.contains("bad.yml:\(position): error: "), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(text), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
    }

    @Test func theBaseIsValid() throws {
        let r = try validate(Self.base)
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func theShippedWorkflowsValidate() throws {
        let folder = CLI.shipped("workflows")
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".yml") {
            let r = try CLI.run(["validate", folder + "/" + name])
            #expect(r.status == 0, "\(name): \(r.stderr)")
            let text = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
            for profile in ["cluster", "capture"] where text.contains("\n  \(profile):") {
                let r = try CLI.run(["validate", folder + "/" + name, "--profile", profile])
                #expect(r.status == 0, "\(name) --profile \(profile): \(r.stderr)")
            }
        }
    }

    @Test func malformedYAML() throws {
        try expectError(Self.base + "\n    oops: [1, 2\n", at: "18:1", containing: "malformed YAML")
    }

    @Test func unknownPlugin() throws {
        try expectError(Self.base.replacingOccurrences(of: "plugin: arrow-decode", with: "plugin: arow-decode"),
                        at: "8:13", containing: "did you mean 'arrow-decode'")
    }

    @Test func unknownOption() throws {
        try expectError(Self.base.replacingOccurrences(of: "    path: inbox", with: "    path: inbox\n    patern: \"*.zip\""),
                        at: "7:13", containing: "did you mean 'pattern'")
    }

    @Test func missingRequiredOption() throws {
        try expectError(Self.base.replacingOccurrences(of: "    path: inbox\n", with: ""), at: "4:3", containing: "missing required option 'path'")
    }

    @Test func wrongOptionType() throws {
        try expectError(Self.base.replacingOccurrences(of: "    from: spec", with: "    from: spec\n    max_parallel: lots"),
                        at: "17:19", containing: "must be an integer")
    }

    @Test func fromUnknownNode() throws {
        try expectError(Self.base.replacingOccurrences(of: "from: decode", with: "from: decoder"), at: "12:11", containing: "unknown node 'decoder'")
    }

    @Test func sourceWithFrom() throws {
        try expectError(Self.base.replacingOccurrences(of: "    path: inbox", with: "    path: inbox\n    from: run"),
                        at: "7:11", containing: "takes no input")
    }

    @Test func transformWithoutFrom() throws {
        try expectError(Self.base.replacingOccurrences(of: "    from: files\n", with: ""), at: "7:3", containing: "needs an input")
    }

    @Test func cycle() throws {
        let yaml = Self.base.replacingOccurrences(of: "from: decode", with: "from: [decode, run2]") + """

              spec2:
                plugin: template
                from: run
                job: extract
              run2:
                plugin: process
                from: spec2
            """
        try expectError(yaml, at: "12:11", containing: "cycle in the DAG: spec -> run -> spec2 -> run2 -> spec")
    }

    @Test func portTypeMismatch() throws {
        try expectError(Self.base.replacingOccurrences(of: "    from: spec", with: "    from: decode"), at: "16:11",
                        containing: "'decode' (arrow-decode) emits record, but 'run' (process) takes job")
    }

    @Test func duplicateNodeID() throws {
        try expectError(Self.base + "\n  spec:\n    plugin: capture\n    from: run\n    path: x.jsonl\n", at: "17:3", containing: "duplicate key 'spec'")
    }

    @Test func templateJobNotInTheJobstore() throws {
        try expectError(Self.base.replacingOccurrences(of: "job: extract", with: "job: extrakt"), at: "13:10", containing: "did you mean 'extract'")
    }

    @Test func unknownProfile() throws {
        try expectError(Self.base + "\nprofiles:\n  cluster: {}\n", at: "17:1", containing: "unknown profile 'clustre'",
                        extra: ["--profile", "clustre"])
    }

    @Test func templateVariableNotProvidedUpstream() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/jobstore", withIntermediateDirectories: true)
        try "Type: batch\nTasks:\n  - Name: t\n    Engine:\n      Type: process\n      Params: {Name: echo, Arguments: [\"{{ pth }}\"]}\n"
            .write(toFile: dir + "/jobstore/extract.yml", atomically: true, encoding: .utf8)
        try Self.base.write(toFile: dir + "/w.yml", atomically: true, encoding: .utf8)
        let r = try CLI.run(["validate", dir + "/w.yml"])
        #expect(r.status == 1)
        #expect(r.stderr.contains(dir + "/jobstore/extract.yml:6:"), "\(r.stderr)")
        #expect(r.stderr.contains("'pth' is not provided by node 'decode'") && r.stderr.contains("did you mean 'path'"), "\(r.stderr)")
    }

    @Test func everyProblemIsReportedInOneRun() throws {
        let broken = Self.base.replacingOccurrences(of: "plugin: arrow-decode", with: "plugin: arow-decode")
            .replacingOccurrences(of: "job: extract", with: "job: extrakt")
            .replacingOccurrences(of: "    from: spec", with: "    from: spec\n    max_parallel: lots")
        let r = try validate(broken)
        #expect(r.status == 1)
        #expect(r.stderr.contains("3 errors in bad.yml"), "\(r.stderr)")
        for (position, text) in [("8:13", "unknown plugin 'arow-decode'"), ("13:10", "job 'extrakt' is not in the jobstore"),
                                 ("17:19", "option 'max_parallel' of node 'run' must be an integer")] {
            #expect(r.stderr.contains("bad.yml:\(position): error: \(text)"), "\(position): \(r.stderr)")
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct WorkflowPathTests {
    @Test func aMissingFileOrAFolderIsAClearError() throws {
        let missing = try CLI.run(["validate", "/no/such/workflow.yml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/no/such/workflow.yml:1:1: error: no such workflow file"))
        let folder = try CLI.run(["validate", CLI.shipped("workflows")])
        #expect(folder.status == 1)
        #expect(folder.stderr.contains("this is a folder"))
    }

    /// Every problem that can be checked shows in one run, even when other nodes are broken:
    /// an unknown plugin, an unknown option, a template field no upstream gives and a port
    /// type mismatch, each at its PATH:LINE:COL.
    @Test func fourKindsOfProblemOnFourNodesShowTogether() throws {
        let template = "Type: batch\nCount: 1\nTasks:\n  - Name: t\n    Engine: {Type: process, Params: {Name: echo, Arguments: [\"{{ pth }}\"]}}\n"
        let r = try ValidateCommandTests().validate("""
            name: t
            jobstore: jobstore
            nodes:
              files:
                plugin: file-watch
                path: inbox
              decode:
                plugin: arrow-decod
                from: files
              spec:
                plugin: template
                from: files-decoded
                job: extract
              other-spec:
                plugin: template
                from: meta
                job: extract
              meta:
                plugin: arrow-decode
                from: files
              run:
                plugin: process
                from: files
                max_paralel: 2
            """, template: template)
        let err = r.stderr
        #expect(r.status == 1)
        #expect(err.contains("bad.yml:8:13: error: unknown plugin 'arrow-decod'"), "\(err)")
        #expect(err.contains("bad.yml:24:18: error: unknown option 'max_paralel'"), "\(err)")
        #expect(err.contains("jobstore/extract.yml:5:63: error: template variable 'pth' is not provided"), "\(err)")
        #expect(err.contains("bad.yml:23:11: error: port type mismatch: 'files' (file-watch) emits arrow, but 'run' (process) takes job"),
                "\(err)")
        #expect(err.contains("bad.yml:12:11: error: node 'spec' reads from unknown node 'files-decoded'"), "\(err)")
    }
}
