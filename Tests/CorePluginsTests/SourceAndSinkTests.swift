import Engine
import Foundation
import HyphaArrow
@testable import CorePlugins
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(5))) struct FileWatchTests {
    /// Writes `text` to `path` through a close-on-exec descriptor. Foundation's writes leave it
    /// off, so a program another test spawns at that moment could keep the file open for
    /// writing, and the watcher would rightly leave it alone.
    func touch(_ path: String, _ text: String = "x") throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }

    func records(_ payloads: [Payload]) throws -> [Record] {
        var out: [Record] = []
        for case .arrow(let data) in payloads {
            // Through the wire format, as a node in another process would see it.
            let table = try ArrowIPC.read([UInt8](data.ipcBytes()))
            for batch in table.batches {
                for row in 0..<batch.rowCount {
                    out.append(Record(table.schema.fields.enumerated().map { ($1.name, ArrowValueConversion.value(batch.value(row: row, column: $0))) }))
                }
            }
        }
        return out
    }

    @Test func onceEmitsMatchingFilesPresentNowInOneBatch() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let inbox = h.directory + "/in"
        try FileManager.default.createDirectory(atPath: inbox + "/sub", withIntermediateDirectories: true)
        try touch(inbox + "/a.zip", "12345")
        try touch(inbox + "/b c.zip")
        try touch(inbox + "/.hidden.zip")
        try touch(inbox + "/notes.txt")
        try touch(inbox + "/sub/d.zip")
        let plugin = try FileWatchPlugin(node: try h.config("w", plugin: FileWatchPlugin.self, options: ["path": .string(inbox), "pattern": "*.zip"]),
                                         context: h.context())
        let out = Emitted()
        try await plugin.run(out.sourceOutput(once: true))
        #expect(out.all.count == 1)
        let rows = try records(out.all)
        #expect(rows.map { $0["name"] } == [.string("a.zip"), .string("b c.zip")])
        #expect(rows.first?["size"] == .int(5))
        #expect(rows.first?["path"] == .string(inbox + "/a.zip"))
        if case .timestamp(let t)? = rows.first?["modified"] { #expect(t > 1_600_000_000_000_000) } else { Issue.record("no timestamp") }

        let recursive = try FileWatchPlugin(node: try h.config("w", plugin: FileWatchPlugin.self,
                                                            options: ["path": .string(inbox), "pattern": "*.zip", "recursive": true]), context: h.context())
        let all = Emitted()
        try await recursive.run(all.sourceOutput(once: true))
        #expect(try records(all.all).count == 3)
    }

    @Test func watchEmitsCompleteFilesOnlyAndEachVersionOnce() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let inbox = h.directory + "/in"
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        let plugin = try FileWatchPlugin(node: try h.config("w", plugin: FileWatchPlugin.self, options: ["path": .string(inbox), "pattern": "*.zip"]),
                                         context: h.context())
        let out = Emitted()
        let ready = Atomic<Bool>(false)
        let watching = Task { try await plugin.run(out.sourceOutput(once: false) { ready.store(true, ordering: .releasing) }) }
        try await waitFor { ready.load(ordering: .acquiring) }
        func names() throws -> [String] { try records(out.all).compactMap { $0["name"]?.stringValue } }

        // A file being written is not emitted while it is open: a file dropped after it is
        // (the watcher has seen both by then), it is not.
        let writing = inbox + "/slow.zip"
        let fd = open(writing, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        try handle.write(contentsOf: Data("part".utf8))
        try touch(h.directory + "/first.zip")
        try FileManager.default.moveItem(atPath: h.directory + "/first.zip", toPath: inbox + "/first.zip")
        try await waitFor { try names().contains("first.zip") }
        try handle.write(contentsOf: Data("more".utf8))
        #expect(try !names().contains("slow.zip"), "a file still open for writing was emitted")
        close(fd)
        try await waitFor { try names().contains("slow.zip") }

        // Staged inside the watched folder under a name that does not match, then renamed: the
        // final name only.
        try touch(inbox + "/.staged.zip.part", "staged")
        try FileManager.default.moveItem(atPath: inbox + "/.staged.zip.part", toPath: inbox + "/staged.zip")
        try await waitFor { try names().contains("staged.zip") }

        // A second version of a file (new contents renamed over it) is a new event; the first
        // is not emitted again.
        try touch(inbox + "/.v2.part", "second version")
        #expect(rename(inbox + "/.v2.part", inbox + "/first.zip") == 0)
        try await waitFor { try names().filter { $0 == "first.zip" }.count == 2 }

        // A last file: once it is out, anything emitted twice would have been too.
        try touch(inbox + "/.last.part")
        #expect(rename(inbox + "/.last.part", inbox + "/last.zip") == 0)
        try await waitFor { try names().contains("last.zip") }
        watching.cancel()
        _ = try? await watching.value
        #expect(try names().sorted() == ["first.zip", "first.zip", "last.zip", "slow.zip", "staged.zip"])
        let sizes = try records(out.all).filter { $0["name"] == .string("first.zip") }.map { $0["size"] }
        #expect(sizes == [.int(1), .int(14)], "each version once, in order: \(sizes)")
    }

    @Test func aFileStillOpenForWritingAtStartIsNotTakenHalfWritten() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let inbox = h.directory + "/in"
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        try touch(inbox + "/done.zip")
        // A copy in progress when hypha starts: this process holds it open for writing.
        let copying = inbox + "/copying.zip"
        let fd = open(copying, O_CREAT | O_WRONLY, 0o644)
        #expect(fd >= 0)
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        try handle.write(contentsOf: Data("first half".utf8))
        let node = try h.config("w", plugin: FileWatchPlugin.self, options: ["path": .string(inbox), "pattern": "*.zip"])

        // --once: only the complete file.
        let once = Emitted()
        try await FileWatchPlugin(node: node, context: h.context()).run(once.sourceOutput(once: true))
        let onceNames = try records(once.all).compactMap { $0["name"]?.stringValue }
        #expect(onceNames == ["done.zip"], "\(onceNames); writers seen: \(OpenWriters.among([copying]))")

        // Watching: the complete file at start; the other one once it is closed, whole, once.
        let plugin = try FileWatchPlugin(node: node, context: h.context())
        let out = Emitted()
        let watching = Task { try await plugin.run(out.sourceOutput(once: false)) }
        try await waitFor { (try? records(out.all).count) == 1 }
        try handle.write(contentsOf: Data(", second half".utf8))
        try await Task.sleep(for: .milliseconds(100))
        #expect(try records(out.all).count == 1)
        close(fd)
        try await waitFor { (try? records(out.all).count) == 2 }
        try await Task.sleep(for: .milliseconds(100))
        watching.cancel()
        _ = try? await watching.value
        let rows = try records(out.all)
        #expect(rows.compactMap { $0["name"]?.stringValue } == ["done.zip", "copying.zip"])
        #expect(rows.last?["size"] == .int(Int64("first half, second half".utf8.count)))
    }

    @Test func openWritersAreFoundThroughProc() throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let writing = h.directory + "/w.bin", reading = h.directory + "/r.bin", idle = h.directory + "/i.bin"
        for path in [writing, reading, idle] { try touch(path) }
        let w = open(writing, O_WRONLY | O_APPEND)
        let r = open(reading, O_RDONLY)
        defer { close(w); close(r) }
        // Through a symlinked folder too: /proc shows resolved paths.
        let alias = h.directory + "/alias"
        try FileManager.default.createSymbolicLink(atPath: alias, withDestinationPath: h.directory)
        let found = OpenWriters.among([writing, reading, idle, alias + "/w.bin"])
        #expect(Set(found.keys) == [writing, alias + "/w.bin"])
        #expect(found[writing] == getpid())
    }

    /// A process spawning a program holds copies of its parent's descriptors for a moment:
    /// a file held at the first look only is not being written; one held at every look is.
    @Test func aWriterSeenAtOneLookOnlyIsNotAWriter() async {
        let looks = LookCounter()
        let held = await OpenWriters.lasting(among: ["/in/a.zip", "/in/b.zip"]) { paths in
            let n = looks.next()
            // b.zip is held throughout; a.zip only at the first look (a child about to exec).
            return Dictionary(uniqueKeysWithValues: paths.filter { $0.hasSuffix("b.zip") || n == 0 }.map { ($0, pid_t(7)) })
        }
        #expect(held == ["/in/b.zip": 7])
        #expect(looks.count == 3)
        #expect(await OpenWriters.lasting(among: ["/in/a.zip"]) { _ in [:] }.isEmpty)
    }

    @Test func emitContentsSendsEachArrowFileAsItIs() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let inbox = h.directory + "/in"
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        let schema = ArrowSchema(fields: [ArrowField(name: "x", type: .utf8)])
        let bytes = Data(try ArrowStreamWriter.encode(schema: schema, batches: [try RecordBatch(schema: schema, rows: [[.string("hi")]])]))
        try bytes.write(to: URL(fileURLWithPath: inbox + "/a.arrows"))
        try touch(inbox + "/skip.txt")
        let plugin = try FileWatchPlugin(node: try h.config("w", plugin: FileWatchPlugin.self,
                                                        options: ["path": .string(inbox), "pattern": "*.arrows", "emit": "contents"]),
                                         context: h.context())
        let out = Emitted()
        try await plugin.run(out.sourceOutput(once: true))
        #expect(out.all.count == 1)
        if case .arrow(let data)? = out.all.first { #expect(try data.ipcBytes() == bytes) } else { Issue.record("no arrow payload") }
        #expect { _ = try h.config("w", plugin: FileWatchPlugin.self, options: ["path": .string(inbox), "emit": "contnets"]) } throws: {
            "\($0)".contains("must be one of 'metadata', 'contents'") && "\($0)".contains("did you mean 'contents'")
        }
    }

    @Test func trackerEmitsAFileAgainOnlyWhenItChanged() throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let path = h.directory + "/f.zip"
        try touch(path, "1")
        var tracker = FileTracker()
        #expect(tracker.admit(path) != nil)
        #expect(tracker.admit(path) == nil)
        try touch(path, "22")
        #expect(tracker.admit(path) != nil)
        #expect(tracker.admit(h.directory + "/missing.zip") == nil)
    }

    /// Waits for `condition`, polling, for at most 20 s (then the test fails naming the line).
    func waitFor(sourceLocation: Testing.SourceLocation = #_sourceLocation, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("timed out waiting", sourceLocation: sourceLocation)
    }
}

@Suite(.timeLimit(.minutes(5))) struct ArrowDecodeAndCaptureTests {
    @Test func decodesEveryRowWithTypes() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let schema = ArrowSchema(fields: [ArrowField(name: "s", type: .utf8), ArrowField(name: "i", type: .int64),
                                          ArrowField(name: "f", type: .float64), ArrowField(name: "b", type: .bool)])
        let batch = try RecordBatch(schema: schema, rows: [[.string("x"), .int(1), .float(1.5), .bool(true)],
                                                           [.null, .int(-2), .null, .bool(false)]])
        let bytes = try ArrowStreamWriter.encode(schema: schema, batches: [batch, batch])
        let plugin = try ArrowDecodePlugin(node: try h.config("d", plugin: ArrowDecodePlugin.self, options: [:]), context: h.context())
        let out = Emitted()
        try await plugin.process(ArrowData(bytes: Data(bytes)), out.output)
        let rows = out.all.compactMap { p -> Record? in if case .record(let r) = p { return r } else { return nil } }
        #expect(rows.count == 4)
        #expect(rows[0] == Record([("s", "x"), ("i", 1), ("f", 1.5), ("b", true)]))
        #expect(rows[1] == Record([("s", .null), ("i", -2), ("f", .null), ("b", false)]))
    }

    @Test func decodesABatchBuiltInProcessAsItIs() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let schema = ArrowSchema(fields: [ArrowField(name: "path", type: .utf8), ArrowField(name: "size", type: .int64)])
        let batch = try RecordBatch(schema: schema, rows: [[.string("a: b.zip"), .int(7)]])
        let plugin = try ArrowDecodePlugin(node: try h.config("d", plugin: ArrowDecodePlugin.self, options: [:]), context: h.context())
        let out = Emitted()
        try await plugin.process(ArrowData(table: ArrowTable(schema: schema, batches: [batch])), out.output)
        let rows = out.all.compactMap { p -> Record? in if case .record(let r) = p { return r } else { return nil } }
        #expect(rows == [Record([("path", "a: b.zip"), ("size", 7)])])
    }

    @Test func malformedDataFailsTheMessageNotTheProcess() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let plugin = try ArrowDecodePlugin(node: try h.config("d", plugin: ArrowDecodePlugin.self, options: [:]), context: h.context())
        await #expect { try await plugin.process(ArrowData(bytes: Data([0xFF, 0xFF, 0xFF, 0xFF, 0x10, 0, 0, 0, 1, 2])), Emitted().output) }
            throws: { "\($0)".contains("malformed Arrow data") }
    }

    @Test func captureAppendsOneJSONLinePerMessage() async throws {
        let h = try PluginHarness()
        defer { h.cleanUp() }
        let path = h.directory + "/out/c.jsonl"
        let plugin = try CapturePlugin(node: try h.config("c", plugin: CapturePlugin.self, options: ["path": .string(path)]), context: h.context())
        try await plugin.process(.record(Record([("a", 1)])), Emitted().output)
        try await plugin.process(.record(Record([("a", "x\ny")])), Emitted().output)
        try await plugin.finish()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines == [#"{"type":"record","value":{"a":1}}"#, #"{"type":"record","value":{"a":"x\ny"}}"#])
    }
}

/// Counts calls of a look function in a test.
final class LookCounter: Sendable {
    private let calls = Mutex(0)
    var count: Int { calls.withLock { $0 } }
    func next() -> Int { calls.withLock { n in defer { n += 1 }; return n } }
}
