import BacalhauEmulatorKit
import Engine
import Foundation
import Logging
import Bacalhau
import Synchronization
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Runs `body` against an in-process emulator, stopped afterwards.
func withEmulator<T>(_ configure: (inout EmulatorConfiguration) -> Void = { _ in },
                     _ body: (RunningEmulator) async throws -> T) async throws -> T
{
    var configuration = EmulatorConfiguration()
    configuration.port = 0
    configuration.rateLimit = 0
    configure(&configuration)
    let running = try await BacalhauEmulator.start(configuration)
    do {
        let result = try await body(running)
        await running.stop()
        return result
    } catch {
        await running.stop()
        throw error
    }
}

/// A fast retry policy for tests (same shape as the default, shorter waits).
let fastRetry = RetryPolicy(maxAttempts: 30, initialDelay: 0.002, maxDelay: 0.02)

func client(_ running: RunningEmulator, credentials: BacalhauCredentials = .none, retry: RetryPolicy = fastRetry,
            namespace: String? = nil) throws -> BacalhauClient
{
    let (endpoint, _) = try BacalhauEndpoint.parse(running.endpoint)
    return BacalhauClient(endpoint: endpoint, credentials: credentials, namespace: namespace, retry: retry,
                          requestTimeout: 10)
}

// MARK: - Raw HTTP

struct RawReply {
    var status: Int
    var body: Data
    var headers: [String: String]
    var json: Value? { try? Value(json: body) }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// One request with URLSession, no client logic in between.
func raw(_ method: String, _ url: String, body: String? = nil, contentType: String? = "application/json",
         headers: [String: String] = [:]) async throws -> RawReply
{
    guard let target = URL(string: url) else { throw URLError(.badURL) }
    var request = URLRequest(url: target)
    request.httpMethod = method
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    if let body {
        request.httpBody = Data(body.utf8)
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
    }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as? HTTPURLResponse
    var fields: [String: String] = [:]
    for (key, value) in http?.allHeaderFields ?? [:] {
        if let key = key as? String, let value = value as? String { fields[key.lowercased()] = value }
    }
    return RawReply(status: http?.statusCode ?? 0, body: data, headers: fields)
}

// MARK: - Specs and plugin nodes

/// A batch job whose one task runs `program arguments...` with the process engine.
func processSpec(name: String?, program: String, _ arguments: [String] = [], extra: [(String, Value)] = [],
                 task: [(String, Value)] = []) -> Record
{
    var spec = Record()
    if let name { spec["Name"] = .string(name) }
    spec["Type"] = "batch"
    spec["Count"] = 1
    var taskRecord = Record([
        ("Name", "main"),
        ("Engine", .map(Record([("Type", "process"),
                                ("Params", .map(Record([("Name", .string(program)),
                                                        ("Arguments", .list(arguments.map(Value.string)))])))]))),
    ])
    for (key, value) in task { taskRecord[key] = value }
    spec["Tasks"] = .list([.map(taskRecord)])
    for (key, value) in extra { spec[key] = value }
    return spec
}

func noopSpec(name: String) -> Record {
    Record([("Name", .string(name)), ("Type", "batch"), ("Count", 1),
            ("Tasks", [.map(Record([("Name", "main"), ("Engine", .map(Record([("Type", "noop")])))]))])])
}

let testWorkflow = WorkflowInfo(name: "wf-test", file: "/tmp/wf-test.yml", directory: "/tmp", jobstore: nil, vars: Record())

/// A bacalhau node's configuration, checked and filled in as the loader does it.
func node(_ options: [String: Value], id: String = "cluster") throws -> NodeConfig {
    try WorkflowLoader(registry: PluginRegistry()).nodeConfig(BacalhauPlugin.self, id: id, options: options, workflow: testWorkflow)
}

/// Collects log lines (message and metadata) so tests can check what was logged.
final class LogSink: Sendable {
    let lines = Mutex<[String]>([])
    var all: String { lines.withLock { $0.joined(separator: "\n") } }

    var logger: Logger {
        Logger(label: "test") { _ in SinkHandler(sink: self) }
    }

    struct SinkHandler: LogHandler {
        let sink: LogSink
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            for (key, value) in event.metadata ?? [:] { merged[key] = value }
            let line = "\(event.level) \(event.message) \(merged.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "))"
            sink.lines.withLock { $0.append(line) }
        }
    }
}

func context(runID: String = "run-1", logger: Logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    -> RunContext
{
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-bac-\(UUID().uuidString)").path
    return RunContext(runID: runID, runDirectory: directory, logger: logger)
}

/// Makes a plugin for an emulator.
func plugin(_ running: RunningEmulator, options: [String: Value] = [:], environment: [String: String] = [:],
            runID: String = "run-1", logger: Logger? = nil, retry: RetryPolicy = fastRetry) throws -> BacalhauPlugin
{
    var all: [String: Value] = ["endpoint": .string(running.endpoint), "poll_interval": 0.02]
    for (key, value) in options { all[key] = value }
    let ctx = logger.map { context(runID: runID, logger: $0) } ?? context(runID: runID)
    return try BacalhauPlugin(node: try node(all), context: ctx, environment: environment, retry: retry)
}

/// Runs one job through a plugin; returns what it emitted.
func runJob(_ plugin: BacalhauPlugin, _ job: Job) async throws -> [JobResult] {
    let emitted = Mutex<[JobResult]>([])
    let output = Output { payload in
        if case .result(let result) = payload { emitted.withLock { $0.append(result) } }
    }
    try await plugin.process(job, output)
    return emitted.withLock { $0 }
}

func job(_ spec: Record, name: String? = nil, input: Record = Record([("name", "input.zip")])) -> Job {
    Job(name: name ?? spec["Name"]?.stringValue ?? "", spec: spec, renderedBy: "spec-node", input: input)
}

/// Finds a built product (the emulator or hypha) beside the test bundle.
func builtProduct(_ name: String) -> String? {
    let bundle = Bundle.main.bundleURL
    var candidates = [bundle.deletingLastPathComponent().appendingPathComponent(name),
                      bundle.appendingPathComponent(name)]
    for argument in CommandLine.arguments.prefix(1) {
        candidates.append(URL(fileURLWithPath: argument).deletingLastPathComponent().appendingPathComponent(name))
    }
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    for _ in 0..<3 { dir = dir.deletingLastPathComponent() }
    for scratch in [".build-bac", ".build"] {
        candidates.append(dir.appendingPathComponent("\(scratch)/debug/\(name)"))
    }
    return candidates.map(\.path).first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// The repository root (for workflows/, scripts/).
var repositoryRoot: URL {
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    for _ in 0..<3 { dir = dir.deletingLastPathComponent() }
    return dir
}
