import Glibc
import Synchronization

/// The log files of jobs: each job's stdout and stderr go to files of their own in the run's
/// `jobs/` folder, opened read-write so the job writes them and their tails are read back
/// from the same descriptors.
///
/// Making a file (a new inode) costs about 0.2 ms on this project's ext4 machines, twice per
/// job, on the path from an event to its job starting. So files are made ahead of time:
/// a few unnamed files (`O_TMPFILE`) wait open in the folder; a job takes two, and they get
/// their names (`linkat`) right after the job has started. Had Hypha died in between, the two
/// files would vanish with it (the job would have run with no logs left). Where the file
/// system has no `O_TMPFILE`, or `/proc` is missing, each file is created by name instead.
final class LogFiles: Sendable {
    /// A log file given to a job: its descriptor, and the name it has or will get.
    struct File: Sendable {
        let descriptor: Int32
        let path: String
        /// Whether the file still needs its name (`name(_:)`).
        let unnamed: Bool
    }

    let directory: String
    /// How many unnamed files to keep ready.
    let spareTarget: Int
    let unnamedFilesWork: Bool
    private let spares = Mutex<[Int32]>([])

    /// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), which Swift's Glibc module doesn't import.
    static let tmpFileFlag = Int32(0o20000000) | O_DIRECTORY

    init(directory: String, spares: Int) {
        self.directory = directory
        spareTarget = max(2, spares)
        unnamedFilesWork = Self.probe(directory)
        refill()
    }

    deinit {
        for fd in spares.withLock({ $0 }) { close(fd) }
    }

    /// A file for a job's output at `path`: a spare unnamed one when there is one, else
    /// created (or truncated) by name.
    func take(for path: String) throws(ProcessPlugin.JobFailed) -> File {
        if unnamedFilesWork, let fd = spares.withLock({ $0.popLast() }) {
            return File(descriptor: fd, path: path, unnamed: true)
        }
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ProcessPlugin.JobFailed(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return File(descriptor: fd, path: path, unnamed: false)
    }

    /// Gives an unnamed file its name, replacing a file of that name from an earlier job.
    /// Returns a problem to report, or nil.
    func name(_ file: File) -> String? {
        guard file.unnamed else { return nil }
        if Self.link(file.descriptor, to: file.path) { return nil }
        if errno == EEXIST, unlink(file.path) == 0 || errno == ENOENT, Self.link(file.descriptor, to: file.path) { return nil }
        return "cannot name log file \(file.path): \(String(cString: strerror(errno)))"
    }

    /// Makes unnamed files until `spareTarget` are ready (called after a job has started, off
    /// the path to the next job's start).
    func refill() {
        guard unnamedFilesWork else { return }
        while spares.withLock({ $0.count }) < spareTarget {
            let fd = open(directory, Self.tmpFileFlag | O_RDWR | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return }
            spares.withLock { $0.append(fd) }
        }
    }

    /// The last `bytes` bytes the job wrote (the child wrote through its own copy of the
    /// descriptor, so read by offset, not from the shared file position).
    static func tail(_ fd: Int32, bytes: Int) -> String {
        var st = stat()
        guard bytes > 0, fstat(fd, &st) == 0, st.st_size > 0 else { return "" }
        let count = min(Int(st.st_size), bytes)
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(Int(st.st_size) - count)) }
        return got > 0 ? String(decoding: buffer.prefix(got), as: UTF8.self) : ""
    }

    /// Names an open unnamed file through `/proc/self/fd` (linking with `AT_EMPTY_PATH` would
    /// need a capability).
    static func link(_ fd: Int32, to path: String) -> Bool {
        linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0
    }

    /// Whether unnamed files can be made and named in `directory`.
    static func probe(_ directory: String) -> Bool {
        let fd = open(directory, tmpFileFlag | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let path = directory + "/.hypha-log-probe-\(getpid())"
        unlink(path)
        guard link(fd, to: path) else { return false }
        unlink(path)
        return true
    }
}
