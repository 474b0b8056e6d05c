import CorePlugins
import Engine
import Foundation
import HyphaArrow
import Synchronization
import Testing

/// `FileWatchPlugin.row(forFile:)` (what `hypha send --file-watch-row` sends) and the watcher's
/// readiness (what sd_notify READY=1 waits for).
@Suite(.timeLimit(.minutes(5))) struct FileWatchRowTests {
    @Test func theRowForAFileIsTheRowTheWatcherEmitsForIt() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let inbox = h.directory + "/in"
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        try Data("12345".utf8).write(to: URL(fileURLWithPath: inbox + "/a.zip"))
        let plugin = try FileWatchPlugin(node: try h.config("w", plugin: FileWatchPlugin.self, options: ["path": .string(inbox)]),
                                         context: h.context())
        let out = Emitted()
        try await plugin.run(out.sourceOutput(once: true))
        guard case .arrow(let emitted)? = out.all.first else {
            Issue.record("the watcher emitted no Arrow message")
            return
        }
        let watched = ArrowDecodePlugin.records(try emitted.table())
        // A relative path with `.` in it names the same file (from a folder given here: the
        // process's working directory is every suite's).
        let row = try FileWatchPlugin.row(forFile: "./in/a.zip", relativeTo: h.directory)
        #expect(row.schema == (try emitted.table()).schema)
        #expect(ArrowDecodePlugin.records(row) == watched)
        #expect(throws: (any Error).self) { try FileWatchPlugin.row(forFile: inbox) }
        #expect(throws: (any Error).self) { try FileWatchPlugin.row(forFile: inbox + "/missing.zip") }
    }

    @Test func theWatcherSaysItIsReadyOnceItWatches() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let inbox = h.directory + "/in"
        let plugin = try FileWatchPlugin(node: try h.config("w", plugin: FileWatchPlugin.self, options: ["path": .string(inbox)]),
                                         context: h.context())
        #expect(FileWatchPlugin.announcesReadiness)
        let ready = ShutdownSignal()
        let seen = Mutex(0)
        let output = SourceOutput(once: false, onReady: { ready.trigger() }) { _, ack in
            seen.withLock { $0 += 1 }
            ack.release()
        }
        let watching = Task { try await plugin.run(output) }
        await ready.wait()
        // Ready means watching: a file dropped now is seen.
        try Data("x".utf8).write(to: URL(fileURLWithPath: inbox + "/late.txt"))
        let deadline = ContinuousClock.now + .seconds(20)
        while seen.withLock({ $0 }) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(seen.withLock { $0 } == 1)
        watching.cancel()
        _ = try? await watching.value
    }
}
