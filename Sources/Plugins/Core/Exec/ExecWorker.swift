import Engine
import Foundation
import Logging
import Synchronization

/// What every copy of an `exec` node's program shares.
struct ExecSettings: Sendable {
    var nodeID: String
    /// As written in `command` (for messages); `executable` is where it was found.
    var program: String
    var executable: String
    var arguments: [String]
    var directory: String
    var environment: JobEnvironment
    var input: PortType
    /// Nil for `exec-sink`: answers are JSON lines and their records are dropped.
    var output: PortType?
    var timeout: Duration
    var backoff: RetryPolicy
    var logger: Logger
}

/// One copy of the program: started on its first message, restarted (after a backoff) on the
/// message after it died or timed out. `ExecNode` gives it one message at a time.
final class ExecWorker: Sendable {
    private struct State {
        var running: RunningProgram?
        /// Deaths and timeouts since the last good answer: the backoff before the next start.
        var failures = 0
    }

    let settings: ExecSettings
    let copy: Int
    private let state = Mutex(State())

    init(settings: ExecSettings, copy: Int) {
        self.settings = settings
        self.copy = copy
    }

    /// Sends one message (already framed) and returns what the answer emits.
    func handle(_ message: Data) async throws -> [Payload] {
        let program = try await running()
        program.send(message)
        switch await program.answers.next(timeout: settings.timeout) {
        case .frame(let frame):
            state.withLock { $0.failures = 0 }
            return try decode(frame)
        case .closed(let why):
            forget(program, failed: true)
            throw MessageFailure("exec '\(settings.program)' \(why) while handling this message; it is restarted for the next one")
        case .timedOut:
            program.kill()
            forget(program, failed: true)
            throw MessageFailure("exec '\(settings.program)' did not answer within \(settings.timeout.inSeconds) s (timeout); it was killed and is restarted for the next message")
        case .cancelled:
            program.kill()
            forget(program, failed: false)
            throw MessageFailure("exec '\(settings.program)' was stopped because hypha is shutting down", interrupted: true)
        }
    }

    /// Closes the program's stdin and waits for it to exit (killing it after 5 s).
    func stop() async {
        guard let program = state.withLock({ s -> RunningProgram? in defer { s.running = nil }; return s.running }) else { return }
        program.closeInput()
        let deadline = ContinuousClock.now + .seconds(5)
        while program.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if program.isRunning { program.kill() }
    }

    private func forget(_ program: RunningProgram, failed: Bool) {
        state.withLock { s in
            if s.running === program { s.running = nil }
            if failed { s.failures += 1 }
        }
    }

    private func running() async throws -> RunningProgram {
        let (current, failures) = state.withLock { ($0.running, $0.failures) }
        if let current { return current }
        if failures > 0 {
            let delay = settings.backoff.delay(beforeRetry: failures)
            settings.logger.notice("exec '\(settings.program)' (copy \(copy)) restarts in \(String(format: "%.2f", delay)) s")
            try await Task.sleep(for: .seconds(delay))
        }
        let program: RunningProgram
        do {
            program = try RunningProgram(settings: settings, copy: copy)
        } catch {
            state.withLock { $0.failures += 1 }
            throw MessageFailure("exec '\(settings.program)' could not be started: \(error)")
        }
        state.withLock { $0.running = program }
        return program
    }

    /// An answer: for records a JSON line, for Arrow a frame's body.
    private func decode(_ frame: Data) throws -> [Payload] {
        if settings.output == .arrow {
            if frame.isEmpty { return [] }
            if frame.first == UInt8(ascii: "{") { throw failure(fromJSON: frame) }
            do {
                let data = ArrowData(bytes: frame)
                return [.arrow(ArrowData(bytes: frame, table: try data.table()))]
            } catch {
                throw MessageFailure("exec '\(settings.program)' answered with bytes that are not an Arrow IPC stream: \(error)")
            }
        }
        let value: Value
        do {
            value = try Value(json: frame)
        } catch {
            throw MessageFailure("exec '\(settings.program)' answered a line that is not JSON: \(excerpt(frame))")
        }
        switch value {
        case .list(let items):
            if settings.output == nil { return [] }
            return try items.map { item in
                guard case .map(let record) = item else {
                    throw MessageFailure("exec '\(settings.program)' answered an array holding a non-object: \(excerpt(frame))")
                }
                return .record(record)
            }
        case .map:
            throw failure(fromJSON: frame)
        default:
            throw MessageFailure("exec '\(settings.program)' answered neither a JSON array of records nor {\"error\": ...}: \(excerpt(frame))")
        }
    }

    private func failure(fromJSON frame: Data) -> MessageFailure {
        if case .map(let object)? = try? Value(json: frame), let error = object["error"] {
            let text = if case .string(let s) = error { s } else { error.json }
            return MessageFailure("exec '\(settings.program)': \(text)")
        }
        return MessageFailure("exec '\(settings.program)' answered an object that is not {\"error\": ...}: \(excerpt(frame))")
    }

    private func excerpt(_ frame: Data) -> String {
        let text = String(decoding: frame.prefix(200), as: UTF8.self)
        return frame.count > 200 ? text + "..." : text
    }
}

/// A started program: its stdin (written on a serial queue, so a program that stops reading
/// blocks no task: the timeout kills it), a thread reading answers off its stdout into
/// `answers`, and one copying its stderr lines into the node's log.
final class RunningProgram: Sendable {
    private let process: ChildProcess
    private let stdin: FileHandle
    private let stdinFD: Int32
    private let writes: DispatchQueue
    /// Writes waiting on `writes`: while any is, later ones queue behind it (in order).
    private let writesQueued = WriteCounter()
    let answers = Mailbox()

    init(settings: ExecSettings, copy: Int) throws {
        // A program that exits between messages must show as a failed write (EPIPE), not end Hypha.
        signal(SIGPIPE, SIG_IGN)
        // Started as local jobs are (ProcessLauncher: no shell, its own session, no inherited
        // descriptors), with pipes for its three streams.
        let stdinPipe = try ProcessLauncher.pipe(), stdoutPipe = try ProcessLauncher.pipe(), stderrPipe = try ProcessLauncher.pipe()
        let pid: pid_t
        do {
            pid = try ProcessLauncher.spawn(program: settings.executable, arguments: settings.arguments,
                                            environment: settings.environment, adding: [:], workingDirectory: settings.directory,
                                            stdin: stdinPipe.read, stdout: stdoutPipe.write, stderr: stderrPipe.write)
        } catch {
            for fd in [stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write, stderrPipe.read, stderrPipe.write] { close(fd) }
            throw error
        }
        for fd in [stdinPipe.read, stdoutPipe.write, stderrPipe.write] { close(fd) }
        self.process = ChildProcess(pid: pid)
        stdin = FileHandle(fileDescriptor: stdinPipe.write, closeOnDealloc: true)
        stdinFD = stdinPipe.write
        _ = fcntl(stdinFD, F_SETFL, fcntl(stdinFD, F_GETFL) | O_NONBLOCK)
        writes = DispatchQueue(label: "hypha.exec.\(settings.nodeID).\(copy).stdin")

        let answers = answers, box = self.process
        let stdoutFD = stdoutPipe.read
        let framed = settings.output == .arrow
        Thread.detachNewThread {
            var splitter = FrameSplitter(lengthPrefixed: framed)
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                for frame in splitter.add(buffer[0..<n]) { answers.put(frame) }
            }
            close(stdoutFD)
            let why: String = switch box.waitForExit() {
            case .signaled(let signal): "(pid \(pid)) was killed by signal \(signal)"
            case .exited(let code): "(pid \(pid)) exited with status \(code)"
            }
            answers.close(why)
        }
        let tick = min(max(settings.timeout / 10, .milliseconds(1)), .milliseconds(100))
        Task.detached { await answers.watch(tick: tick) }
        let logger = settings.logger, program = settings.program
        let stderrFD = stderrPipe.read
        Thread.detachNewThread {
            var splitter = FrameSplitter(lengthPrefixed: false)
            var buffer = [UInt8](repeating: 0, count: 1 << 14)
            let fd = stderrFD
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                for line in splitter.add(buffer[0..<n]) {
                    logger.notice("\(program) (copy \(copy)): \(String(decoding: line, as: UTF8.self))")
                }
            }
            close(fd)
        }
    }

    var isRunning: Bool { process.isRunning }

    /// Writes one message; a dead program's broken pipe shows as the end of its stdout.
    func send(_ message: Data) {
        // Straight into the pipe when it has room (the usual case: one message in flight);
        // what doesn't fit goes on the queue, which blocks no task.
        let fd = stdinFD, queued = writesQueued
        var written = 0
        if queued.count.load(ordering: .acquiring) == 0 {
            written = message.withUnsafeBytes { Self.write($0, to: fd) }
        }
        guard written < message.count else { return }
        let rest = message.dropFirst(written)
        queued.count.add(1, ordering: .releasing)
        writes.async {
            // Blocking again for the rest: the program reads, or the timeout kills it.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            _ = rest.withUnsafeBytes { Self.write($0, to: fd) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            queued.count.subtract(1, ordering: .releasing)
        }
    }

    /// Writes as much of `bytes` as `fd` takes (all of it when blocking); how much was written.
    static func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32) -> Int {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress.map { $0 + done }, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            done += n
        }
        return done
    }

    func closeInput() {
        let stdin = stdin
        writes.async { try? stdin.close() }
    }

    func kill() {
        process.kill()
        closeInput()
    }
}

final class WriteCounter: Sendable {
    let count = Atomic<Int>(0)
}

/// A started program: its pid, reaped by the thread that read its stdout to the end.
final class ChildProcess: Sendable {
    let pid: pid_t
    private let exited = Atomic<Bool>(false)

    init(pid: pid_t) { self.pid = pid }

    var isRunning: Bool { !exited.load(ordering: .acquiring) }

    /// Waits for the program to end and reaps it (called once).
    func waitForExit() -> ProcessLauncher.Exit {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exited.store(true, ordering: .releasing)
        return ProcessLauncher.Exit(status: status)
    }

    /// SIGKILL while it has not been reaped (its pid cannot have been reused yet).
    func kill() {
        if isRunning { _ = Glibc.kill(pid, SIGKILL) }
    }
}

/// Splits a byte stream into JSON lines or into frames of a 4-byte little-endian length and
/// that many bytes.
struct FrameSplitter {
    let lengthPrefixed: Bool
    private var pending: [UInt8] = []

    init(lengthPrefixed: Bool) { self.lengthPrefixed = lengthPrefixed }

    mutating func add(_ bytes: ArraySlice<UInt8>) -> [Data] {
        pending.append(contentsOf: bytes)
        var frames: [Data] = []
        var start = 0
        if lengthPrefixed {
            while pending.count - start >= 4 {
                let length = Int(pending[start]) | Int(pending[start + 1]) << 8 | Int(pending[start + 2]) << 16 | Int(pending[start + 3]) << 24
                guard pending.count - start - 4 >= length else { break }
                frames.append(Data(pending[(start + 4)..<(start + 4 + length)]))
                start += 4 + length
            }
        } else {
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start && pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                if end > start { frames.append(Data(pending[start..<end])) }
                start = newline + 1
            }
        }
        if start > 0 { pending.removeFirst(start) }
        return frames
    }
}

/// Answers from a program's stdout, waited for one at a time with a timeout.
final class Mailbox: Sendable {
    enum Answer: Sendable {
        case frame(Data)
        case closed(String)
        case timedOut
        case cancelled
    }

    private struct State {
        var frames: [Data] = []
        var closed: String?
        var waiter: (id: Int, deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Answer, Never>)?
        var nextID = 0
        /// A wait that ended (timer or cancellation) before its continuation was installed.
        var expired: (id: Int, answer: Answer)?
    }

    private let state = Mutex(State())

    func put(_ frame: Data) {
        let waiter = state.withLock { s -> CheckedContinuation<Answer, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w.continuation
            }
            s.frames.append(frame)
            return nil
        }
        waiter?.resume(returning: .frame(frame))
    }

    func close(_ why: String) {
        let waiter = state.withLock { s -> CheckedContinuation<Answer, Never>? in
            s.closed = why
            defer { s.waiter = nil }
            return s.waiter?.continuation
        }
        waiter?.resume(returning: .closed(why))
    }

    private func expire(_ id: Int, _ answer: Answer) {
        let waiter = state.withLock { s -> CheckedContinuation<Answer, Never>? in
            if let w = s.waiter, w.id == id {
                s.waiter = nil
                return w.continuation
            }
            s.expired = (id, answer)
            return nil
        }
        waiter?.resume(returning: answer)
    }

    /// The next answer, or `.timedOut` once `timeout` has passed without one (as seen by `watch`).
    func next(timeout: Duration) async -> Answer {
        let deadline = ContinuousClock.now + timeout
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Answer, Never>) in
                let ready = state.withLock { s -> Answer? in
                    if !s.frames.isEmpty { return .frame(s.frames.removeFirst()) }
                    if let closed = s.closed { return .closed(closed) }
                    if let expired = s.expired, expired.id == id { return expired.answer }
                    s.waiter = (id, deadline, continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            expire(id, .cancelled)
        }
    }

    /// Times out the answer waited for once its deadline has passed, checking every `tick`,
    /// until the program's stdout ends: one timer per program rather than one per message.
    func watch(tick: Duration) async {
        while true {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let (late, done) = state.withLock { s -> (CheckedContinuation<Answer, Never>?, Bool) in
                if let w = s.waiter, w.deadline <= now {
                    s.waiter = nil
                    return (w.continuation, s.closed != nil)
                }
                return (nil, s.closed != nil)
            }
            late?.resume(returning: .timedOut)
            if done { return }
        }
    }
}
