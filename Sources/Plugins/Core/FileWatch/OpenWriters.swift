import Foundation
import Glibc

/// Which of some files a process on this machine has open for writing, read from `/proc` as
/// `fuser` and `lsof` do: each process's descriptor links (`/proc/PID/fd/N`) and, for the ones
/// that point at a candidate, the open flags in `/proc/PID/fdinfo/N`.
///
/// inotify tells when a file is closed after writing, but a file already in the folder when
/// the watch starts (or found by a rescan) comes with no such event: a copy still in progress
/// would be emitted half-written. Processes this one may not inspect (another user's, when not
/// root; another machine's, on a network file system) are not seen.
enum OpenWriters {
    /// The paths among `paths` (as given) that some process has open for writing, each with
    /// one such process's id.
    static func among(_ paths: [String]) -> [String: pid_t] {
        guard !paths.isEmpty else { return [:] }
        // /proc shows resolved paths: resolve each folder once, keep the name.
        var byRealPath: [String: [String]] = [:]
        var realFolders: [String: String] = [:]
        for path in paths {
            let slash = path.lastIndex(of: "/")
            let folder = slash.map { String(path[..<$0]) } ?? "."
            let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
            let real: String
            if let known = realFolders[folder] {
                real = known
            } else {
                real = resolved(folder.isEmpty ? "/" : folder) ?? folder
                realFolders[folder] = real
            }
            byRealPath[(real == "/" ? "" : real) + "/" + name, default: []].append(path)
        }
        var writers: [String: pid_t] = [:]
        for pid in numericEntries(of: "/proc") {
            let fdFolder = "/proc/\(pid)/fd"
            for fd in numericEntries(of: fdFolder) {
                guard let target = link(fdFolder + "/\(fd)"), let named = byRealPath[target], writers[named[0]] == nil,
                      opensForWriting(pid: pid, fd: fd)
                else { continue }
                for path in named { writers[path] = pid_t(pid) }
            }
        }
        return writers
    }

    /// The paths among `paths` held open for writing at each of three looks spread over about
    /// a tenth of a second, each with one such process's id.
    ///
    /// One look is not enough: a process that spawns a program holds a copy of every
    /// descriptor it has open until the new program starts (or, for descriptors it closes
    /// by hand, until the child gets to them). A file its other threads are writing at that
    /// moment, or have just written and closed, would look held by the child for a few
    /// milliseconds. A copy or download in progress holds its file for all three looks.
    /// `look` is `among(_:)`; tests pass their own.
    static func lasting(among paths: [String],
                        look: ([String]) -> [String: pid_t] = among) async -> [String: pid_t] {
        var held = look(paths)
        for pause in [25, 75] where !held.isEmpty {
            try? await Task.sleep(for: .milliseconds(pause))
            let again = look(Array(held.keys))
            held = held.filter { again[$0.key] != nil }
        }
        return held
    }

    /// The entries of a folder whose names are numbers (process ids, descriptors).
    static func numericEntries(of folder: String) -> [Int] {
        guard let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        var numbers: [Int] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let n = Int(name) { numbers.append(n) }
        }
        return numbers
    }

    static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func resolved(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }

    /// Whether descriptor `fd` of process `pid` was opened for writing (fdinfo's octal `flags`).
    static func opensForWriting(pid: Int, fd: Int) -> Bool {
        guard let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
              let flags = Int(line.dropFirst("flags:".count).trimmingCharacters(in: .whitespaces), radix: 8)
        else { return false }
        return flags & Int(O_ACCMODE) != Int(O_RDONLY)
    }
}
