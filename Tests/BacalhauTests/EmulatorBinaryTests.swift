import Foundation
import Testing

/// The `bacalhau-emulator` executable: its start line, its arguments, and a restart that
/// keeps jobs through `--state`. Skips cleanly when the binary isn't built.
@Suite(.timeLimit(.minutes(2)),
       .enabled(if: builtProduct("bacalhau-emulator") != nil,
                "no built bacalhau-emulator: swift build --product bacalhau-emulator (./test.sh does) first"))
struct EmulatorBinaryTests {
    /// A started emulator process and its port.
    final class Launched: @unchecked Sendable {
        let process: Process
        let port: Int

        init(process: Process, port: Int) {
            self.process = process
            self.port = port
        }

        func terminate() {
            process.terminate()
            process.waitUntilExit()
        }
    }

    static func launch(_ binary: String, _ arguments: [String]) async throws -> Launched {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = pipe.fileHandleForReading
        // The first line, read off the cooperative pool (the read blocks).
        let line = await Task.detached { () -> String in
            var bytes: [UInt8] = []
            while bytes.last != UInt8(ascii: "\n") {
                let chunk = reader.readData(ofLength: 1)
                if chunk.isEmpty { break }
                bytes += chunk
            }
            return String(decoding: bytes, as: UTF8.self)
        }.value
        let prefix = "listening on 127.0.0.1:"
        guard line.hasPrefix(prefix), let port = Int(line.dropFirst(prefix.count).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "unexpected first line: \(line)"])
        }
        return Launched(process: process, port: port)
    }

    @Test func printsItsPortServesAndKeepsJobsAcrossARestart() async throws {
        let binary = try #require(builtProduct("bacalhau-emulator"))
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("emulator-bin-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let body = #"{"Job":{"Name":"kept","Type":"batch","Count":1,"Tasks":[{"Name":"main","Engine":{"Type":"noop"}}]}}"#

        let first = try await Self.launch(binary, ["--port", "0", "--state", state, "--rate-limit", "0"])
        let put = try await raw("PUT", "http://127.0.0.1:\(first.port)/api/v1/orchestrator/jobs", body: body)
        #expect(put.status == 200)
        let id = put.json?["JobID"]?.stringValue
        first.terminate()
        #expect(first.process.terminationReason == .exit)  // SIGTERM ends it cleanly

        let second = try await Self.launch(binary, ["--port", "0", "--state", state])
        defer { second.terminate() }
        let job = try await raw("GET", "http://127.0.0.1:\(second.port)/api/v1/orchestrator/jobs/kept")
        #expect(job.status == 200)
        #expect(job.json?["Job"]?["ID"]?.stringValue == id)
        let again = try await raw("PUT", "http://127.0.0.1:\(second.port)/api/v1/orchestrator/jobs", body: body)
        #expect(again.status == 500)
        #expect(again.json?["Message"]?.stringValue?.contains("no changes detected") == true)
    }

    @Test func badArgumentsExitWithUsage() throws {
        let binary = try #require(builtProduct("bacalhau-emulator"))
        for (arguments, expected) in [(["--fail-rate", "7"], Int32(2)), (["--help"], Int32(0))] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == expected, "\(arguments)")
        }
    }
}
