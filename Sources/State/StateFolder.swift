import Engine
import Foundation
import Glibc

/// A state folder (`--state-dir`, `state_dir:`, default `.hypha/` beside the workflow): the
/// database `state.db`, the lock that keeps a second Hypha out, and the run folders
/// (`runs/RUN-ID`, pruned by the workflow's `retention`).
public final class StateFolder: Sendable {
    public let path: String
    public let store: SQLiteStateStore
    /// The lock file's descriptor, held (with `flock`) for as long as this process lives.
    private let lockDescriptor: Int32

    /// Opens (creating if needed) and locks the folder. Every problem is a `StateStoreError`
    /// naming the folder and what to do. `forReading` opens an existing folder without taking
    /// the lock (to look at while a run goes on).
    public init(path: String, forReading: Bool = false) throws(StateStoreError) {
        let folder = URL(fileURLWithPath: path).standardizedFileURL.path
        self.path = folder
        if forReading {
            guard FileManager.default.fileExists(atPath: folder + "/state.db") else {
                throw StateStoreError("no state in \(folder): nothing has run with this state folder yet "
                                      + "(give the one the run used with --state-dir)")
            }
            lockDescriptor = -1
            store = try SQLiteStateStore(path: folder + "/state.db", folder: folder)
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: folder + "/runs", withIntermediateDirectories: true)
        } catch {
            throw StateStoreError("cannot create the state folder \(folder): \(error.localizedDescription); "
                                  + "give a folder this user can write with --state-dir")
        }
        lockDescriptor = try Self.lock(folder)
        do {
            store = try SQLiteStateStore(path: folder + "/state.db", folder: folder)
        } catch {
            close(lockDescriptor)
            throw error
        }
    }

    deinit { if lockDescriptor >= 0 { close(lockDescriptor) } }

    /// Takes the folder's lock, or says who holds it.
    static func lock(_ folder: String) throws(StateStoreError) -> Int32 {
        let file = folder + "/lock"
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StateStoreError("cannot open \(file): \(String(cString: strerror(errno))); check the state folder's permissions")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw StateStoreError("the state folder \(folder) is in use by another hypha (pid \(holder.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown")); "
                                  + "stop it first, or give this run another --state-dir")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        return fd
    }

    /// A new run's folder, `runs/RUN-ID`, after removing the runs that `retention` no longer
    /// keeps (the newest `runs`, none older than `days`). Run ids sort by time.
    public func runFolder(for runID: String, retention: Retention) throws(StateStoreError) -> String {
        let runs = path + "/runs"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).sorted()
        var remove = names.count >= retention.runs ? Array(names.prefix(names.count - retention.runs + 1)) : []
        if let days = retention.days {
            let cutoff = Date().addingTimeInterval(-days * 86_400)
            for name in names where !remove.contains(name) {
                let modified = (try? FileManager.default.attributesOfItem(atPath: runs + "/" + name))?[.modificationDate] as? Date
                if let modified, modified < cutoff { remove.append(name) }
            }
        }
        for name in remove { try? FileManager.default.removeItem(atPath: runs + "/" + name) }
        let folder = runs + "/" + runID
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StateStoreError("cannot create the run folder \(folder): \(error.localizedDescription); "
                                  + "free space on its disk or give another --state-dir")
        }
        return folder
    }
}
