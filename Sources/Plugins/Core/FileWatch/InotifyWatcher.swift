import Foundation
import Glibc
import Synchronization

/// Watches folders with inotify on a dedicated thread, apart from the work downstream, so a
/// busy DAG never lets the kernel's event queue fill. Completed files (closed after
/// writing, or moved in) are collected into a de-duplicated pending set; `events` wakes the
/// consumer. A kernel queue overflow is reported so the consumer can rescan.
final class InotifyWatcher: Sendable {
    /// What the consumer should do next.
    enum Event: Sendable {
        /// New complete files are pending: call `takePending()`.
        case files
        /// The kernel dropped events: rescan everything.
        case overflow
        /// A new folder appeared (recursive watches): scan it.
        case folder(String)
        /// A file whose name is not UTF-8 was completed; it is skipped (the path is escaped
        /// for the log, see `FileName`).
        case skippedName(String)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let fd: Int32
    private let recursive: Bool
    private struct State {
        var folders: [Int32: String] = [:]
        var pending: [String] = []
        var pendingSet: Set<String> = []
        var stopped = false
    }
    private let state = Mutex(State())

    init(root: String, recursive: Bool) throws {
        fd = inotify_init1(Int32(IN_CLOEXEC) | Int32(IN_NONBLOCK))
        guard fd >= 0 else { throw Failure(description: "inotify_init1 failed: \(String(cString: strerror(errno)))") }
        self.recursive = recursive
        (events, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        try addWatch(root)
        let thread = Thread { [self] in self.readLoop() }
        thread.name = "hypha-inotify"
        thread.start()
    }

    static let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE)

    /// Starts watching a folder (and, when recursive, the consumer adds its subfolders as it scans).
    func addWatch(_ folder: String) throws {
        let wd = inotify_add_watch(fd, folder, Self.mask)
        guard wd >= 0 else {
            throw Failure(description: "cannot watch '\(folder)': \(String(cString: strerror(errno)))")
        }
        state.withLock { $0.folders[wd] = folder }
    }

    /// The complete files seen since the last call, in arrival order, each once.
    func takePending() -> [String] {
        state.withLock { s in
            defer {
                s.pending.removeAll(keepingCapacity: true)
                s.pendingSet.removeAll(keepingCapacity: true)
            }
            return s.pending
        }
    }

    func stop() {
        state.withLock { $0.stopped = true }
    }

    private func readLoop() {
        let bufferSize = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer {
            buffer.deallocate()
            close(fd)
            continuation.finish()
        }
        var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while !state.withLock({ $0.stopped }) {
            let ready = poll(&pollFD, 1, 100)
            if ready <= 0 { continue }
            let n = read(fd, buffer, bufferSize)
            if n <= 0 { continue }
            var offset = 0
            var newFiles = false
            while offset + 16 <= n {
                let wd = buffer.load(fromByteOffset: offset, as: Int32.self)
                let mask = buffer.load(fromByteOffset: offset + 4, as: UInt32.self)
                let length = Int(buffer.load(fromByteOffset: offset + 12, as: UInt32.self))
                let nameStart = offset + 16
                offset = nameStart + length
                guard offset <= n else { break }
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    continuation.yield(.overflow)
                    continue
                }
                if mask & UInt32(IN_IGNORED) != 0 {
                    state.withLock { _ = $0.folders.removeValue(forKey: wd) }
                    continue
                }
                let nameBytes = UnsafeRawBufferPointer(start: buffer + nameStart, count: length)
                let name: String
                switch FileName(nameBytes.prefix { $0 != 0 }) {
                case .utf8(let text): name = text
                case .notUTF8(let escaped):
                    if mask & (UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO)) != 0, mask & UInt32(IN_ISDIR) == 0,
                       let folder = state.withLock({ $0.folders[wd] }) {
                        continuation.yield(.skippedName(folder + "/" + escaped))
                    }
                    continue
                }
                guard !name.isEmpty, let folder = state.withLock({ $0.folders[wd] }) else { continue }
                let path = folder + "/" + name
                let isDirectory = mask & UInt32(IN_ISDIR) != 0
                if isDirectory {
                    if recursive && mask & (UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)) != 0 {
                        continuation.yield(.folder(path))
                    }
                    continue
                }
                guard mask & (UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO)) != 0 else { continue }
                state.withLock { s in
                    if s.pendingSet.insert(path).inserted { s.pending.append(path) }
                }
                newFiles = true
            }
            if newFiles { continuation.yield(.files) }
        }
    }
}
