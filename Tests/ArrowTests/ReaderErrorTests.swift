import Testing
@testable import HyphaArrow

/// Malformed input must give a typed ArrowError with a useful message.
@Suite(.timeLimit(.minutes(5))) struct ReaderErrorTests {
    let schema = ArrowSchema(fields: [ArrowField(name: "s", type: .utf8), ArrowField(name: "i", type: .int32)])

    func sample() throws -> [UInt8] {
        try ArrowStreamWriter.encode(schema: schema, batches: [try RecordBatch(schema: schema, rows: [[.string("abc"), .int(1)], [.null, .int(2)]])])
    }

    func expectError(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try ArrowIPC.read(bytes)
            Issue.record("expected an error containing '\(fragment)'", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description.contains(fragment), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func framingErrors() throws {
        expectError([], "no Schema")
        expectError([1, 2], "truncated")
        expectError([0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 0xFF, 0xFF, 0xFF], "negative message metadata length")
        expectError([0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x10, 0x00, 0x00, 1, 2, 3], "runs past the end")
        let good = try sample()
        for cut in [9, 20, good.count / 2, good.count - 9] {
            #expect(throws: ArrowError.self) { try ArrowIPC.read(Array(good[0..<cut])) }
        }
    }

    @Test func batchBeforeSchema() throws {
        let good = try sample()
        // drop the schema message: the stream then starts with a RecordBatch
        let first = try #require(try readMessage(good, at: 0, end: good.count))
        expectError(Array(good[first.end...]), "does not start with a Schema")
    }

    @Test func badUTF8IsRejectedOnlyWithFullValidation() throws {
        var bytes = try sample()
        // corrupt the 'abc' string data in the body
        let idx = try #require(bytes.indices.first { bytes[$0] == 0x61 && bytes[$0 + 1] == 0x62 && bytes[$0 + 2] == 0x63 })
        bytes[idx + 1] = 0xFF
        expectError(bytes, "UTF-8")
        let lenient = try ArrowIPC.read(bytes, options: ArrowReadOptions(validateFully: false))
        #expect(lenient.rowCount == 2)
    }

    @Test func fileFormatErrors() throws {
        let file = try ArrowFileWriter.encode(schema: schema, batches: [])
        #expect(try ArrowIPC.read(file).batches.isEmpty)
        var broken = file
        broken[broken.count - 1] = 0x30  // bad trailing magic
        expectError(broken, "ARROW1")
        var bad = file
        // footer size larger than the file
        bad[bad.count - 10] = 0xFF; bad[bad.count - 9] = 0xFF
        expectError(bad, "footer")
    }

    @Test func errorKinds() {
        let e = ArrowError(.codecUnavailable, "x")
        #expect(e.description.hasPrefix("Arrow compression codec unavailable"))
        #expect(ArrowError.invalid("y").kind == .invalidData)
    }
}

@Suite(.timeLimit(.minutes(5))) struct StreamDecoderTests {
    @Test func anyChunkingGivesTheSameBatches() throws {
        let s = ArrowSchema(fields: [ArrowField(name: "s", type: .utf8, dictionary: DictionaryEncoding(id: 1)),
                                     ArrowField(name: "i", type: .int64)])
        let b1 = try RecordBatch(schema: s, rows: (0..<50).map { [.string("v\($0 % 5)"), .int(Int64($0))] })
        let b2 = try RecordBatch(schema: s, rows: (0..<30).map { [.string("w\($0 % 3)"), .null] }, dictionariesFrom: b1)
        for legacy in [false, true] {
            let bytes = try ArrowStreamWriter.encode(schema: s, batches: [b1, b2], options: .init(legacyFraming: legacy))
            for chunk in [1, 3, 8, 64, 1000, bytes.count] {
                var dec = ArrowStreamDecoder()
                var got: [RecordBatch] = []
                var i = 0
                while i < bytes.count {
                    got += try dec.feed(Array(bytes[i..<min(bytes.count, i + chunk)]))
                    i += chunk
                }
                try dec.finish()
                #expect(dec.isFinished)
                #expect(dec.schema == s)
                #expect(got.map(\.rowCount) == [50, 30], "chunk \(chunk)")
                #expect(got.last?.value(row: 2, column: 0) == .string("w2"))
                #expect(got.first?.value(row: 7, column: 1) == .int(7))
            }
            var partial = ArrowStreamDecoder()
            _ = try partial.feed(Array(bytes[0..<(bytes.count / 2)]))
            #expect(throws: ArrowError.self) { try partial.finish() }
        }
    }
}
