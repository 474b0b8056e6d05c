import Engine
import Foundation
import HyphaArrow

extension FileWatchPlugin {
    /// The Arrow table a `file-watch` source emits for `files`: one row each (`path`, `name`,
    /// `size`, `modified`).
    static func table<C: Collection>(of files: C) throws -> ArrowTable where C.Element == FileInfo {
        let batch = try RecordBatch(schema: schema, columns: [
            .utf8(files.map(\.path)), .utf8(files.map(\.name)), .int64(files.map(\.size)),
            .int64(files.map(\.modifiedMicros), type: schema.fields[3].type),
        ])
        return ArrowTable(schema: schema, batches: [batch])
    }

    /// Exactly the row a `file-watch` source would emit for the file at `path` (made absolute),
    /// so a file can be pushed through a workflow by hand (`hypha send --file-watch-row`).
    /// Throws a message naming the path when it is not a readable regular file.
    public static func row(forFile path: String,
                           relativeTo directory: String = FileManager.default.currentDirectoryPath) throws -> ArrowTable {
        let absolute = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: directory, isDirectory: true))
            .standardizedFileURL.path
        var tracker = FileTracker()
        guard let info = tracker.admit(absolute) else {
            throw Failure(description: "'\(absolute)' is not a regular file (no such file, or a folder); give the path of a file")
        }
        guard FileManager.default.isReadableFile(atPath: absolute) else {
            throw Failure(description: "'\(absolute)' is not readable; a job could not read it either")
        }
        return try table(of: [info])
    }
}
