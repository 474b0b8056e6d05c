import Glibc
import Synchronization

/// One output stream of a job (stdout or stderr) and its log file `RUN/jobs/NAME.stdout.log`
/// (or `.stderr.log`).
///
/// The job writes into a pipe; `ChildReaper`'s thread copies what arrives into the log file,
/// which is made on the first byte, and keeps the last `tailBytes` for the result. A stream the
/// job never writes to gets no file (its path in the result is null). Why not hand the job the
/// file itself: making a file costs an inode, which on ext4 is slow after files have been
/// deleted in bulk (docs/BENCHMARKS.md), and most jobs write nothing to stderr, and many
/// nothing at all. Where `ChildReaper` is unavailable (no pidfds), the job
/// gets the file itself, made before it starts.
final class JobOutput: Sendable {
    let path: String
    /// The descriptor the job gets as its fd 1 or 2: the pipe's write end, or the file.
    let childEnd: Int32
    /// The pipe's read end, for the reaper thread (nil when the job writes the file itself).
    let readEnd: Int32?
    let tailBytes: Int

    private struct State {
        var file: Int32 = -1
        var created = false
        var tail: [UInt8] = []
        var problem: String?
        var childEndOpen = true
    }
    private let state = Mutex(State())

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A stream for a job whose log goes to `path`; through a pipe when `piped`.
    init(path: String, tailBytes: Int, piped: Bool) throws(Failure) {
        self.path = path
        self.tailBytes = max(0, tailBytes)
        if piped {
            let ends: (read: Int32, write: Int32)
            do {
                ends = try ProcessLauncher.pipe()
            } catch {
                throw Failure(description: error.description)
            }
            _ = fcntl(ends.read, F_SETFL, O_NONBLOCK)
            (readEnd, childEnd) = (ends.read, ends.write)
        } else {
            let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
            (readEnd, childEnd) = (nil, fd)
        }
    }

    deinit {
        let state = state.withLock { $0 }
        if state.childEndOpen {
            close(childEnd)
            // The job never started, so the reaper thread never took the read end.
            if let readEnd { close(readEnd) }
        }
        if state.file >= 0 { close(state.file) }
    }

    /// The job has started (it holds its own copy): the parent's copy of the pipe's write end
    /// is closed, so the pipe ends when the job and its children have closed theirs.
    func jobStarted() {
        guard readEnd != nil else { return }
        let wasOpen = state.withLock { s in
            defer { s.childEndOpen = false }
            return s.childEndOpen
        }
        if wasOpen { close(childEnd) }
    }

    /// Appends what the job wrote (called on the reaper thread).
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        state.withLock { s in
            if !s.created && s.problem == nil {
                s.file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
                if s.file < 0 { s.problem = "cannot create \(path): \(String(cString: strerror(errno)))" }
                s.created = s.file >= 0
            }
            if s.file >= 0 {
                var offset = 0
                while offset < bytes.count {
                    let n = write(s.file, base + offset, bytes.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        s.problem = "cannot write \(path): \(String(cString: strerror(errno)))"
                        break
                    }
                    offset += n
                }
            }
            if tailBytes > 0 {
                s.tail.append(contentsOf: bytes.suffix(tailBytes))
                if s.tail.count > 2 * tailBytes { s.tail.removeFirst(s.tail.count - tailBytes) }
            }
        }
    }

    /// The pipe has ended: the log file is complete.
    func ended() {
        state.withLock { s in
            if s.file >= 0 {
                close(s.file)
                s.file = -1
            }
        }
    }

    /// The log's path if the job wrote anything (always, when it wrote the file itself), the
    /// last `tailBytes` it wrote, and a problem writing the log, if any.
    func result() -> (path: String?, tail: String, problem: String?) {
        guard readEnd != nil else {
            let tail = Self.tail(of: childEnd, bytes: tailBytes)
            return (path, tail, nil)
        }
        return state.withLock { s in
            (s.created ? path : nil, String(decoding: s.tail.suffix(tailBytes), as: UTF8.self), s.problem)
        }
    }

    /// The end of a file the job wrote itself (read by offset: the job moved its own position).
    static func tail(of fd: Int32, bytes: Int) -> String {
        var st = stat()
        guard bytes > 0, fstat(fd, &st) == 0, st.st_size > 0 else { return "" }
        let count = min(Int(st.st_size), bytes)
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(Int(st.st_size) - count)) }
        return got > 0 ? String(decoding: buffer.prefix(got), as: UTF8.self) : ""
    }
}
