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
    /// Messages one copy is sent before its first answer (`pipeline`).
    var pipeline: Int
    /// The longest answer line (or Arrow frame) taken from the program (`max_line`).
    var maxLine: Int
    var backoff: RetryPolicy
    var logger: Logger
}

/// One copy of the program: started on its first message, restarted (after a backoff) on the
/// message after it died or timed out. `ExecNode` gives it up to `pipeline` messages at once.
final class ExecWorker: Sendable {
    private struct State {
        var running: RunningProgram?
        /// The start under way, which messages arriving meanwhile wait for.
        var starting: Task<RunningProgram, any Error>?
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

    /// Sends one message (already framed) and returns what the answer emits. Up to the node's
    /// `pipeline` messages may be in flight on one copy: answers come back in the order sent.
    func handle(_ message: Data) async throws -> [Payload] {
        let program = try await running()
        let ticket = await program.submit(message, timeout: settings.timeout)
        switch await program.answers.answer(ticket) {
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

    /// The program is done for (it died, timed out or was stopped): the next message starts
    /// another. Counted once per program, however many messages it was handling.
    private func forget(_ program: RunningProgram, failed: Bool) {
        state.withLock { s in
            guard s.running === program else { return }
            s.running = nil
            if failed { s.failures += 1 }
        }
    }

    /// The running program, started (after the backoff, when it failed before) if there is
    /// none; messages arriving meanwhile wait for the same start.
    private func running() async throws -> RunningProgram {
        let start = state.withLock { s -> Task<RunningProgram, any Error>? in
            if s.running != nil { return nil }
            if let starting = s.starting { return starting }
            let failures = s.failures
            let task = Task { [settings, copy] () throws -> RunningProgram in
                if failures > 0 {
                    let delay = settings.backoff.delay(beforeRetry: failures)
                    settings.logger.notice("exec '\(settings.program)' (copy \(copy)) restarts in \(String(format: "%.2f", delay)) s")
                    try await Task.sleep(for: .seconds(delay))
                }
                do {
                    return try RunningProgram(settings: settings, copy: copy)
                } catch {
                    throw MessageFailure("exec '\(settings.program)' could not be started: \(error)")
                }
            }
            s.starting = task
            return task
        }
        guard let start else {
            if let current = state.withLock({ $0.running }) { return current }
            return try await running()
        }
        do {
            let program = try await start.value
            state.withLock { s in
                if s.starting == start {
                    s.running = program
                    s.starting = nil
                }
            }
            return program
        } catch {
            state.withLock { s in
                if s.starting == start {
                    s.failures += 1
                    s.starting = nil
                }
            }
            throw error
        }
    }

    /// An answer: for records a JSON line, for Arrow a frame's body.
    private func decode(_ frame: Data) throws -> [Payload] {
        if settings.output == .arrow {
            if frame.isEmpty { return [] }
            if frame.first == UInt8(ascii: "{") { throw failure(fromJSON: frame) }
            do {
                let data = ArrowData(bytes: frame)
                _ = try data.table()  // parsed (and kept) here, so a bad answer fails this message
                return [.arrow(data)]
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

/// A started program: its stdin (see `Outbox`), a thread reading answers off its stdout into
/// `answers`, and one copying its stderr lines into the node's log.
final class RunningProgram: Sendable {
    private let process: ChildProcess
    private let outbox: Outbox
    let answers = Mailbox()

    init(settings: ExecSettings, copy: Int) throws {
        _ = Self.brokenPipesIgnored
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
        outbox = Outbox(fd: stdinPipe.write, label: "hypha.exec.\(settings.nodeID).\(copy).stdin", gathers: settings.pipeline > 1)

        let answers = answers, box = self.process
        let stdoutFD = stdoutPipe.read
        let framed = settings.output == .arrow
        let maxLine = settings.maxLine
        Thread.detachNewThread {
            var splitter = FrameSplitter(lengthPrefixed: framed, limit: maxLine, overflow: .fail)
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                for frame in splitter.add(buffer[0..<n]) { answers.put(frame.bytes) }
                if splitter.tooLong != nil {
                    // The answer cannot be taken whole, and what follows it cannot be told
                    // apart from it: the program is ended and restarted for the next message.
                    box.kill()
                    break
                }
            }
            close(stdoutFD)
            let exit = box.waitForExit()
            let why: String
            if let size = splitter.tooLong {
                why = "(pid \(pid)) answered \(framed ? "a frame" : "a line") of \(size) bytes or more, over max_line (\(maxLine) bytes), "
                    + "and was killed; raise the node's max_line if answers this large are expected"
            } else {
                why = switch exit {
                case .signaled(let signal): "(pid \(pid)) was killed by signal \(signal)"
                case .exited(let code): "(pid \(pid)) exited with status \(code)"
                }
            }
            answers.close(why)
        }
        let tick = min(max(settings.timeout / 10, .milliseconds(1)), .milliseconds(100))
        Task.detached { await answers.watch(tick: tick) }
        let logger = settings.logger, program = settings.program
        let stderrFD = stderrPipe.read
        Thread.detachNewThread {
            // stderr is only logged: a line longer than a log line should be is cut, not held.
            var splitter = FrameSplitter(lengthPrefixed: false, limit: min(maxLine, RunningProgram.stderrLineLimit), overflow: .cut)
            var buffer = [UInt8](repeating: 0, count: 1 << 14)
            let fd = stderrFD
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                for line in splitter.add(buffer[0..<n]) {
                    let text = String(decoding: line.bytes, as: UTF8.self)
                    logger.notice("\(program) (copy \(copy)): \(text)\(line.isCut ? " [line cut at \(line.bytes.count) bytes]" : "")")
                }
            }
            close(fd)
        }
    }

    /// The longest stderr line logged whole; the rest of a longer one is dropped.
    static let stderrLineLimit = 65_536

    /// A program that exits between messages must show as a failed write (EPIPE), not end
    /// Hypha: SIGPIPE is ignored, once, before the first program starts.
    private static let brokenPipesIgnored: Void = { signal(SIGPIPE, SIG_IGN) }()

    var isRunning: Bool { process.isRunning }

    /// Sends one message and returns the ticket its answer comes back on. The ticket is taken
    /// and the message queued in one step, so answers (which come back in the order sent)
    /// meet their messages.
    func submit(_ message: Data, timeout: Duration) async -> Mailbox.Ticket {
        await outbox.send(message) { answers.expect(deadline: ContinuousClock.now + timeout) }
    }

    func closeInput() { outbox.close() }

    func kill() {
        process.kill()
        closeInput()
    }
}

/// A program's stdin. Messages are written in the order they are sent, by one writer at a
/// time: the task that finds no write under way writes what is pending, and whatever other
/// tasks send meanwhile, in one `write` (fewer system calls and wake-ups of the program when
/// many messages are in flight). When the pipe is full, the rest is written on a serial queue
/// that waits for room, so a program that stops reading blocks no task (its timeout kills it).
final class Outbox: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var writing = false
        var closed = false
    }
    private let fd: Int32
    private let state = Mutex(State())
    private let queue: DispatchQueue
    /// Whether several messages can be in flight, so a writer waits a moment for others.
    private let gathers: Bool

    init(fd: Int32, label: String, gathers: Bool) {
        self.fd = fd
        self.gathers = gathers
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        queue = DispatchQueue(label: label)
    }

    deinit {
        // A program that ended by itself: nothing writes any more (the queue's work holds self).
        if !state.withLock({ $0.closed }) { Glibc.close(fd) }
    }

    /// Queues `message` and returns what `taking` returns, both under the outbox's lock (so
    /// what `taking` numbers is in the order of the bytes); writes if no one else is.
    func send<T>(_ message: Data, taking: () -> T) async -> T {
        let (result, write) = state.withLock { s -> (T, Bool) in
            let result = taking()
            guard !s.closed else { return (result, false) }  // its answer comes back as the program's end
            s.pending.append(contentsOf: message)
            if s.writing { return (result, false) }
            s.writing = true
            return (result, true)
        }
        if write {
            // Lets the tasks already waiting to run (messages taken off the channel) add theirs
            // first, so one write carries them all.
            if gathers { await Task.yield() }
            drain(waiting: false)
        }
        return result
    }

    /// Writes what is pending until nothing is. Without `waiting` (a task), a full pipe hands
    /// the rest to the queue, which waits for room.
    private func drain(waiting: Bool) {
        while let bytes = takeOrFinish() {
            let written = bytes.withUnsafeBytes { Self.write($0, to: fd, waiting: waiting) }
            guard written < bytes.count else { continue }
            if waiting {
                abandon()  // the program is gone (EPIPE): its messages fail with its end
                return
            }
            let rest = Array(bytes[written...])
            queue.async {
                guard rest.withUnsafeBytes({ Self.write($0, to: self.fd, waiting: true) }) == rest.count else {
                    self.abandon()
                    return
                }
                self.drain(waiting: true)
            }
            return
        }
    }

    /// The pending bytes to write next; nil ends this writer's turn (nothing pending, or closed:
    /// then the descriptor is closed here, since no one else writes).
    private func takeOrFinish() -> [UInt8]? {
        let (bytes, closeNow) = state.withLock { s -> ([UInt8]?, Bool) in
            if s.closed {
                s.writing = false
                return (nil, true)
            }
            if s.pending.isEmpty {
                s.writing = false
                return (nil, false)
            }
            defer { s.pending = [] }
            return (s.pending, false)
        }
        if closeNow { Glibc.close(fd) }
        return bytes
    }

    /// The pipe is broken: drop what is pending and end this writer's turn.
    private func abandon() {
        let closeNow = state.withLock { s -> Bool in
            s.writing = false
            s.pending = []
            return s.closed
        }
        if closeNow { Glibc.close(fd) }
    }

    /// No more messages: the program reads the end of its input. The descriptor is closed now
    /// if no write is under way, else by the writer when its write ends.
    func close() {
        let now = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.closed = true
            s.pending = []
            return !s.writing
        }
        if now { Glibc.close(fd) }
    }

    /// Writes as much of `bytes` as `fd` takes; with `waiting`, waits for room when the pipe is
    /// full. How much was written (less on EPIPE: the program is gone).
    static func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32, waiting: Bool) -> Int {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress.map { $0 + done }, bytes.count - done)
            if n > 0 {
                done += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EAGAIN && waiting {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&poller, 1, -1)
            } else {
                break
            }
        }
        return done
    }
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
/// that many bytes, in time linear in the bytes (a line that arrives over many reads is searched
/// for its end once, not from its start at every read) and holding at most `limit` bytes of one
/// line or frame.
///
/// Past `limit`, `.fail` stops splitting and sets `tooLong` (a program's answers: the caller
/// fails what it was handling), while `.cut` returns the line's first `limit` bytes marked as
/// cut and skips the rest up to its newline (a program's stderr, which is only logged).
struct FrameSplitter {
    enum Overflow { case fail, cut }
    struct Frame {
        var bytes: Data
        /// The line was longer than `limit`: `bytes` is its start.
        var isCut = false
    }

    let lengthPrefixed: Bool
    let limit: Int
    let overflow: Overflow
    /// The size of the line or frame that went past `limit` (`.fail`); nothing is split after it.
    private(set) var tooLong: Int?
    private var pending: [UInt8] = []
    /// Bytes of `pending` already searched for a newline without finding one.
    private var searched = 0
    /// Skipping the rest of a cut line, up to its newline.
    private var skipping = false

    init(lengthPrefixed: Bool, limit: Int, overflow: Overflow) {
        self.lengthPrefixed = lengthPrefixed
        self.limit = limit
        self.overflow = overflow
    }

    mutating func add(_ bytes: ArraySlice<UInt8>) -> [Frame] {
        guard tooLong == nil else { return [] }
        var input = bytes
        if skipping {
            guard let newline = input.firstIndex(of: UInt8(ascii: "\n")) else { return [] }
            skipping = false
            input = input[(newline + 1)...]
        }
        pending.append(contentsOf: input)
        return lengthPrefixed ? splitFrames() : splitLines()
    }

    private mutating func splitFrames() -> [Frame] {
        var frames: [Frame] = []
        var start = 0
        while pending.count - start >= 4 {
            let length = Int(pending[start]) | Int(pending[start + 1]) << 8 | Int(pending[start + 2]) << 16 | Int(pending[start + 3]) << 24
            if length > limit {
                // A frame's length is known before its bytes: refused without holding them.
                tooLong = length
                pending = []
                return frames
            }
            guard pending.count - start - 4 >= length else { break }
            frames.append(Frame(bytes: Data(pending[(start + 4)..<(start + 4 + length)])))
            start += 4 + length
        }
        if start > 0 { pending.removeFirst(start) }
        return frames
    }

    private mutating func splitLines() -> [Frame] {
        var frames: [Frame] = []
        var start = 0
        while let newline = pending[max(start, searched)...].firstIndex(of: UInt8(ascii: "\n")) {
            var end = newline
            if end > start && pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            if end - start > limit {
                if overflow == .fail {
                    tooLong = end - start
                    pending = []
                    return frames
                }
                frames.append(Frame(bytes: Data(pending[start..<(start + limit)]), isCut: true))
            } else if end > start {
                frames.append(Frame(bytes: Data(pending[start..<end])))
            }
            start = newline + 1
        }
        // What is left is one unfinished line: its bytes have been searched.
        if start > 0 { pending.removeFirst(start) }
        searched = pending.count
        if pending.count > limit {
            if overflow == .fail {
                tooLong = pending.count
                pending = []
                return frames
            }
            frames.append(Frame(bytes: Data(pending.prefix(limit)), isCut: true))
            pending = []
            searched = 0
            skipping = true
        }
        return frames
    }
}

/// Answers from a program's stdout, each for the message sent that long ago: the first answer
/// is the first ticket's, and so on. Each ticket has a deadline.
final class Mailbox: Sendable {
    enum Answer: Sendable {
        case frame(Data)
        case closed(String)
        case timedOut
        case cancelled
    }

    /// A message's place in line for its answer.
    struct Ticket: Sendable {
        fileprivate let id: Int
    }

    private enum Slot {
        /// Sent; its answer has not come (`continuation` once someone waits for it).
        case waiting(deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Answer, Never>?)
        /// Its answer came before anyone waited, or its wait ended (timeout) before it did.
        case settled(Answer)
        /// Nobody waits any more (cancelled): its answer, when it comes, is dropped.
        case abandoned
    }

    private struct State {
        var slots: [Int: Slot] = [:]
        /// Tickets whose answers have not come, in the order their messages were sent.
        var line: [Int] = []
        var nextID = 0
        var closed: String?
    }

    private let state = Mutex(State())

    /// A ticket for the message about to be sent.
    func expect(deadline: ContinuousClock.Instant) -> Ticket {
        state.withLock { s in
            s.nextID += 1
            if let closed = s.closed {
                // The program's stdout has ended already: no answer will come.
                s.slots[s.nextID] = .settled(.closed(closed))
            } else {
                s.slots[s.nextID] = .waiting(deadline: deadline, continuation: nil)
                s.line.append(s.nextID)
            }
            return Ticket(id: s.nextID)
        }
    }

    /// An answer came: it belongs to the oldest ticket.
    func put(_ frame: Data) {
        let waiter = state.withLock { s -> CheckedContinuation<Answer, Never>? in
            guard !s.line.isEmpty else { return nil }  // an answer nobody asked for: dropped
            let id = s.line.removeFirst()
            switch s.slots[id] {
            case .waiting(_, let continuation?):
                s.slots[id] = nil
                return continuation
            case .waiting(_, nil):
                s.slots[id] = .settled(.frame(frame))
            case .abandoned:
                s.slots[id] = nil
            default:
                break  // settled already (timed out): the late answer is dropped
            }
            return nil
        }
        waiter?.resume(returning: .frame(frame))
    }

    /// The program's stdout ended: every ticket still waiting gets `why`.
    func close(_ why: String) {
        let waiters = state.withLock { s -> [CheckedContinuation<Answer, Never>] in
            s.closed = why
            var waiters: [CheckedContinuation<Answer, Never>] = []
            for id in s.line {
                switch s.slots[id] {
                case .waiting(_, let continuation?):
                    waiters.append(continuation)
                    s.slots[id] = nil
                case .waiting(_, nil):
                    s.slots[id] = .settled(.closed(why))
                case .abandoned:
                    s.slots[id] = nil
                default:
                    break
                }
            }
            s.line = []
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: .closed(why)) }
    }

    /// The answer for `ticket`: its frame, or why there is none.
    func answer(_ ticket: Ticket) async -> Answer {
        let id = ticket.id
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Answer, Never>) in
                let ready = state.withLock { s -> Answer? in
                    switch s.slots[id] {
                    case .waiting(let deadline, nil):
                        s.slots[id] = .waiting(deadline: deadline, continuation: continuation)
                        return nil
                    case .settled(let answer):
                        s.slots[id] = nil
                        return answer
                    case .abandoned:
                        return .cancelled
                    default:
                        return .closed(s.closed ?? "stopped answering")
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Answer, Never>? in
                guard case .waiting(_, let continuation) = s.slots[id] else { return nil }
                s.slots[id] = .abandoned
                return continuation
            }
            waiter?.resume(returning: .cancelled)
        }
    }

    /// Times out tickets whose deadline has passed, checking every `tick`, until the program's
    /// stdout ends: one timer per program rather than one per message.
    func watch(tick: Duration) async {
        while true {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let (late, done) = state.withLock { s -> ([CheckedContinuation<Answer, Never>], Bool) in
                var late: [CheckedContinuation<Answer, Never>] = []
                for id in s.line {
                    guard case .waiting(let deadline, let continuation) = s.slots[id], deadline <= now else { continue }
                    if let continuation {
                        late.append(continuation)
                        s.slots[id] = .abandoned
                    } else {
                        s.slots[id] = .settled(.timedOut)
                    }
                }
                return (late, s.closed != nil)
            }
            for waiter in late { waiter.resume(returning: .timedOut) }
            if done { return }
        }
    }
}
