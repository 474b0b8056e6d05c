import Foundation
import Synchronization

/// Appends whole lines to a file; safe to call from concurrent tasks.
final class LineWriter: Sendable {
    private let handle: Mutex<FileHandle?>
    let path: String

    init(path: String) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        _ = try h.seekToEnd()
        handle = Mutex(h)
    }

    func append(_ line: String) throws {
        try handle.withLock { h in
            try h?.write(contentsOf: Data((line + "\n").utf8))
        }
    }

    func close() throws {
        try handle.withLock { h in
            try h?.close()
            h = nil
        }
    }
}
