import Foundation
import Testing

/// `hypha test`: the shipped workflow tests pass; a changed template fails them with a diff.
@Suite(.timeLimit(.minutes(5))) struct TestCommandTests {
    /// A copy of workflows/, jobstore/ and scripts/ in a temporary folder.
    func copyOfTheProject() throws -> String {
        let dir = try CLI.temporaryFolder()
        for folder in ["workflows", "jobstore", "scripts"] {
            try FileManager.default.copyItem(atPath: CLI.shipped(folder), toPath: dir + "/" + folder)
        }
        return dir
    }

    @Test func theShippedTestsPass() throws {
        let r = try CLI.run(["test"], cwd: CLI.packageRoot.path)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("ok   extract-aggregate.test.yml: the cluster profile sends the same specs to Bacalhau"), "\(r.stdout)")
        #expect(r.stdout.contains("ok   job-node.test.yml: "), "\(r.stdout)")
        #expect(r.stdout.contains("ok   folder-node.test.yml: "), "\(r.stdout)")
        #expect(r.stdout.hasSuffix(" passed, 0 failed\n"), "\(r.stdout)")
        #expect(!r.stdout.contains("FAIL"))
    }

    @Test func aChangedArgumentFailsWithADiff() throws {
        let dir = try copyOfTheProject()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let template = dir + "/jobstore/extract.yml"
        let text = try String(contentsOfFile: template, encoding: .utf8)
        let changed = text.replacingOccurrences(of: "- --within", with: "- --inside")
        #expect(changed != text)
        try changed.write(toFile: template, atomically: true, encoding: .utf8)

        let r = try CLI.run(["test"], cwd: dir)
        #expect(r.status == 1, "\(r.stdout)")
        #expect(r.stdout.contains("FAIL extract-aggregate.test.yml: a zip becomes an extract job"), "\(r.stdout)")
        #expect(r.stdout.contains("spec.Tasks[0].Engine.Params.Arguments[3]\n"), "\(r.stdout)")
        #expect(r.stdout.contains("- expected: \"--within\"\n"), "\(r.stdout)")
        #expect(r.stdout.contains("+ actual:   \"--inside\"\n"), "\(r.stdout)")
        #expect(r.stdout.contains(" failed\n") && !r.stdout.contains(" 0 failed"), "\(r.stdout)")
    }

    @Test func aTestFileWithAMistakeNamesItsPlace() throws {
        let dir = try copyOfTheProject()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            workflow: ../extract-aggregate.yml
            tests:
              - name: typo
                expct:
                  extract: { count: 1 }
            """.write(toFile: dir + "/workflows/tests/typo.test.yml", atomically: true, encoding: .utf8)
        try """
            workflow: ../extract-aggregate.yml
            tests:
              - name: no such node
                mocks:
                  extract: { result: { exit_code: 0 } }
                expect:
                  extrat: { count: 1 }
            """.write(toFile: dir + "/workflows/tests/node.test.yml", atomically: true, encoding: .utf8)
        let r = try CLI.run(["test", "workflows/tests/typo.test.yml", "workflows/tests/node.test.yml"], cwd: dir)
        #expect(r.status == 1)
        #expect(r.stdout.contains("typo.test.yml:4:5: error: unknown key 'expct' in a test (did you mean 'expect'?)"), "\(r.stdout)")
        #expect(r.stdout.contains("FAIL node.test.yml: no such node"), "\(r.stdout)")
        #expect(r.stdout.contains("node.test.yml:7:15: error: node 'extrat' is not in workflow 'extract-aggregate' (did you mean 'extract'?)"),
                "\(r.stdout)")
        #expect(r.stdout.contains("0 passed, 2 failed"), "\(r.stdout)")
    }

    @Test func countsAndUnexpectedFailuresAreReported() throws {
        let dir = try copyOfTheProject()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            workflow: ../extract-aggregate.yml
            tests:
              - name: counts
                mocks:
                  extract: { result: { exit_code: 3, stderr: "boom" } }
                  aggregate: { result: {} }
                inputs:
                  extract-spec:
                    records: [{ path: /in/a.zip, name: a.zip }, { path: /in/b.zip }]
                expect:
                  extract: { count: 3 }
            """.write(toFile: dir + "/workflows/tests/counts.test.yml", atomically: true, encoding: .utf8)
        let r = try CLI.run(["test", "workflows/tests/counts.test.yml"], cwd: dir)
        #expect(r.status == 1)
        #expect(r.stdout.contains("expected 0 failed messages, got 2:"), "\(r.stdout)")
        #expect(r.stdout.contains("extract: job 'extract-aggregate-extract-a-"), "\(r.stdout)")
        #expect(r.stdout.contains("(mocked) failed with exit code 3: boom"), "\(r.stdout)")
        #expect(r.stdout.contains("extract.yml:15:13: template variable 'name' is not defined"), "\(r.stdout)")
        #expect(r.stdout.contains("extract: expected 3 messages, got 1"), "\(r.stdout)")
    }
}
