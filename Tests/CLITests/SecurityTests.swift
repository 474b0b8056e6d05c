import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HyphaArrow
import Testing

/// What an untrusted sender, an untrusted file name or an untrusted zip can make Hypha do
/// (docs/SECURITY.md): jobs stay inside WORK, see none of Hypha's secrets, and the HTTP
/// source's resources stay bounded.
@Suite(.serialized, .timeLimit(.minutes(5))) struct SecurityTests {
    /// An Arrow stream of file records, as a download node would send.
    static func fileRecords(_ rows: [(path: String, name: String)]) throws -> Data {
        let schema = ArrowSchema(fields: [ArrowField(name: "path", type: .utf8), ArrowField(name: "name", type: .utf8)])
        let batch = try RecordBatch(schema: schema, rows: rows.map { [.string($0.path), .string($0.name)] })
        return Data(try ArrowStreamWriter.encode(schema: schema, batches: [batch]))
    }

    /// POSTs an Arrow body; the status and the answer's text (-1 when nothing answered).
    static func post(_ body: Data, port: Int, token: String? = nil) async -> (Int, String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/arrow")!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/vnd.apache.arrow.stream", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        guard let (data, response) = try? await URLSession.shared.data(for: request) else { return (-1, "") }
        return ((response as? HTTPURLResponse)?.statusCode ?? -1, String(decoding: data, as: UTF8.self))
    }

    static func waitForListening(port: Int) async throws {
        for _ in 0..<200 {
            if await post(Data(), port: port).0 != -1 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("nothing listened on port \(port)")
    }

    static func log(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// The review's attack: `{"path": a readable zip, "name": "...zip"}` made `stem` yield `..`
    /// and the jobs write beside WORK. Now that message fails with the filter's error and no job
    /// runs for it; a path outside the allowed folder is refused with 403; a good one still runs.
    @Test func aDotDotNameSentToTheJobNodeRunsNoJobOutsideWork() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inbox = dir + "/in", work = dir + "/base/work", outside = dir + "/outside"
        try CLI.makeZips(in: inbox, count: 1, tricky: false)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let zip = try #require(try FileManager.default.contentsOfDirectory(atPath: inbox).first { $0.hasSuffix(".zip") })
        try FileManager.default.copyItem(atPath: "\(inbox)/\(zip)", toPath: "\(outside)/other.zip")
        // A folder WORK/../files with a file in it: the attack used to replace it.
        try FileManager.default.createDirectory(atPath: dir + "/base/files", withIntermediateDirectories: true)
        try "keep me".write(toFile: dir + "/base/files/precious.txt", atomically: true, encoding: .utf8)

        let port = ArrowHTTPTests.freePort()
        let node = try ArrowHTTPTests.start([CLI.shipped("workflows/job-node.yml"), "--var", "port=\(port)",
                                             "--var", "inbox=\(inbox)", "--var", "work=\(work)", "--var", "token=tok",
                                             "--run-dir", dir + "/run", "--state-dir", dir + "/state"], log: dir + "/node.log")
        defer { ArrowHTTPTests.stop(node) }
        try await Self.waitForListening(port: port)

        let (attack, _) = await Self.post(try Self.fileRecords([("\(inbox)/\(zip)", "...zip")]), port: port, token: "tok")
        #expect(attack == 200, "the message itself is well-formed Arrow; it fails at the template")
        let (elsewhere, why) = await Self.post(try Self.fileRecords([("\(outside)/other.zip", "other.zip")]), port: port, token: "tok")
        #expect(elsewhere == 403, "\(why)")
        #expect(why.contains("outside the allowed paths"), "\(why)")
        let (good, _) = await Self.post(try Self.fileRecords([("\(inbox)/\(zip)", zip)]), port: port, token: "tok")
        #expect(good == 200)

        let stem = String(zip.dropLast(4))
        #expect(ArrowHTTPTests.waitUntil(60) { FileManager.default.fileExists(atPath: "\(work)/\(stem)/report.json") },
                "the good record's jobs ran: \(Self.log(dir + "/node.log"))")
        #expect(ArrowHTTPTests.waitUntil(10) { Self.log(dir + "/node.log").contains("filter 'stem' of \"...zip\" gives \"..\"") },
                "\(Self.log(dir + "/node.log"))")
        #expect(try String(contentsOfFile: dir + "/base/files/precious.txt", encoding: .utf8) == "keep me")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/base/files") == ["precious.txt"])
        for stray in ["report.json", "report.csv"] {
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/base/\(stray)"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: work) == [stem])
    }

    /// A workflow that runs one job per file in `inbox` with `program` and `arguments`.
    static func oneJobWorkflow(_ dir: String, program: String, arguments: [String], processOptions: String = "",
                               taskEnv: String = "{}") throws -> String {
        try FileManager.default.createDirectory(atPath: dir + "/jobstore", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/in/one.txt", contents: Data("1".utf8))
        let args = arguments.map { "\"\($0)\"" }.joined(separator: ", ")
        try """
            Type: batch
            Count: 1
            Tasks:
              - Name: t
                Engine: {Type: process, Params: {Name: \(program), Arguments: [\(args)]}}
                Env: \(taskEnv)
            """.write(toFile: dir + "/jobstore/job.yml", atomically: true, encoding: .utf8)
        try """
            jobstore: jobstore
            nodes:
              files: { plugin: file-watch, path: in }
              decode: { plugin: arrow-decode, from: files }
              spec: { plugin: template, from: decode, job: job }
              run: { plugin: process, from: spec\(processOptions) }
            """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        return dir + "/wf.yml"
    }

    /// The one job's stdout log.
    static func jobStdout(_ runDir: String) throws -> String {
        let jobs = runDir + "/jobs"
        let log = try #require(try FileManager.default.contentsOfDirectory(atPath: jobs).first { $0.hasSuffix(".stdout.log") })
        return try String(contentsOfFile: "\(jobs)/\(log)", encoding: .utf8)
    }

    @Test func jobsSeeOnlyTheAllowlistPassthroughAndTaskEnv() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.oneJobWorkflow(dir, program: "env", arguments: [],
                                               processOptions: ", env_passthrough: [SHARED_SETTING]",
                                               taskEnv: "{FROM_SPEC: \"yes\"}")
        var environment = ProcessInfo.processInfo.environment
        environment["BACALHAU_API_KEY"] = "secret-1"
        environment["HYPHA_TOKEN"] = "secret-2"
        environment["AWS_SECRET_ACCESS_KEY"] = "secret-3"
        environment["SHARED_SETTING"] = "shared"
        let r = try CLI.run(["run", workflow, "--once", "--run-dir", dir + "/run", "--state-dir", dir + "/state", "--no-progress"], environment: environment)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let lines = try Self.jobStdout(dir + "/run").split(separator: "\n")
        let names = Set(lines.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        let allowed: Set = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SHARED_SETTING", "FROM_SPEC",
                              "HYPHA_JOB_OF"]  // the job guard's marker: the state folder's path
        #expect(names.isSubset(of: allowed), "unexpected: \(names.subtracting(allowed))")
        #expect(lines.contains("SHARED_SETTING=shared") && lines.contains("FROM_SPEC=yes"))
        #expect(!lines.contains { $0.contains("secret-") })
    }

    /// A venv's `python3` is a symlink to the system's; started by its venv path, it runs in
    /// the venv. Program lookup keeps the path it found on PATH.
    @Test func aVenvPythonOnPathRunsInTheVenv() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try CLI.spawn("/usr/bin/env", ["python3", "-m", "venv", "--without-pip", dir + "/venv"])
        try #require(made.status == 0, "python3 -m venv: \(made.stderr)")
        let workflow = try Self.oneJobWorkflow(dir, program: "python3", arguments: ["-c", "import sys; print(sys.prefix)"])
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = dir + "/venv/bin:" + (environment["PATH"] ?? "/usr/bin:/bin")
        let r = try CLI.run(["run", workflow, "--once", "--run-dir", dir + "/run", "--state-dir", dir + "/state", "--no-progress"], environment: environment)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let prefix = try Self.jobStdout(dir + "/run").trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = URL(fileURLWithPath: dir + "/venv").resolvingSymlinksInPath().path
        #expect(URL(fileURLWithPath: prefix).resolvingSymlinksInPath().path == expected)
    }

    /// A file whose name is not UTF-8 is skipped with a warning that names it; the others go on.
    @Test func aNonUTF8FileNameIsSkippedWithAWarning() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/in/good.txt", contents: Data("1".utf8))
        let bad = Array((dir + "/in/bad").utf8) + [0xFF, 0xFE] + Array(".txt".utf8) + [0]
        let fd = bad.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) } }
        try #require(fd >= 0)
        close(fd)
        try """
            nodes:
              files: { plugin: file-watch, path: in }
              decode: { plugin: arrow-decode, from: files }
              out: { plugin: capture, from: decode, path: seen.jsonl }
            """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", dir + "/wf.yml", "--once", "--run-dir", dir + "/run", "--state-dir", dir + "/state", "--no-progress"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stderr.contains("bad\\xff\\xfe.txt") && r.stderr.contains("not valid UTF-8"), "\(r.stderr)")
        let seen = try String(contentsOfFile: dir + "/seen.jsonl", encoding: .utf8)
        #expect(seen.contains("good.txt"))
        #expect(!seen.contains("bad"))
    }
}

/// The arrow-http source's limits: idle connections are closed, slow bodies time out, and
/// bodies in flight are capped.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ArrowHTTPLimitTests {
    /// A workflow with an arrow-http source (given options) feeding a capture sink.
    static func start(_ dir: String, options: String) throws -> (Process, Int) {
        let port = ArrowHTTPTests.freePort()
        try """
            nodes:
              incoming: { plugin: arrow-http, port: \(port)\(options) }
              out: { plugin: capture, from: incoming, path: got.jsonl }
            """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        let node = try ArrowHTTPTests.start([dir + "/wf.yml", "--run-dir", dir + "/run", "--state-dir", dir + "/state"], log: dir + "/node.log")
        return (node, port)
    }

    static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// A TCP connection to 127.0.0.1:`port` that has sent `text` and then stalls.
    static func connect(_ port: Int, sending text: String) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if ok != 0 { close(fd); return -1 }
        _ = text.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        return fd
    }

    /// Whether the server has closed `fd` (a read returns 0 or an error, not "would block").
    static func closedByServer(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// How long after `openedAt` each of `sockets` was seen `closed` (polled until all are, or
    /// `seconds` pass): nil for one still open. A lower bound on the server's closing is sure;
    /// an upper bound is only as good as the machine's speed.
    static func lifetimes(_ sockets: [Int32], openedAt: [Date], within seconds: Double, closed: (Int32) -> Bool) -> [Double?] {
        var lived = [Double?](repeating: nil, count: sockets.count)
        _ = ArrowHTTPTests.waitUntil(seconds) {
            for (i, fd) in sockets.enumerated() where lived[i] == nil && fd >= 0 && closed(fd) {
                lived[i] = Date().timeIntervalSince(openedAt[i])
            }
            return lived.allSatisfy { $0 != nil }
        }
        return lived
    }

    /// Whether something has arrived on `fd` (without taking it).
    static func hasAnswer(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK)) >= 0
    }

    @Test func twoHundredStalledConnectionsAreClosedAfterTheIdleTimeout() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Above the 200 connections, so that all are accepted at once.
        let (node, port) = try Self.start(dir, options: ", idle_timeout: 1s, max_connections: 300")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)
        let baseline = Self.openDescriptors(node.processIdentifier)
        // Half send part of a request head, half nothing at all: neither ever completes.
        var opened: [Date] = []
        let sockets = (0..<200).map { i in
            defer { opened.append(Date()) }
            return Self.connect(port, sending: i % 2 == 0 ? "POST /arrow HTTP/1.1\r\nHost: x\r\n" : "")
        }
        defer { for fd in sockets where fd >= 0 { close(fd) } }
        #expect(sockets.allSatisfy { $0 >= 0 })
        // Every one is closed by the server (which only an accepted connection can be), none
        // before the idle timeout: how many were held at once depends on timing, so it is not asked.
        let lived = Self.lifetimes(sockets, openedAt: opened, within: 15, closed: Self.closedByServer)
        #expect(lived.allSatisfy { $0 != nil }, "still open after 15 s: \(lived.filter { $0 == nil }.count) of 200")
        #expect(lived.compactMap { $0 }.allSatisfy { $0 >= 0.9 }, "closed before idle_timeout (1 s): \(lived.compactMap { $0 }.min() ?? 0) s")
        #expect(ArrowHTTPTests.waitUntil(5) { Self.openDescriptors(node.processIdentifier) <= baseline + 5 },
                "descriptors after the timeout: \(Self.openDescriptors(node.processIdentifier)), before: \(baseline)")
        // And the node still serves.
        #expect(await SecurityTests.post(try SecurityTests.fileRecords([("/a", "a")]), port: port).0 == 200)
    }

    @Test func aBodyThatTrickles408sAndBodiesInFlightAreCapped() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, port) = try Self.start(dir, options: ", read_timeout: 1s, max_in_flight: 1, idle_timeout: 30s")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)
        // The head and 10 of 1,000 body bytes: the handler holds the only place in flight.
        let head = "POST /arrow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/vnd.apache.arrow.stream\r\nContent-Length: 1000\r\n\r\n"
        var slow = Self.connect(port, sending: head + String(repeating: "x", count: 10))
        defer { close(slow) }
        var capped = false
        for _ in 0..<50 where !capped {
            let (status, text) = await SecurityTests.post(try SecurityTests.fileRecords([("/a", "a")]), port: port)
            capped = status == 503 && text.contains("already being received")
            // If the slow request came second and was itself refused, it starts again.
            if !capped && Self.hasAnswer(slow) {
                close(slow)
                slow = Self.connect(port, sending: head + String(repeating: "x", count: 10))
            }
        }
        #expect(capped, "with max_in_flight: 1 held by a slow body, a second body was not answered 503")
        // The slow one is answered 408 once read_timeout has passed.
        var answer = [UInt8](repeating: 0, count: 4096)
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let n = recv(slow, &answer, answer.count, 0)
        let text = n > 0 ? String(decoding: answer.prefix(n), as: UTF8.self) : ""
        #expect(text.hasPrefix("HTTP/1.1 408"), "\(text)")
        // Its place is free again.
        #expect(await SecurityTests.post(try SecurityTests.fileRecords([("/a", "a")]), port: port).0 == 200)
    }

    /// The documented defaults (docs/PLUGINS.md, docs/SECURITY.md) are what `hypha plugins` says
    /// and what a node with no limit set does: a body announced at 64 MiB + 1 is 413 on its head
    /// alone, one of 64 MiB is taken, and four of them arriving slowly hold every place, so the
    /// fifth body is 503 at once; with one of them gone, a body is taken again.
    @Test func theDefaultLimitsAreTheDocumentedOnes() async throws {
        let listed = try CLI.run(["plugins"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let section = listed.stdout.components(separatedBy: "\narrow-http  (").dropFirst().first?.components(separatedBy: "\n\n").first ?? ""
        for option in ["idle_timeout: duration, default 30.0,", "read_timeout: duration, default 60.0,", "max_bytes: int, default 67108864,",
                       "max_in_flight: int, default 4,", "max_connections: int, default 100,"] {
            #expect(section.contains("  - " + option), "\(option) in: \(section)")
        }

        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, port) = try Self.start(dir, options: "")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)
        let head = { (length: Int) in HTTPSecurityTests.arrowHead + "Content-Length: \(length)\r\n\r\n" }
        let over = HTTPSecurityTests.exchange(port, Data(head(64 << 20 + 1).utf8))
        #expect(over.hasPrefix("HTTP/1.1 413"), "a body of 64 MiB + 1, announced and not sent: \(over)")

        var slow = (0..<4).map { _ in Self.connect(port, sending: head(64 << 20) + "xx") }
        defer { for fd in slow where fd >= 0 { close(fd) } }
        let small = try SecurityTests.fileRecords([("/a", "a")])
        var capped = false
        for _ in 0..<100 where !capped {
            let (status, text) = await SecurityTests.post(small, port: port)
            capped = status == 503 && text.contains("4 bodies are already being received")
            // A slow one that came after this post and was refused starts again.
            for i in slow.indices where !capped && Self.hasAnswer(slow[i]) {
                close(slow[i])
                slow[i] = Self.connect(port, sending: head(64 << 20) + "xx")
            }
            if !capped { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(capped, "four bodies of 64 MiB in flight, and a fifth was not answered 503")
        #expect(!slow.contains(where: Self.hasAnswer), "a body of exactly 64 MiB was answered before it arrived")
        close(slow[0])
        slow[0] = -1
        var taken = false
        for _ in 0..<100 where !taken {
            taken = await SecurityTests.post(small, port: port).0 == 200
            if !taken { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(taken, "three bodies in flight, and a fourth was not taken")
    }

    /// A message that lacks a field of the node's declared `schema` is refused with 400.
    @Test func aMessageThatDoesNotFitTheDeclaredSchemaIs400() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, port) = try Self.start(dir, options: ", schema: { path: string, size: int }")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)
        let (status, text) = await SecurityTests.post(try SecurityTests.fileRecords([("/a", "a")]), port: port)
        #expect(status == 400)
        #expect(text.contains("does not fit this node's schema: it has no column 'size'"), "\(text)")
    }
}

/// What a hostile client on the same machine can do to the arrow-http source's connections
/// (docs/SECURITY.md): a connection answered before its body was read is closed at once, slow
/// bodies and heads are cut at their deadlines, connections are capped, and a request for
/// another Host is refused.
@Suite(.serialized, .timeLimit(.minutes(3))) struct HTTPSecurityTests {
    static let arrowHead = "POST /arrow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/vnd.apache.arrow.stream\r\n"

    /// Sends a byte on `fd` every 100 ms and collects what comes back, until the server closes
    /// the connection or `seconds` pass: the answer, and whether it was closed.
    static func drip(_ fd: Int32, for seconds: Double) -> (answer: String, closed: Bool) {
        var answer: [UInt8] = []
        var closed = false
        let deadline = Date().addingTimeInterval(seconds)
        var nextDrip = Date()
        while !closed && Date() < deadline {
            if Date() >= nextDrip {
                if send(fd, "x", 1, Int32(MSG_NOSIGNAL)) < 0 && errno != EAGAIN { closed = true }
                nextDrip = Date().addingTimeInterval(0.1)
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 { answer += buffer.prefix(n) } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { closed = true }
            if !closed { usleep(10_000) }
        }
        return (String(decoding: answer, as: UTF8.self), closed)
    }

    /// Whether the server has closed `fd`, reading past whatever answer it sent first.
    static func closedAfterAnswer(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 { continue }
            return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
        }
    }

    /// Sends `bytes` on a new connection and reads until the server closes it (at most 10 s).
    static func exchange(_ port: Int, _ bytes: Data) -> String {
        let fd = ArrowHTTPLimitTests.connect(port, sending: "")
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            answer += buffer.prefix(n)
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// A whole POST of `body` with `host` as its Host header.
    static func post(_ body: Data, host: String) -> Data {
        let head = "POST /arrow HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/vnd.apache.arrow.stream\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Data(head.utf8) + body
    }

    /// The review's attack: bodies of 4 MB announced and dripped after a 401 (no token) or a 503
    /// (the place in flight taken) kept their connections open for as long as they dripped.
    @Test func aDrippingBodyIsClosedRightAfterItsRefusal() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, port) = try ArrowHTTPLimitTests.start(dir, options: ", token: tok, max_in_flight: 1, idle_timeout: 30s, read_timeout: 20s")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)
        let baseline = ArrowHTTPLimitTests.openDescriptors(node.processIdentifier)
        let unauthorized = Self.arrowHead + "Content-Length: 4000000\r\n\r\nxx"
        // 50 at once: each is answered 401 and closed while it still drips.
        let sockets = (0..<50).map { _ in ArrowHTTPLimitTests.connect(port, sending: unauthorized) }
        defer { for fd in sockets where fd >= 0 { close(fd) } }
        let first = Self.drip(sockets[0], for: 5)
        #expect(first.answer.hasPrefix("HTTP/1.1 401"), "\(first.answer)")
        #expect(first.answer.lowercased().contains("connection: close"), "\(first.answer)")
        #expect(first.answer.lowercased().contains("\r\nwww-authenticate: bearer\r\n"), "a 401 names its scheme: \(first.answer)")
        #expect(first.closed, "the connection is still open 5 s after its 401 while the client drips")
        #expect(ArrowHTTPTests.waitUntil(5) { ArrowHTTPLimitTests.openDescriptors(node.processIdentifier) <= baseline + 2 },
                "descriptors: \(ArrowHTTPLimitTests.openDescriptors(node.processIdentifier)), at rest \(baseline)")

        // One slow body with the token takes the only place; the next is answered 503 and closed.
        let slowHead = Self.arrowHead + "Authorization: Bearer tok\r\nContent-Length: 1000\r\n\r\n"
        var slow = ArrowHTTPLimitTests.connect(port, sending: slowHead + "xx")
        defer { close(slow) }
        // Until the server has read the slow head (a busy machine may take seconds), posts still get
        // in; and one that got in first has the slow one answered 503 instead: it starts again.
        var capped = false
        let deadline = ContinuousClock.now + .seconds(30)
        while !capped && ContinuousClock.now < deadline {
            let (status, text) = await SecurityTests.post(try SecurityTests.fileRecords([("/a", "a")]), port: port, token: "tok")
            capped = status == 503 && text.contains("already being received")
            if !capped && ArrowHTTPLimitTests.hasAnswer(slow) {
                close(slow)
                slow = ArrowHTTPLimitTests.connect(port, sending: slowHead + "xx")
            }
            if !capped { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(capped, "the slow body never took the place in flight in 30 s")
        let fd = ArrowHTTPLimitTests.connect(port, sending: Self.arrowHead + "Authorization: Bearer tok\r\nContent-Length: 4000000\r\n\r\nxx")
        defer { close(fd) }
        let refused = Self.drip(fd, for: 5)
        #expect(refused.answer.hasPrefix("HTTP/1.1 503"), "\(refused.answer)")
        #expect(refused.closed, "the connection is still open 5 s after its 503 while the client drips")
    }

    /// A body that drips past read_timeout is answered 408, and its connection closed, not read
    /// on for as long as the client drips.
    @Test func aBodyDrippingPastTheReadTimeoutIsClosedAfterIts408() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, port) = try ArrowHTTPLimitTests.start(dir, options: ", read_timeout: 1s, idle_timeout: 30s")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)
        let fd = ArrowHTTPLimitTests.connect(port, sending: Self.arrowHead + "Content-Length: 4000000\r\n\r\nxx")
        defer { close(fd) }
        let dripped = Self.drip(fd, for: 5)
        #expect(dripped.answer.hasPrefix("HTTP/1.1 408"), "\(dripped.answer)")
        #expect(dripped.closed, "the connection is still open 5 s after a read_timeout of 1 s")
    }

    /// A partial head sent a byte at a time is closed after idle_timeout, however it drips.
    @Test func aHeadDrippingPastTheIdleTimeoutIsClosed() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, port) = try ArrowHTTPLimitTests.start(dir, options: ", idle_timeout: 1s")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)
        let fd = ArrowHTTPLimitTests.connect(port, sending: "POST /arrow HTTP/1.1\r\nX-Slow: ")
        defer { close(fd) }
        let dripped = Self.drip(fd, for: 4)
        #expect(dripped.closed, "a head still arriving after 4 s with an idle_timeout of 1 s")
        #expect(dripped.answer.isEmpty, "\(dripped.answer)")
    }

    /// Past max_connections, new connections wait unaccepted (holding no descriptor of Hypha's),
    /// a warning says so once, and they are served once the others are gone.
    @Test func connectionsPastTheLimitWaitAndAreServedLater() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, port) = try ArrowHTTPLimitTests.start(dir, options: ", max_connections: 5, idle_timeout: 1s")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)
        let baseline = ArrowHTTPLimitTests.openDescriptors(node.processIdentifier)
        let sockets = (0..<30).map { _ in ArrowHTTPLimitTests.connect(port, sending: "") }
        defer { for fd in sockets where fd >= 0 { close(fd) } }
        let log = dir + "/node.log"
        #expect(ArrowHTTPTests.waitUntil(5) { SecurityTests.log(log).contains("has 5 connections open, its limit") }, "\(SecurityTests.log(log))")
        // The server socket accepts a few at a time, so it may go a little past the limit.
        let held = ArrowHTTPLimitTests.openDescriptors(node.processIdentifier)
        #expect(held <= baseline + 5 + 4, "descriptors \(held) with 30 connections, at rest \(baseline)")
        #expect(SecurityTests.log(log).components(separatedBy: "its limit").count == 2, "said once: \(SecurityTests.log(log))")
        // Five at a time, each closed after a second: all of them within a few seconds.
        #expect(ArrowHTTPTests.waitUntil(15) { sockets.allSatisfy(ArrowHTTPLimitTests.closedByServer) })
        #expect(await SecurityTests.post(try SecurityTests.fileRecords([("/a", "a")]), port: port).0 == 200)
    }

    /// `IN/dirlink/../secret.zip`, with dirlink pointing to a folder outside IN, is the secret
    /// beside that folder (as the system opens it), not IN/secret.zip; a null `path` or none at
    /// all is refused too.
    @Test func allowedPathsResolveLinksBeforeDotDotAndRefuseNullPaths() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inbox = dir + "/in", outside = dir + "/outside"
        for folder in [inbox, outside + "/sub"] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        try "secret".write(toFile: outside + "/secret.zip", atomically: true, encoding: .utf8)
        try "fine".write(toFile: inbox + "/fine.zip", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: inbox + "/dirlink", withDestinationPath: outside + "/sub")
        let (node, port) = try ArrowHTTPLimitTests.start(dir, options: ", allowed_paths: [\(inbox)]")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)

        let (escape, why) = await SecurityTests.post(try SecurityTests.fileRecords([("\(inbox)/dirlink/../secret.zip", "s.zip")]), port: port)
        #expect(escape == 403, "\(why)")
        #expect(why.contains("row 0: path '\(inbox)/dirlink/../secret.zip' is outside the allowed paths"), "\(why)")

        let schema = ArrowSchema(fields: [ArrowField(name: "path", type: .utf8), ArrowField(name: "name", type: .utf8)])
        let nullRow = try RecordBatch(schema: schema, rows: [[.string(inbox + "/fine.zip"), .string("a")], [.null, .string("b")]])
        let (null, nullWhy) = await SecurityTests.post(Data(try ArrowStreamWriter.encode(schema: schema, batches: [nullRow])), port: port)
        #expect(null == 403, "\(nullWhy)")
        #expect(nullWhy.contains("row 1: 'path' is null"), "\(nullWhy)")

        let nameOnly = ArrowSchema(fields: [ArrowField(name: "name", type: .utf8)])
        let noPath = try RecordBatch(schema: nameOnly, rows: [[.string("b")]])
        let (missing, missingWhy) = await SecurityTests.post(Data(try ArrowStreamWriter.encode(schema: nameOnly, batches: [noPath])), port: port)
        #expect(missing == 403, "\(missingWhy)")
        #expect(missingWhy.contains("no 'path' column"), "\(missingWhy)")

        let (good, goodWhy) = await SecurityTests.post(try SecurityTests.fileRecords([("\(inbox)/./dirlink/../../in/fine.zip", "f.zip")]), port: port)
        #expect(good == 200, "a link and .. that land inside: \(goodWhy)")
    }

    /// DNS rebinding: a page of another site whose name points at 127.0.0.1 posts with its own
    /// name as Host. Refused with 421; loopback names and allowed_hosts are served.
    @Test func aRequestForAnotherHostIsRefused() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, port) = try ArrowHTTPLimitTests.start(dir, options: ", allowed_hosts: [hypha.test]")
        defer { ArrowHTTPTests.stop(node) }
        try await SecurityTests.waitForListening(port: port)
        let body = try SecurityTests.fileRecords([("/a", "a")])
        let rebound = Self.exchange(port, Self.post(body, host: "attacker.example:\(port)"))
        #expect(rebound.hasPrefix("HTTP/1.1 421"), "\(rebound)")
        #expect(rebound.contains("not Host 'attacker.example:\(port)'") && rebound.contains("allowed_hosts"), "\(rebound)")
        for host in ["127.0.0.1:\(port)", "localhost:\(port)", "[::1]:\(port)", "hypha.test:\(port)", "LOCALHOST"] {
            let answer = Self.exchange(port, Self.post(body, host: host))
            #expect(answer.hasPrefix("HTTP/1.1 200"), "Host \(host): \(answer)")
        }
    }
}
