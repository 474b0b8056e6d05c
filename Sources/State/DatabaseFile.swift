import Engine
import Foundation
import GRDB
import Glibc

/// The state database as a file: made whole before it takes its name, checked before it is
/// opened, and asked who holds it when it stays locked.
///
/// SQLite takes a zero-length file for an empty database, so opening a truncated `state.db`
/// would silently start over and run every job again. Hypha therefore never leaves a
/// `state.db` of its own making empty: a new one is created and given its schema as
/// `state.db.new`, then renamed. An existing `state.db` that is empty, not a file or not
/// readable is an error, never a fresh start.
enum DatabaseFile {
    /// Makes `path` if it does not exist; refuses one that cannot be a database Hypha wrote.
    static func prepare(_ path: String, folder: String, migrate: @escaping (Database) throws -> Void) throws(StateStoreError) {
        var info = stat()
        if stat(path, &info) == 0 {
            try check(path, info)
            return
        }
        guard errno == ENOENT else {
            throw StateStoreError("the state database \(path) cannot be looked at (\(String(cString: strerror(errno)))); "
                                  + "check the state folder's permissions")
        }
        let fresh = path + ".new"
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(fresh + suffix) }
        do {
            // A rollback journal (not WAL) and SQLite's full sync: when the queue closes, the
            // file is whole on disk and nothing beside it is needed.
            let queue = try DatabaseQueue(path: fresh)
            try queue.write(migrate)
            try queue.close()
        } catch {
            unlink(fresh)
            throw SQLiteStateStore.explain(error, folder: folder)
        }
        guard rename(fresh, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(fresh)
            throw StateStoreError("cannot create the state database \(path): \(reason); check the state folder's permissions")
        }
    }

    private static func check(_ path: String, _ info: stat) throws(StateStoreError) {
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw StateStoreError("the state database \(path) is not a file; move it aside, or give another --state-dir")
        }
        guard info.st_size > 0 else {
            throw StateStoreError("the state database \(path) is empty (0 bytes), so it was truncated or replaced (Hypha never "
                                  + "leaves it empty); restore it from a backup, or move it aside to start over (every file "
                                  + "will then be processed again)")
        }
        // access(2), not open(2): closing a descriptor would drop any POSIX lock this process
        // holds on the file.
        guard access(path, R_OK | W_OK) == 0 else {
            throw StateStoreError("the state database \(path) cannot be opened for reading and writing "
                                  + "(\(String(cString: strerror(errno)))); check its owner and permissions: hypha runs as "
                                  + "user \(getuid())")
        }
    }

    /// The other processes holding a lock on the database (SQLite takes POSIX record locks on
    /// `state.db`, and on `state.db-shm` in WAL mode), as "pid N (COMMAND)". Read from
    /// /proc/locks, which lists every lock on the machine, rather than by asking the files
    /// with F_GETLK: opening and closing them would drop this process's own SQLite locks.
    static func lockHolders(of path: String) -> [String] {
        var wanted: [String] = []
        for file in [path, path + "-shm", path + "-wal"] {
            var info = stat()
            guard stat(file, &info) == 0 else { continue }
            let dev = UInt64(info.st_dev)
            let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
            let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
            wanted.append(String(format: "%02llx:%02llx:%llu", major, minor, UInt64(info.st_ino)))
        }
        guard let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return [] }
        var pids: [Int32] = []
        for line in table.split(separator: "\n") {
            // "1: POSIX  ADVISORY  WRITE 4242 08:01:1234 128 128"; "1: -> POSIX ..." is a waiter.
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] != "->", wanted.contains(String(fields[5])),
                  let pid = Int32(fields[4]), pid != getpid(), !pids.contains(pid) else { continue }
            pids.append(pid)
        }
        return pids.map { pid in
            let command = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return command.map { "pid \(pid) (\($0))" } ?? "pid \(pid)"
        }
    }
}
