import Foundation
import Testing

/// `hypha arrow cat|schema` on the pyarrow-made fixtures in ../shared/reference (skipped where absent).
@Suite(.timeLimit(.minutes(5))) struct ArrowCommandTests {
    static let fixtures = CLI.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/pyarrow-generated").path
    static var haveFixtures: Bool { FileManager.default.fileExists(atPath: fixtures + "/types_plain.arrows") }

    @Test(.enabled(if: haveFixtures)) func catPrintsEveryRowAsJSON() throws {
        for name in ["types_plain.arrows", "types_plain.arrow", "types_zstd.arrow", "types_lz4.arrows"] {
            let r = try CLI.run(["arrow", "cat", Self.fixtures + "/" + name])
            #expect(r.status == 0, "\(name): \(r.stderr)")
            let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/types_plain.expected.json"))) as? [String: Any]
            let columns = expected?["columns"] as? [String: [Any]]
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.count == expected?["num_rows"] as? Int)
            for (i, line) in lines.enumerated() {
                let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                #expect(row.keys.count == columns?.count)
                // Spot-check exact columns against pyarrow's values.
                for column in ["i32", "utf8", "bool", "dec128", "i64"] {
                    let want = columns?[column]?[i]
                    let got = row[column]
                    #expect("\(want.map { "\($0)" } ?? "nil")" == "\(got.map { "\($0)" } ?? "nil")", "\(name) row \(i) \(column)")
                }
            }
        }
    }

    @Test(.enabled(if: haveFixtures)) func schemaPrintsFieldsAndFormat() throws {
        let r = try CLI.run(["arrow", "schema", Self.fixtures + "/types_zstd.arrow"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("dict_utf8: dictionary<values=string, indices=int32"))
        #expect(r.stdout.contains("file format, 2 batches, 10 rows"))
        let json = try CLI.run(["arrow", "schema", "--json", Self.fixtures + "/types_plain.arrows"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["fields"] as? [Any])?.count == 33)
    }

    @Test func malformedInputIsAClearErrorWithExitOne() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("garbage that is not arrow".utf8).write(to: URL(fileURLWithPath: dir + "/bad.arrows"))
        let r = try CLI.run(["arrow", "cat", dir + "/bad.arrows"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("not valid Arrow IPC data"))
        let missing = try CLI.run(["arrow", "schema", dir + "/missing.arrow"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read"))
    }
}
