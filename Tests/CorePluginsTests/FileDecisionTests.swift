@testable import CorePlugins
import Engine
import Foundation
import Glibc
import Testing

/// `FileDecision`: what file-watch's scan makes of each entry of its folder, the one place the
/// plugin's own scan, `hypha why` and `hypha run --dry-run` decide.
@Suite(.timeLimit(.minutes(2))) struct FileDecisionTests {
    /// A watched folder with one entry of every kind, and the node watching it.
    struct Inbox {
        let h: PluginHarness
        let folder: String
        let plugin: FileWatchPlugin

        init(recursive: Bool = false) throws {
            h = try PluginHarness()
            folder = h.directory + "/in"
            try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: true)
            for name in ["a.zip", "b.zip", "notes.txt", ".hidden.zip", "sub/deep.zip"] {
                try Data(name.utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
            }
            #expect(symlink(folder + "/a.zip", folder + "/link.zip") == 0)
            // A name that is not UTF-8: "bad\xff.zip".
            let bytes: [UInt8] = Array((folder + "/bad").utf8) + [0xff] + Array(".zip".utf8) + [0]
            let fd = bytes.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
            #expect(fd >= 0)
            close(fd)
            let node = try h.config("w", plugin: FileWatchPlugin.self,
                                    options: ["path": .string(folder), "pattern": "*.zip", "recursive": .bool(recursive)])
            plugin = try FileWatchPlugin(node: node, context: h.context())
        }

        /// The checkpoint a finished run leaves for `name`.
        func checkpoint(_ name: String, _ state: FileCheckpoint.State) -> FileCheckpoint {
            var st = stat()
            _ = stat(folder + "/" + name, &st)
            return FileCheckpoint(identity: FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                                                         modified: FileTracker.nanos(st.st_mtim)),
                                  path: folder + "/" + name, changed: FileTracker.nanos(st.st_ctim), contentHash: "", state: state)
        }
    }

    @Test func everyEntryGetsItsReason() async throws {
        let inbox = try Inbox()
        defer { inbox.h.cleanUp() }
        let f = inbox.folder
        let decisions = await inbox.plugin.decisions(checkpoints: [inbox.checkpoint("b.zip", .done)])
        let byPath = Dictionary(decisions.map { ($0.path, $0.code) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath == [
            f + "/a.zip": "new", f + "/b.zip": "handled", f + "/notes.txt": "pattern", f + "/.hidden.zip": "hidden",
            f + "/sub": "folder_not_watched", f + "/link.zip": "not_regular_file", f + "/bad\\xff.zip": "not_utf8",
        ], "\(decisions.map { "\($0.path) \($0.code)" })")
        #expect(decisions.filter(\.taken).map(\.path) == [f + "/a.zip"])
    }

    @Test func theScanTakesExactlyWhatTheDecisionsTake() async throws {
        let inbox = try Inbox(recursive: true)
        defer { inbox.h.cleanUp() }
        let taken = await inbox.plugin.decisions(checkpoints: []).filter(\.taken).map(\.path)
        var tracker = FileTracker()
        let scanned = await inbox.plugin.scan(inbox.folder, tracker: &tracker).map(\.path)
        #expect(scanned == taken)
        #expect(Set(taken) == [inbox.folder + "/a.zip", inbox.folder + "/b.zip", inbox.folder + "/sub/deep.zip"])
    }

    @Test func checkpointsSayHandledResumedOrRewritten() async throws {
        let inbox = try Inbox()
        defer { inbox.h.cleanUp() }
        let a = inbox.folder + "/a.zip"
        let done = inbox.checkpoint("a.zip", .done), emitted = inbox.checkpoint("a.zip", .emitted)
        #expect(await inbox.plugin.decision(forPath: a, checkpoints: [done]).reason == .handled(done))
        #expect(await inbox.plugin.decision(forPath: a, checkpoints: [emitted]).reason == .resumed(emitted))
        // A new version of the file (another size): taken again, as rewritten.
        try Data("a longer content".utf8).write(to: URL(fileURLWithPath: a))
        let rewritten = await inbox.plugin.decision(forPath: a, checkpoints: [done])
        #expect(rewritten.reason == .rewritten(done) && rewritten.taken)
    }

    @Test func aPathTheScanNeverReachesSaysWhy() async throws {
        let inbox = try Inbox()
        defer { inbox.h.cleanUp() }
        let p = inbox.plugin
        #expect(await p.decision(forPath: inbox.h.directory + "/elsewhere.zip", checkpoints: []).reason == .outsideFolder)
        #expect(await p.decision(forPath: inbox.folder + "/sub/deep.zip", checkpoints: []).reason == .inUnwatchedFolder(inbox.folder + "/sub"))
        #expect(await p.decision(forPath: inbox.folder + "/gone.zip", checkpoints: []).reason == .missing)
        #expect(await p.decision(forPath: inbox.folder + "/.hidden.zip", checkpoints: []).reason == .hidden)
        #expect(await p.decision(forPath: inbox.folder + "/notes.txt", checkpoints: []).reason == .pattern)
        #expect(await p.decision(forPath: inbox.folder + "/a.zip", checkpoints: []).reason == .new)
        // Another spelling of the path: the decision names it as the scan does.
        let spelled = await p.decision(forPath: inbox.folder + "/sub/../a.zip", checkpoints: [])
        #expect(spelled.path == inbox.folder + "/a.zip" && spelled.reason == .new)
    }

    @Test func aFileOpenForWritingIsSkippedWithItsWriter() async throws {
        let inbox = try Inbox()
        defer { inbox.h.cleanUp() }
        let path = inbox.folder + "/copying.zip"
        let fd = open(path, O_CREAT | O_WRONLY, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        let decision = await inbox.plugin.decision(forPath: path, checkpoints: [])
        #expect(decision.reason == .openForWriting(pid: getpid()))
        #expect(!decision.taken)
    }
}
