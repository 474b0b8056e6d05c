import Foundation
import Testing
@testable import HyphaArrow

/// Round trips with pyarrow: bench/arrow/pyarrow_roundtrip.py writes random tables of every
/// type (nulls, several batches, dictionaries with deltas, LZ4/ZSTD, stream + file); Hypha
/// reads them and compares every value, then writes them back (as read, and rebuilt from
/// rows; plain, LZ4 and ZSTD; stream and file) for pyarrow to open, `validate(full=True)`
/// and compare. Needs a python with pyarrow: $HYPHA_PYTHON or `.venv/bin/python` in the
/// repo; skipped otherwise.
@Suite(.timeLimit(.minutes(3))) struct PyarrowRoundTripTests {
    static var python: String? {
        if let p = ProcessInfo.processInfo.environment["HYPHA_PYTHON"], !p.isEmpty { return p }
        let venv = TestSupport.packageRoot.appendingPathComponent(".venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }

    static var script: String {
        TestSupport.packageRoot.appendingPathComponent("bench/arrow/pyarrow_roundtrip.py").path
    }

    @discardableResult
    static func run(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static var pyarrowAvailable: Bool {
        guard let py = python, FileManager.default.fileExists(atPath: script),
              let r = try? run([py, "-c", "import pyarrow, numpy"]) else { return false }
        return r.0 == 0
    }

    @Test(.enabled(if: pyarrowAvailable, "no python with pyarrow (set HYPHA_PYTHON or create .venv; .ci/run makes one)"),
          .enabled(if: TestSupport.referenceMissing == nil, TestSupport.referenceMissing ?? ""))
    func roundTripWithPyarrow() throws {
        let py = try #require(Self.python)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-arrow-rt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let gen = try Self.run([py, Self.script, "generate", dir.path])
        try #require(gen.0 == 0, "generate failed: \(gen.1)")

        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".arrow") || $0.hasSuffix(".arrows") }.sorted()
        #expect(files.count >= 9)
        for name in files {
            let base = String(name[..<(name.firstIndex(of: ".") ?? name.endIndex)])
            let expData = try Data(contentsOf: dir.appendingPathComponent(base + ".expected.json"))
            let exp = try #require(try JSONSerialization.jsonObject(with: expData) as? [String: Any])
            let table: ArrowTable
            do {
                table = try ArrowIPC.read(TestSupport.bytes(dir.appendingPathComponent(name)))
            } catch {
                Issue.record("\(name): \(error)")
                continue
            }
            #expect(table.schema.description.split(separator: "\n").map(String.init) == (exp["schema"] as? [String] ?? []),
                    "\(name): schema text")
            let columns = exp["columns"] as? [String: [Any]] ?? [:]
            for (c, f) in table.schema.fields.enumerated() {
                let want = columns[f.name] ?? []
                var got: [Any] = []
                for b in table.batches { for r in 0..<b.rowCount { got.append(PlainValue.of(b.columns[c].value(at: r))) } }
                #expect(got.count == want.count, "\(name) \(f.name): count")
                var bad = 0
                for (r, (g, w)) in zip(got, want).enumerated() where !PlainValue.same(g, w) {
                    if bad < 3 { Issue.record("\(name) column \(f.name) row \(r): got \(g), want \(w)") }
                    bad += 1
                }
            }
            guard name.hasSuffix(".arrows") else { continue }
            // Write back: as read, and rebuilt from rows.
            let rebuilt = try table.batches.map { b in
                try RecordBatch(schema: table.schema, rows: (0..<b.rowCount).map { b.row($0).values })
            }
            let outputs: [(String, [UInt8])] = [
                ("hypha.arrows", try ArrowStreamWriter.encode(schema: table.schema, batches: table.batches)),
                ("hypha.arrow", try ArrowFileWriter.encode(schema: table.schema, batches: table.batches)),
                ("hypha-lz4.arrows", try ArrowStreamWriter.encode(schema: table.schema, batches: table.batches,
                                                                  options: .init(compression: .lz4Frame))),
                ("hypha-zstd.arrow", try ArrowFileWriter.encode(schema: table.schema, batches: table.batches,
                                                                options: .init(compression: .zstd()))),
                ("hypha-rows.arrows", try ArrowStreamWriter.encode(schema: table.schema, batches: rebuilt)),
                ("hypha-v4-legacy.arrows", try ArrowStreamWriter.encode(schema: table.schema, batches: table.batches,
                                                                        options: .init(metadataV4: true, legacyFraming: true))),
            ]
            for (suffix, bytes) in outputs {
                try Data(bytes).write(to: dir.appendingPathComponent("\(base).\(suffix)"))
                // and Hypha reads its own output back identically
                let back = try ArrowIPC.read(bytes)
                #expect(back.rowCount == table.rowCount, "\(base).\(suffix): rows")
                for (b1, b2) in zip(back.batches, table.batches) {
                    for c in 0..<b1.columns.count {
                        for r in 0..<b1.rowCount where b1.value(row: r, column: c) != b2.value(row: r, column: c) {
                            Issue.record("\(base).\(suffix) column \(c) row \(r) differs after re-reading")
                            break
                        }
                    }
                }
            }
        }
        // Every arrow-testing gold stream, re-encoded by Hypha (stream, file, LZ4), for pyarrow
        // to validate and compare with its own read of the original.
        var goldCount = 0
        for folder in GoldFileTests.folders {
            let gdir = try #require(TestSupport.reference("arrow-testing/data/arrow-ipc-stream/integration/\(folder)"))
            for name in try FileManager.default.contentsOfDirectory(atPath: gdir.path) where name.hasSuffix(".stream") {
                let base = "gold__\(folder.replacingOccurrences(of: ".", with: "_"))__\(name.dropLast(7))"
                let original = try TestSupport.bytes(gdir.appendingPathComponent(name))
                let table = try ArrowIPC.read(original)
                try Data(original).write(to: dir.appendingPathComponent(base + ".arrows"))
                try Data(try ArrowStreamWriter.encode(schema: table.schema, batches: table.batches))
                    .write(to: dir.appendingPathComponent(base + ".hypha.arrows"))
                try Data(try ArrowFileWriter.encode(schema: table.schema, batches: table.batches))
                    .write(to: dir.appendingPathComponent(base + ".hypha.arrow"))
                if TestSupport.codecsMissing == nil {
                    try Data(try ArrowStreamWriter.encode(schema: table.schema, batches: table.batches,
                                                          options: .init(compression: .lz4Frame)))
                        .write(to: dir.appendingPathComponent(base + ".hypha-lz4.arrows"))
                }
                goldCount += 1
            }
        }
        print("re-encoded \(goldCount) gold streams for pyarrow")
        let check = try Self.run([py, Self.script, "check", dir.path])
        #expect(check.0 == 0, "pyarrow check failed:\n\(check.1)")
        print(check.1.split(separator: "\n").last ?? "")
    }
}
