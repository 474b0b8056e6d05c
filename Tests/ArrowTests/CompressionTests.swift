import Testing
@testable import HyphaArrow

@Suite(.timeLimit(.minutes(2)), .enabled(if: TestSupport.codecsMissing == nil, TestSupport.codecsMissing ?? "")) struct CompressionTests {
    /// The pure-Swift LZ4 frame decoder (used when liblz4 is missing) must agree with liblz4.
    @Test func swiftLZ4DecoderMatchesLibrary() throws {
        var rng = SplitMix(seed: 42)
        let inputs: [[UInt8]] = [
            [],
            [1],
            Array("hello hello hello hello hello hello".utf8),
            (0..<100_000).map { UInt8(truncatingIfNeeded: $0 % 251) },
            (0..<70_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) },        // incompressible
            [UInt8](repeating: 0, count: 300_000),                                  // long matches, several blocks
            (0..<200_000).map { i in i % 1000 < 500 ? 65 : UInt8(truncatingIfNeeded: rng.next() % 4) },
        ]
        for input in inputs where !input.isEmpty {
            let c = try input.withUnsafeBytes { try Codec.compress(.lz4Frame, $0) }
            let viaSwift = try c.withUnsafeBytes { try LZ4FrameDecoder.decode($0, size: input.count) }
            #expect(viaSwift == input, "\(input.count) bytes")
            let viaLib = try c.withUnsafeBytes { try Codec.lz4Decompress($0, size: input.count) }
            #expect(viaLib == input)
            // wrong announced size is an error, not a crash
            #expect(throws: ArrowError.self) { try c.withUnsafeBytes { try LZ4FrameDecoder.decode($0, size: input.count - 1) } }
            #expect(throws: ArrowError.self) { try c.withUnsafeBytes { try Codec.lz4Decompress($0, size: input.count + 1) } }
            // truncated / corrupted frames
            for cut in [4, 7, c.count / 2, c.count - 1] where cut < c.count {
                _ = try? c[0..<cut].withUnsafeBytes { try LZ4FrameDecoder.decode($0, size: input.count) }
            }
            var bad = c
            for k in stride(from: 7, to: bad.count, by: max(1, bad.count / 50)) {
                bad[k] ^= 0x5A
                _ = try? bad.withUnsafeBytes { try LZ4FrameDecoder.decode($0, size: input.count) }
            }
        }
    }

    @Test func zstdSizeMismatchIsAnError() throws {
        let input = [UInt8](repeating: 7, count: 10_000)
        let c = try input.withUnsafeBytes { try Codec.compress(.zstd(level: 1), $0) }
        #expect(try c.withUnsafeBytes { try Codec.decompress(.zstd(), $0, size: input.count) } == input)
        #expect(throws: ArrowError.self) { try c.withUnsafeBytes { try Codec.decompress(.zstd(), $0, size: 9_999) } }
        #expect(throws: ArrowError.self) { try c.withUnsafeBytes { try Codec.decompress(.zstd(), $0, size: 10_001) } }
    }

    /// Bodies over 1 MiB are decompressed in parallel before the walk.
    @Test(arguments: [ArrowCompression.lz4Frame, .zstd(level: 1)])
    func largeCompressedBodies(_ codec: ArrowCompression) throws {
        let s = ArrowSchema(fields: [ArrowField(name: "i", type: .int64), ArrowField(name: "s", type: .utf8),
                                     ArrowField(name: "f", type: .float64)])
        let n = 50_000
        var rows: [[ArrowValue]] = []
        rows.reserveCapacity(n)
        for i in 0..<n {
            let k = Int64((i &* 2_654_435_761) % 1_000_003)
            let text: ArrowValue = i % 11 == 0 ? .null : .string("row \(i) of many")
            rows.append([.int(k), text, .float(Double(i) / 7)])
        }
        let b = try RecordBatch(schema: s, rows: rows)
        let bytes = try ArrowStreamWriter.encode(schema: s, batches: [b, b], options: .init(compression: codec))
        let t = try ArrowIPC.read(bytes)
        #expect(t.rowCount == 2 * n)
        for r in stride(from: 0, to: n, by: 997) {
            for c in 0..<3 { #expect(t.batches[1].value(row: r, column: c) == rows[r][c]) }
        }
        do {
            _ = try ArrowIPC.read(bytes, options: ArrowReadOptions(maxDecompressedBytes: 1_500_000))
            Issue.record("expected the cap to trigger")
        } catch {
            #expect(error.kind == .limitExceeded)
        }
    }

    @Test func decompressionCapIsEnforced() throws {
let s = ArrowSchema(fields: [ArrowField(name: "z", type: .int64)])
        let b = try RecordBatch(schema: s, rows: (0..<100_000).map { _ in [.int(0)] })
        let bytes = try ArrowStreamWriter.encode(schema: s, batches: [b], options: .init(compression: .zstd()))
        #expect(bytes.count < 20_000)
        do {
            _ = try ArrowIPC.read(bytes, options: ArrowReadOptions(maxDecompressedBytes: 100_000))
            Issue.record("expected the cap to trigger")
        } catch {
            #expect(error.kind == .limitExceeded)
        }
        #expect(try ArrowIPC.read(bytes).rowCount == 100_000)
    }
}
