import Foundation
import Testing
@testable import HyphaArrow

/// Every file of arrow-testing's IPC fuzz-regression corpus must either fail with an
/// ArrowError or read completely (every value decoded and rendered) — never crash, hang
/// or allocate without bound. Files pyarrow reads fine must read here with the same row count.
@Suite(.timeLimit(.minutes(3))) struct FuzzCorpusTests {
    @Test(.enabled(if: TestSupport.referenceMissing == nil, TestSupport.referenceMissing ?? ""),
          arguments: ["arrow-ipc-stream", "arrow-ipc-file"])
    func corpus(_ folder: String) throws {
        let dir = try #require(TestSupport.reference("arrow-testing/fuzz/\(folder)"))
        var outcomes: [String: String] = [:]
        if let tsv = TestSupport.reference("arrow-testing/fuzz/pyarrow-26.0.1-results.tsv"),
           let text = try? String(contentsOf: tsv, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
                if parts.count == 2 { outcomes[parts[0]] = parts[1] }
            }
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(!names.isEmpty)
        var errors = 0, reads = 0
        for name in names {
            let bytes = try TestSupport.bytes(dir.appendingPathComponent(name))
            let result = FuzzTarget.run(bytes)
            switch result {
            case .failure(let error):
                errors += 1
                if let o = outcomes[name], o.hasPrefix("ok rows="),
                   !(Self.refusedOnPurpose[name].map { "\(error)".contains($0) } ?? false) {
                    Issue.record("\(folder)/\(name): pyarrow reads it (\(o)), Hypha fails: \(error)")
                }
            case .success(let rows):
                reads += 1
                if let o = outcomes[name], o.hasPrefix("ok rows=") {
                    #expect("ok rows=\(rows)" == o, "\(name): rows \(rows), pyarrow says \(o)")
                }
            }
        }
        print("fuzz \(folder): \(names.count) files, \(errors) errors, \(reads) read")
    }

    /// Files pyarrow reads that Hypha refuses, each for a reason: the format does not allow them.
    static let refusedOnPurpose = [
        // Its schema declares a TimeUnit of 8 (the format defines 0 to 3); pyarrow 26 reads the
        // zero-row stream without looking at that field's unit.
        "clusterfuzz-testcase-minimized-arrow-ipc-stream-fuzz-5718685113384960": "unknown time unit",
    ]

    /// Inputs our own fuzzing found (fuzz/seeds/, kept in the repo): each must finish quickly.
    @Test func ownRegressionSeeds() throws {
        let dir = TestSupport.packageRoot.appendingPathComponent("fuzz/seeds")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!names.isEmpty, "fuzz/seeds holds the inputs fuzzing found; it is not empty")
        for name in names.sorted() {
            _ = FuzzTarget.run(try TestSupport.bytes(dir.appendingPathComponent(name)))
        }
    }

    /// Truncations and bit flips of valid files must not crash either.
    @Test(.enabled(if: TestSupport.referenceMissing == nil, TestSupport.referenceMissing ?? ""))
    func mutatedGoldFiles() throws {
        let dir = try #require(TestSupport.reference("pyarrow-generated"))
        for name in ["types_plain.arrows", "types_plain.arrow", "types_lz4.arrows", "types_zstd.arrow", "views.arrows",
                     "dict_delta_then_replace.arrows"] {
            let bytes = try TestSupport.bytes(dir.appendingPathComponent(name))
            var rng = SplitMix(seed: UInt64(bytes.count))
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
                _ = FuzzTarget.run(Array(bytes[0..<cut]))
            }
            for _ in 0..<300 {
                var m = bytes
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(m.count))
                    m[i] = UInt8(truncatingIfNeeded: rng.next())
                }
                _ = FuzzTarget.run(m)
            }
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
