import Foundation

/// The files Hypha ships beside its binary: the example workflows, their job templates and the
/// jobs' scripts (`workflows/`, `jobstore/`, `scripts/`), found wherever Hypha was installed
/// (docs/PACKAGING.md).
enum ShippedFiles {
    /// This hypha's real path (symbolic links resolved): /proc/self/exe, else the first argument.
    static var binary: String {
        if let real = realpath("/proc/self/exe", nil) {
            defer { free(real) }
            return String(cString: real)
        }
        return URL(fileURLWithPath: CommandLine.arguments.first ?? ".").standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// The shared-data folder of an installed hypha: `PREFIX/share/hypha` for `PREFIX/bin/hypha`
    /// (`/usr/share/hypha` for the package's `/usr/bin/hypha`, `hypha-VERSION/share/hypha` in the
    /// tarball).
    static func installedFolder(binary: String = binary) -> String {
        URL(fileURLWithPath: binary).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("share/hypha").standardizedFileURL.path
    }

    /// The folders that may hold the shipped files, in the order they are looked at: the
    /// binary's own folder, the installed folder (`PREFIX/share/hypha`), the folders above the
    /// binary (a source build, whose binary is under `.build/`), then the current folder and
    /// those above it (a checkout whose binary was built elsewhere).
    static func candidates(binary: String = binary,
                           currentDirectory: String = FileManager.default.currentDirectoryPath) -> [String] {
        let binaryFolder = URL(fileURLWithPath: binary).deletingLastPathComponent().standardizedFileURL
        var folders = [binaryFolder.path, installedFolder(binary: binary)]
        folders += upwards(from: binaryFolder.deletingLastPathComponent())
        folders += upwards(from: URL(fileURLWithPath: currentDirectory).standardizedFileURL)
        var seen = Set<String>()
        return folders.filter { seen.insert($0).inserted }
    }

    /// The path of `relative` (like `workflows/extract-aggregate.yml`) in the first candidate
    /// folder that holds it; nil when none does.
    static func find(_ relative: String, binary: String = binary,
                     currentDirectory: String = FileManager.default.currentDirectoryPath) -> String? {
        candidates(binary: binary, currentDirectory: currentDirectory)
            .map { URL(fileURLWithPath: $0).appendingPathComponent(relative).path }
            .first { FileManager.default.fileExists(atPath: $0) }
    }

    /// `start` and up to seven folders above it.
    private static func upwards(from start: URL) -> [String] {
        var folders: [String] = []
        var dir = start
        for _ in 0..<8 {
            folders.append(dir.path)
            if dir.path == "/" { break }
            dir = dir.deletingLastPathComponent()
        }
        return folders
    }
}
