import Engine
import Foundation
import Logging
import Glibc

/// `process` (job → result): the local raw-process executor.
///
/// Runs a job's single task whose `Engine.Type` is `process`: `Params.Name` is the program
/// (looked up on PATH), `Params.Arguments` its argument list, `Params.WorkingDirectory` an
/// optional working folder. The job's environment is `JobEnvironment`'s short allowlist, the
/// names in `env_passthrough` and `Task.Env`: never the rest of Hypha's. Never through a
/// shell. `Timeouts.ExecutionTimeout` ends the process group (SIGTERM, then SIGKILL after
/// `grace_period`). Output goes where `JobLogs` says, each file made when the job first
/// writes to it.
///
/// A job that exits 0 emits a `result` (state `Completed`) with `ExecutorResult`'s fields and
/// `record` (the record that produced the job). Any other end fails the message with the reason.
public struct ProcessPlugin: ProcessorPlugin {
    static let maxParallel = NodeOption.int("max_parallel", default: ProcessInfo.processInfo.activeProcessorCount, atLeast: 1,
                                        help: "how many jobs run at once (default: the number of cores)")
    static let gracePeriod = NodeOption.duration("grace_period", default: .seconds(5),
                                             help: "time between SIGTERM and SIGKILL when a job is stopped")
    static let tailBytes = NodeOption.int("tail_bytes", default: 4096, atLeast: 0,
                                      help: "how much of the end of stdout and stderr the result carries")
    static let workingDirectory = OptionalNodeOption.path("working_directory",
                                                      help: "default working folder for jobs that don't set Params.WorkingDirectory")
    static let envPassthrough = NodeOption.strings("env_passthrough", default: [],
                                               help: "names of Hypha's environment variables jobs also get (besides "
                                                   + JobEnvironment.allowlist.joined(separator: ", ") + ")")

    public static let spec = PluginSpec(
        name: "process",
        summary: "Runs jobs whose engine is 'process' as local processes (never through a shell).",
        output: .result, options: [maxParallel, gracePeriod, tailBytes, workingDirectory, envPassthrough],
        outputSchema: ExecutorResult.schema())

    public let concurrency: Int
    let grace: Duration
    let tailBytes: Int
    let defaultWorkingDirectory: String?
    let logs: JobLogs
    let locator = ProgramLocator()
    let environment: JobEnvironment
    let logger: Logger
    let nodeID: String
    let state: (any StateStore)?
    let jobGuard: (any JobGuard)?

    public init(node: NodeConfig, context: RunContext) throws {
        concurrency = node[Self.maxParallel]
        grace = node[Self.gracePeriod]
        tailBytes = node[Self.tailBytes]
        defaultWorkingDirectory = node[Self.workingDirectory]
        environment = JobEnvironment(passthrough: node[Self.envPassthrough], marker: context.jobGuard?.environmentKey)
        logs = try JobLogs(runDirectory: context.runDirectory)
        logger = context.logger
        nodeID = node.id
        state = context.state
        jobGuard = context.jobGuard
    }

    public func process(_ job: Job, _ output: Output) async throws {
        let task = try ProcessTask(job: job)
        let workingDirectory = task.workingDirectory ?? defaultWorkingDirectory
        guard let program = locator.locate(task.program, workingDirectory: workingDirectory) else {
            throw MessageFailure("job '\(job.name)': program '\(task.program)' was not found on PATH or is not executable")
        }
        let paths = logs.paths(for: job.name)

        logger.debug("starting job", metadata: ["job": "\(job.name)", "program": "\(program)"])
        let piped = ChildReaper.shared != nil
        let stdout: JobOutput, stderr: JobOutput
        do {
            stdout = try JobOutput(path: paths.stdout, tailBytes: tailBytes, piped: piped)
            stderr = try JobOutput(path: paths.stderr, tailBytes: tailBytes, piped: piped)
        } catch {
            throw MessageFailure("job '\(job.name)': \(error.description)")
        }
        let started = ContinuousClock.now
        let pid: pid_t
        do {
            pid = try ProcessLauncher.spawn(program: program, arguments: task.arguments, environment: environment, adding: task.environment,
                                            workingDirectory: workingDirectory, stdout: stdout.childEnd,
                                            stderr: stderr.childEnd)
        } catch {
            throw MessageFailure("job '\(job.name)': \(error.description)")
        }
        stdout.jobStarted()
        stderr.jobStarted()
        // The job leads its own process group (pgid = pid): the guard ends it if Hypha dies.
        jobGuard?.started(processGroup: pid)
        try? await state?.jobStarted(node: nodeID, name: job.name, pid: pid, remoteID: nil)
        let outcome = await wait(for: pid, timeout: task.executionTimeout, outputs: [stdout, stderr])
        jobGuard?.ended(processGroup: pid)
        let elapsed = started.duration(to: .now)
        let (stdoutLog, stdoutTail, stdoutProblem) = stdout.result()
        let (stderrLog, stderrTail, stderrProblem) = stderr.result()
        for problem in [stdoutProblem, stderrProblem].compactMap({ $0 }) { logger.warning("job \(job.name): \(problem)") }

        let result = ExecutorResult(id: job.name, executor: Self.spec.name, exitCode: outcome.exitCode.map { Int64($0) },
                                    duration: elapsed, stdout: stdoutTail, stderr: stderrTail,
                                    stdoutPath: stdoutLog, stderrPath: stderrLog)
        let stderrNote = " (log: \(stderrLog ?? "none, nothing was written to stderr"))"
        let logFiles = [stdoutLog, stderrLog].compactMap { $0 }
        let excerpt = ExecutorResult.excerpt(stderrTail)
        switch outcome {
        case .exited(0):
            logger.info("job \(job.name) completed in \(String(format: "%.3f", elapsed.inSeconds)) s")
            try await output.emit(.result(JobResult(job: job, state: .completed, details: result.details())))
        case .exited(let code):
            throw MessageFailure("job '\(job.name)' failed with exit code \(code)" + excerpt + stderrNote, logs: logFiles)
        case .signaled(let signal):
            throw MessageFailure("job '\(job.name)' was killed by signal \(signal)" + excerpt + stderrNote, logs: logFiles)
        case .timedOut(let limit):
            throw MessageFailure("job '\(job.name)' passed its ExecutionTimeout of \(limit) s and was stopped" + stderrNote,
                                 logs: logFiles)
        case .interrupted:
            throw MessageFailure("job '\(job.name)' was stopped because hypha is shutting down", logs: logFiles, interrupted: true)
        }
    }

    enum Outcome {
        case exited(Int32)
        case signaled(Int32)
        case timedOut(Double)
        case interrupted

        var exitCode: Int32? {
            if case .exited(let code) = self { return code }
            return nil
        }
    }

    /// Waits for the job's process, its output copied into `outputs`; its `ExecutionTimeout`
    /// (seconds) stops it.
    func wait(for pid: pid_t, timeout: Double?, outputs: [JobOutput]) async -> Outcome {
        let grace = self.grace
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                switch await ProcessLauncher.wait(for: pid, grace: grace, outputs: outputs) {
                case .exited(let code): return Task.isCancelled ? nil : .exited(code)
                case .signaled(let signal): return Task.isCancelled ? nil : .signaled(signal)
                }
            }
            if let limit = timeout {
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(Int64(limit * 1000)))
                    return Task.isCancelled ? nil : .timedOut(limit)
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()  // a timeout stops the process (SIGTERM, then SIGKILL); wait for it
            while await group.next() != nil {}
            return first ?? .interrupted
        }
    }
}
