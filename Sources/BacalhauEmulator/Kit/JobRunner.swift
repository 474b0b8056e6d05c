import Foundation
import Subprocess
import Synchronization
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// The emulator's compute node: runs `process` jobs (Params `Name` and `Arguments`, like
/// Bacalhau's process-executor branch, plus `WorkingDirectory`) as local processes and
/// `noop` jobs instantly; jobs for any other engine find no node (API.md §5).
final class JobRunner: Sendable {
    static let nodeID = "n-emulator-0"
    /// Bacalhau keeps at most this much of stdout and stderr in RunOutput.
    static let maxOutput = 2048

    let store: EmulatorStore
    let configuration: EmulatorConfiguration
    private let slots: Slots
    private let tasks = Mutex<[String: [Int: Task<Void, Never>]]>([:])
    private let serial = Mutex(0)
    let logDirectory: String

    init(store: EmulatorStore, configuration: EmulatorConfiguration) {
        self.store = store
        self.configuration = configuration
        slots = Slots(configuration.slots)
        logDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("bacalhau-emulator-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    }

    /// Starts (in the background) whatever version `version` of the job needs.
    func schedule(jobID: String, version: Int64) {
        let number = serial.withLock { n in
            n += 1
            return n
        }
        let task = Task { [self] in
            await self.run(jobID: jobID, version: version)
            _ = self.tasks.withLock { $0[jobID]?.removeValue(forKey: number) }
        }
        tasks.withLock { $0[jobID, default: [:]][number] = task }
    }

    /// Cancels the job's running work (a stop or an update); its processes are torn down.
    func cancel(jobID: String) {
        let running = tasks.withLock { $0.removeValue(forKey: jobID) } ?? [:]
        for task in running.values { task.cancel() }
    }

    func cancelAll() {
        let all = tasks.withLock { t in
            let values = t.values.flatMap(\.values)
            t.removeAll()
            return values
        }
        for task in all { task.cancel() }
    }

    private func run(jobID: String, version: Int64) async {
        guard let job = await store.job(jobID), job.version == version, !job.isTerminal, let task = job.task else { return }
        let engine = task["Engine"]?["Type"]?.string ?? ""
        let count = job.spec["Count"]?.int ?? 1
        if count <= 0 {
            await store.completeEmpty(jobID: jobID, version: version)
            return
        }
        switch engine {
        case "noop":
            for _ in 0..<count {
                guard let execution = await store.beginExecution(jobID: jobID, version: version, nodeID: Self.nodeID)
                else { return }
                await finish(jobID, execution.id, .exited(code: 0, stdout: "", stderr: "", stdoutTruncated: false,
                                                          stderrTruncated: false))
            }
        case "process":
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<count {
                    group.addTask { await self.runProcess(jobID: jobID, version: version, task: task) }
                }
            }
        default:
            let queueTimeout = task["Timeouts"]?["QueueTimeout"]?.int ?? 0
            if queueTimeout > 0 {
                await store.markQueued(jobID: jobID, version: version, engine: engine)
                try? await Task.sleep(for: .seconds(queueTimeout))
                if Task.isCancelled { return }
            }
            await store.failUnschedulable(jobID: jobID, version: version, engine: engine, count: count)
        }
    }

    private func finish(_ jobID: String, _ executionID: String, _ outcome: EmulatorStore.ExecutionOutcome) async {
        await store.finishExecution(jobID: jobID, executionID: executionID, outcome: outcome,
                                    nonZeroExit: configuration.nonZeroExit, publisherHost: configuration.host)
    }

    private func runProcess(jobID: String, version: Int64, task: JSON) async {
        await slots.acquire()
        defer { Task { await slots.release() } }
        guard !Task.isCancelled,
              let execution = await store.beginExecution(jobID: jobID, version: version, nodeID: Self.nodeID)
        else { return }
        let outcome = await ProcessExecution.run(task: task, logPrefix: logDirectory + "/" + execution.id)
        if Task.isCancelled { return }  // stopped or updated: the store already cancelled the execution
        await finish(jobID, execution.id, outcome)
    }
}

/// A counting semaphore for the process slots.
private actor Slots {
    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = max(1, count) }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            free += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}

/// Runs one `process` task with Subprocess: never through a shell, output to files,
/// `ExecutionTimeout` enforced, torn down (SIGTERM, then SIGKILL) when cancelled.
enum ProcessExecution {
    static func run(task: JSON, logPrefix: String) async -> EmulatorStore.ExecutionOutcome {
        let params = task["Engine"]?["Params"]
        guard let program = params?["Name"]?.string, !program.isEmpty else {
            return .failed("process executor: Params.Name (the program to run) is required")
        }
        var arguments: [String] = []
        for item in params?["Arguments"]?.array ?? [] {
            switch item {
            case .string(let s): arguments.append(s)
            case .int, .double, .bool: arguments.append(item.serialized())
            default: return .failed("process executor: Params.Arguments must be a list of strings")
            }
        }
        var updates: [Environment.Key: String?] = [:]
        let host = ProcessInfo.processInfo.environment
        for (name, value) in task["Env"]?.object ?? [] {
            guard let text = value.string, let key = Environment.Key(rawValue: name) else { continue }
            updates[key] = text.hasPrefix("env:") ? host[String(text.dropFirst(4))] : text
        }
        let timeout = task["Timeouts"]?["ExecutionTimeout"]?.int ?? 0
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .milliseconds(500))]
        let workingDirectory = params?["WorkingDirectory"]?.string.flatMap { $0.isEmpty ? nil : FilePath($0) }

        let stdoutPath = logPrefix + ".stdout", stderrPath = logPrefix + ".stderr"
        let folder = (logPrefix as NSString).deletingLastPathComponent
        let outFD: FileDescriptor, errFD: FileDescriptor
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            outFD = try FileDescriptor.open(FilePath(stdoutPath), .writeOnly, options: [.create, .truncate],
                                            permissions: [.ownerReadWrite])
            do {
                errFD = try FileDescriptor.open(FilePath(stderrPath), .writeOnly, options: [.create, .truncate],
                                                permissions: [.ownerReadWrite])
            } catch {
                try? outFD.close()
                throw error
            }
        } catch {
            return .failed("process executor: cannot open output files: \(error)")
        }
        defer {
            try? FileManager.default.removeItem(atPath: stdoutPath)
            try? FileManager.default.removeItem(atPath: stderrPath)
        }
        let configuration = Configuration(executable: executable, arguments: Arguments(arguments),
                                          environment: updates.isEmpty ? .inherit : .inherit.updating(updates),
                                          workingDirectory: workingDirectory, platformOptions: options)
        enum Ending: Sendable { case status(TerminationStatus), timedOut, failed(String) }
        let ending: Ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                do {
                    let result = try await Subprocess.run(
                        configuration, input: .none,
                        output: .fileDescriptor(outFD, closeAfterSpawningProcess: true),
                        error: .fileDescriptor(errFD, closeAfterSpawningProcess: true))
                    return .status(result.terminationStatus)
                } catch {
                    return .failed("process executor: cannot run '\(program)': \(error)")
                }
            }
            if timeout > 0 {
                group.addTask {
                    try? await Task.sleep(for: .seconds(timeout))
                    return Task.isCancelled ? nil : .timedOut
                }
            }
            var first: Ending?
            while let next = await group.next() {
                if let next {
                    first = next
                    break
                }
            }
            group.cancelAll()
            if case .timedOut? = first { _ = await group.next() }  // wait for the teardown
            return first ?? .failed("process executor: interrupted")
        }
        let (stdout, stdoutTruncated) = head(stdoutPath)
        let (stderr, stderrTruncated) = head(stderrPath)
        switch ending {
        case .status(.exited(let code)):
            return .exited(code: code, stdout: stdout, stderr: stderr, stdoutTruncated: stdoutTruncated,
                           stderrTruncated: stderrTruncated)
        case .status(.signaled(let signal)):
            return .failed("process killed by signal \(signal)")
        case .timedOut:
            return .timedOut(seconds: timeout, stdout: stdout, stderr: stderr)
        case .failed(let message):
            return .failed(message)
        }
    }

    /// The first `maxOutput` bytes of a file, and whether there was more.
    static func head(_ path: String) -> (String, Bool) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return ("", false) }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: JobRunner.maxOutput + 1)) ?? Data()
        let truncated = data.count > JobRunner.maxOutput
        return (String(decoding: data.prefix(JobRunner.maxOutput), as: UTF8.self), truncated)
    }
}
