import Foundation
import Testing
@testable import HyphaArrow

/// Locating `shared/reference` (beside the clone) and small helpers for tests.
enum TestSupport {
    /// `<package root>/../shared`, or $HYPHA_SHARED_DIR, or `<cwd>/../shared`.
    static let sharedDir: URL? = {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["HYPHA_SHARED_DIR"] {
            candidates.append(URL(fileURLWithPath: env))
        }
        let root = packageRoot
        candidates.append(root.deletingLastPathComponent().appendingPathComponent("shared"))
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        candidates.append(cwd.deletingLastPathComponent().appendingPathComponent("shared"))
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("reference").path) }
    }()

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Why the tests that read `shared/reference` are skipped, or nil when it is there.
    static let referenceMissing: Comment? = sharedDir == nil
        ? "shared/reference not found beside the clone (set HYPHA_SHARED_DIR); .ci/run refuses to start without it"
        : nil

    /// Why the tests that need liblz4 and libzstd (loaded at run time) are skipped, or nil.
    static let codecsMissing: Comment? = {
        let missing = [("liblz4.so.1", ArrowCompression.lz4Frame.isAvailable), ("libzstd.so.1", ArrowCompression.zstd().isAvailable)]
            .filter { !$0.1 }.map(\.0)
        return missing.isEmpty ? nil : "\(missing.joined(separator: " and ")) could not be loaded (apt-get install liblz4-1 libzstd1)"
    }()

    /// A file or folder under `shared/reference`; a test asks for it with `#require`, so a
    /// piece missing from a reference that is there fails rather than passes.
    static func reference(_ path: String) -> URL? {
        guard let s = sharedDir else { return nil }
        let u = s.appendingPathComponent("reference").appendingPathComponent(path)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }

    static func bytes(_ url: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url))
    }

    /// Decompresses a .gz file by spawning `gzip -dc`.
    static func gunzip(_ url: URL) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-dc", url.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return data
    }

    static func hexBytes(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = s.utf8.makeIterator()
        func nib(_ c: UInt8) -> UInt8 {
            switch c {
            case 48...57: return c - 48
            case 65...70: return c - 55
            case 97...102: return c - 87
            default: return 0
            }
        }
        while let a = it.next(), let b = it.next() { out.append(nib(a) << 4 | nib(b)) }
        return out
    }

    /// "-519" with scale 2 → "-5.19".
    static func scaleDecimal(_ s: String, _ scale: Int) -> String {
        var digits = s
        var neg = false
        if digits.hasPrefix("-") { neg = true; digits.removeFirst() }
        while digits.count > 1 && digits.hasPrefix("0") { digits.removeFirst() }
        if scale > 0 {
            if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        } else if scale < 0 && digits != "0" {
            digits += String(repeating: "0", count: -scale)
        }
        return (neg && digits.contains(where: { $0 != "0" && $0 != "." }) ? "-" : "") + digits
    }
}
