import Foundation
import Testing

/// Runs the built `hypha` binary (built by `swift build --product hypha`, which the README's
/// test command does first; `HYPHA_BIN` overrides the path).
enum CLI {
    static let packageRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }()

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["HYPHA_BIN"] { return path }
        let testBundle = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        let beside = testBundle.appendingPathComponent("hypha").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return packageRoot.appendingPathComponent(".build/debug/hypha").path
    }

    static var python: String {
        if let p = ProcessInfo.processInfo.environment["HYPHA_PYTHON"] { return p }
        let venv = packageRoot.appendingPathComponent(".venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/env"
    }

    /// `arguments` for `python` (with `/usr/bin/env`, `python3` first).
    static func pythonArguments(_ arguments: [String]) -> [String] {
        python.hasSuffix("env") ? ["python3"] + arguments : arguments
    }

    /// Runs a Python script or `-c` program with `python`.
    static func runPython(_ arguments: [String], timeout: Double = 120) throws -> Result {
        try spawn(python, pythonArguments(arguments), timeout: timeout)
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs hypha with `arguments`, waiting at most `timeout` seconds.
    @discardableResult
    static func run(_ arguments: [String], cwd: String? = nil, timeout: Double = 120,
                    environment: [String: String]? = nil, onStart: ((Process) -> Void)? = nil) throws -> Result {
        try spawn(binary, arguments, cwd: cwd, timeout: timeout, environment: environment, onStart: onStart)
    }

    /// Runs `program`; `environment` replaces the test's own when given.
    static func spawn(_ program: String, _ arguments: [String], cwd: String? = nil, timeout: Double = 120,
                      environment: [String: String]? = nil, onStart: ((Process) -> Void)? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        onStart?(process)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            Issue.record("\(program) \(arguments) timed out after \(timeout) s")
        }
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// A fresh temporary folder.
    static func temporaryFolder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func shipped(_ relative: String) -> String { packageRoot.appendingPathComponent(relative).path }

    /// Makes `count` zips of CSV data (scripts/make_sample_zips.py).
    static func makeZips(in folder: String, count: Int, tricky: Bool = true) throws {
        var args = [shipped("scripts/make_sample_zips.py"), folder, "--count", "\(count)"]
        if tricky { args.append("--tricky-names") }
        let r = try CLI.runPython(args)
        #expect(r.status == 0, "make_sample_zips failed: \(r.stderr)")
    }
}
