import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The job node as a service (docs/SERVICE.md): `hypha send` as the manual trigger, the
/// token rule for an exposed arrow-http source, HTTPS with a private CA, the systemd unit,
/// and sd_notify.
@Suite(.serialized, .timeLimit(.minutes(5))) struct NodeServiceTests {
    /// `workflows/job-node.yml` running on temporary folders with token "tok".
    struct JobNode {
        let dir: String, inbox: String, work: String, port: Int, process: Process
        var url: String { "http://127.0.0.1:\(port)/arrow" }
        var log: String { SecurityTests.log(dir + "/node.log") }
    }

    static func startJobNode(zips: Int) async throws -> JobNode {
        let dir = try CLI.temporaryFolder()
        let inbox = dir + "/in", work = dir + "/work"
        try CLI.makeZips(in: inbox, count: zips, tricky: false)
        let port = ArrowHTTPTests.freePort()
        let process = try ArrowHTTPTests.start([CLI.shipped("workflows/job-node.yml"), "--var", "port=\(port)",
                                                "--var", "inbox=\(inbox)", "--var", "work=\(work)", "--var", "token=tok",
                                                "--run-dir", dir + "/run", "--state-dir", dir + "/state"], log: dir + "/node.log")
        // Waits on the log, not with a request: a kept-alive connection would hold the stop
        // for the node's idle_timeout.
        let listening = ArrowHTTPTests.waitUntil(60) { SecurityTests.log(dir + "/node.log").contains("listening on") }
        #expect(listening, "\(SecurityTests.log(dir + "/node.log"))")
        return JobNode(dir: dir, inbox: inbox, work: work, port: port, process: process)
    }

    static func zips(in folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".zip") }.sorted()
    }

    @Test func sendWithRecordMakesTheJobNodeRunItsJobsAndAWrongTokenIsA401() async throws {
        let node = try await Self.startJobNode(zips: 3)
        defer { ArrowHTTPTests.stop(node.process); try? FileManager.default.removeItem(atPath: node.dir) }
        let zips = try Self.zips(in: node.inbox)
        try #require(zips.count == 3)

        let wrong = try CLI.run(["send", node.url, "--record", "path=\(node.inbox)/\(zips[0])", "--record", "name=\(zips[0])",
                                 "--token", "nope"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("HTTP 401") && wrong.stderr.contains("--token"), "\(wrong.stderr)")

        let sent = try CLI.run(["send", node.url, "--record", "path=\(node.inbox)/\(zips[1])", "--record", "name=\(zips[1])",
                                "--token", "tok"])
        #expect(sent.status == 0, "\(sent.stdout)\n\(sent.stderr)")
        #expect(sent.stdout.contains("\"status\":200") && sent.stdout.contains("\"rows\":1"), "\(sent.stdout)")
        let stem = String(zips[1].dropLast(4))
        #expect(ArrowHTTPTests.waitUntil(60) { FileManager.default.fileExists(atPath: "\(node.work)/\(stem)/report.json") },
                "the jobs ran for the sent record: \(node.log)")
        // An Arrow file's rows go as they are.
        try SecurityTests.fileRecords([("\(node.inbox)/\(zips[2])", zips[2])]).write(to: URL(fileURLWithPath: node.dir + "/rows.arrow"))
        let file = try CLI.run(["send", node.url, node.dir + "/rows.arrow", "--token", "tok"])
        #expect(file.status == 0, "\(file.stderr)")
        #expect(ArrowHTTPTests.waitUntil(60) { FileManager.default.fileExists(atPath: "\(node.work)/\(zips[2].dropLast(4))/report.json") },
                "\(node.log)")
        // The wrong token's record never ran.
        #expect(!FileManager.default.fileExists(atPath: "\(node.work)/\(zips[0].dropLast(4))"))
        // A closed port is a clear error, not a hang.
        let closed = try CLI.run(["send", "http://127.0.0.1:\(ArrowHTTPTests.freePort())/arrow", "--record", "a=1"])
        #expect(closed.status != 0 && closed.stderr.contains("connection refused"), "\(closed.stderr)")
    }

    @Test func sendFileWatchRowOfARealZipRunsExtractAndAggregate() async throws {
        let node = try await Self.startJobNode(zips: 1)
        defer { ArrowHTTPTests.stop(node.process); try? FileManager.default.removeItem(atPath: node.dir) }
        let zip = try #require(try Self.zips(in: node.inbox).first)
        // A relative path, as a user would type it: the row carries the absolute one.
        let sent = try CLI.run(["send", node.url, "--file-watch-row", "in/\(zip)"], cwd: node.dir,
                               environment: ProcessInfo.processInfo.environment.merging(["HYPHA_TOKEN": "tok"]) { $1 })
        #expect(sent.status == 0, "\(sent.stdout)\n\(sent.stderr)")
        let stem = String(zip.dropLast(4))
        #expect(ArrowHTTPTests.waitUntil(60) { FileManager.default.fileExists(atPath: "\(node.work)/\(stem)/report.json") },
                "\(node.log)")
        // Extract unpacked the zip's parts; aggregate wrote both reports.
        let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(node.work)/\(stem)/files")) ?? []
        #expect(files.contains { $0.hasSuffix(".csv") }, "\(files)")
        #expect(FileManager.default.fileExists(atPath: "\(node.work)/\(stem)/report.csv"))
        // The row is the one file-watch makes: the same four columns.
        let table = try CLI.run(["send", node.url, "--file-watch-row", "\(node.inbox)/missing.zip", "--token", "tok"])
        #expect(table.status != 0 && table.stderr.contains("missing.zip") && table.stderr.contains("not a regular file"),
                "\(table.stderr)")
    }

    @Test func sendSaysWhatA413AndA503Mean() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (node, port) = try ArrowHTTPLimitTests.start(dir, options: ", max_bytes: 100000, max_in_flight: 1, read_timeout: 30s")
        defer { ArrowHTTPTests.stop(node) }
        #expect(ArrowHTTPTests.waitUntil(60) { SecurityTests.log(dir + "/node.log").contains("listening on") })
        let url = "http://127.0.0.1:\(port)/arrow"

        try "{\"blob\": \"\(String(repeating: "x", count: 200_000))\"}\n".write(toFile: dir + "/big.jsonl", atomically: true, encoding: .utf8)
        let big = try CLI.run(["send", url, dir + "/big.jsonl"])
        #expect(big.status == 1 && big.stderr.contains("HTTP 413") && big.stderr.contains("max_bytes"), "\(big.stderr)")

        // A request that sends its head and part of its body holds the only place in flight.
        let head = "POST /arrow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/vnd.apache.arrow.stream\r\nContent-Length: 1000\r\n\r\n"
        var slow = ArrowHTTPLimitTests.connect(port, sending: head + String(repeating: "x", count: 10))
        defer { close(slow) }
        var busy: CLI.Result?
        for _ in 0..<50 where busy == nil {
            let r = try CLI.run(["send", url, "--record", "name=a"])
            if r.stderr.contains("HTTP 503") { busy = r }
            // If the slow request came second and was itself refused, it starts again.
            if busy == nil && ArrowHTTPLimitTests.hasAnswer(slow) {
                close(slow)
                slow = ArrowHTTPLimitTests.connect(port, sending: head + String(repeating: "x", count: 10))
            }
        }
        let refused = try #require(busy, "no send was answered 503")
        #expect(refused.status == 1 && refused.stderr.contains("busy") && refused.stderr.contains("send again later"),
                "\(refused.stderr)")
    }

    @Test func anExposedArrowHTTPSourceWithoutATokenIsRefusedUnlessInsecure() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = CLI.shipped("workflows/job-node.yml")
        // No --var token: the workflow's default, an unset HYPHA_TOKEN, means none.
        let base = [workflow, "--var", "host=0.0.0.0", "--var", "work=\(dir)/work", "--var", "inbox=\(dir)/in"]
        var environment = ProcessInfo.processInfo.environment
        environment["HYPHA_TOKEN"] = nil
        let validate = try CLI.run(["validate"] + base, environment: environment)
        #expect(validate.status == 1)
        // The error points at the node's `host:` line (file:line:col of its value).
        let lines = try String(contentsOfFile: workflow, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let nodeLine = try #require(lines.firstIndex { $0.hasPrefix("  incoming:") })
        let hostLine = try #require(lines[nodeLine...].firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("host:") })
        let column = try #require(lines[hostLine].range(of: "host: ")).upperBound.utf16Offset(in: lines[hostLine]) + 1
        #expect(validate.stderr.contains("\(workflow):\(hostLine + 1):\(column): error: node 'incoming' listens on '0.0.0.0' (not loopback) "
                                         + "without a token"), "\(validate.stderr)")
        #expect(validate.stderr.contains("insecure: true"), "\(validate.stderr)")
        let port = ArrowHTTPTests.freePort()
        let run = try CLI.run(["run"] + base + ["--var", "port=\(port)", "--state-dir", dir + "/state", "--no-progress"], timeout: 60,
                              environment: environment)
        #expect(run.status == 1 && run.stderr.contains("node 'incoming' listens on '0.0.0.0'"), "\(run.stderr)")

        let insecure = base + ["--set", "incoming.insecure=true"]
        let accepted = try CLI.run(["validate"] + insecure, environment: environment)
        #expect(accepted.status == 0, "\(accepted.stderr)")
        let node = try ArrowHTTPTests.start(insecure + ["--var", "port=\(port)", "--state-dir", dir + "/state"], log: dir + "/node.log")
        defer { ArrowHTTPTests.stop(node) }
        #expect(ArrowHTTPTests.waitUntil(30) { SecurityTests.log(dir + "/node.log").contains("listening on") },
                "\(SecurityTests.log(dir + "/node.log"))")
        #expect(SecurityTests.log(dir + "/node.log").contains("with no token (insecure: true)"), "\(SecurityTests.log(dir + "/node.log"))")
        // With a token the same address is fine.
        #expect(try CLI.run(["validate", workflow, "--var", "host=0.0.0.0", "--var", "token=tok"]).status == 0)
    }

    /// A CA, and a certificate it signed for 127.0.0.1 and localhost (openssl).
    static func makeCertificates(in dir: String) throws {
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=Hypha Test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
             "-days", "2", "-extfile", "ext.cnf"],
        ]
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: dir + "/ext.cnf", atomically: true, encoding: .utf8)
        for step in steps {
            let r = try CLI.spawn("/usr/bin/env", ["openssl"] + step, cwd: dir)
            try #require(r.status == 0, "openssl \(step): \(r.stderr)")
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs openssl"))
    func sendOverTLSWithAPrivateCAAndAFailedVerificationWithoutIt() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.makeCertificates(in: dir)
        let port = ArrowHTTPTests.freePort()
        try """
            nodes:
              incoming: { plugin: arrow-http, port: \(port), token: tok, tls_cert: server.pem, tls_key: server.key }
              decode: { plugin: arrow-decode, from: incoming }
              out: { plugin: capture, from: decode, path: got.jsonl }
            """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        let node = try ArrowHTTPTests.start([dir + "/wf.yml", "--state-dir", dir + "/state"], log: dir + "/node.log")
        defer { ArrowHTTPTests.stop(node) }
        #expect(ArrowHTTPTests.waitUntil(30) { SecurityTests.log(dir + "/node.log").contains("listening on") },
                "\(SecurityTests.log(dir + "/node.log"))")
        #expect(SecurityTests.log(dir + "/node.log").contains("(HTTPS)"))

        for host in ["127.0.0.1", "localhost"] {
            let sent = try CLI.run(["send", "https://\(host):\(port)/arrow", "--record", "name=tls-\(host)", "--record", "n=3",
                                    "--token", "tok", "--ca", dir + "/ca.pem"])
            #expect(sent.status == 0 && sent.stdout.contains("\"status\":200"), "\(sent.stdout)\n\(sent.stderr)")
        }
        #expect(ArrowHTTPTests.waitUntil(30) {
            let got = SecurityTests.log(dir + "/got.jsonl")
            return got.contains("tls-127.0.0.1") && got.contains("tls-localhost")
        }, "\(SecurityTests.log(dir + "/got.jsonl"))")
        // --record values are typed as in YAML: n=3 is an int.
        #expect(SecurityTests.log(dir + "/got.jsonl").contains("\"name\":\"tls-localhost\",\"n\":3}"),
                "\(SecurityTests.log(dir + "/got.jsonl"))")

        let unverified = try CLI.run(["send", "https://127.0.0.1:\(port)/arrow", "--record", "name=no-ca", "--token", "tok"])
        #expect(unverified.status != 0)
        #expect(unverified.stderr.contains("TLS verification of https://127.0.0.1:\(port)/arrow failed")
                && unverified.stderr.contains("--ca"), "\(unverified.stderr)")
        // arrow-http-sink verifies the same way: with `ca` it delivers, without it the message
        // fails at once with the verification error (no retries).
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/out/sink-file.txt"))
        for (name, ca) in [("with-ca", ", ca: ca.pem"), ("without-ca", "")] {
            try """
                nodes:
                  files: { plugin: file-watch, path: out }
                  post: { plugin: arrow-http-sink, from: files, url: "https://localhost:\(port)/arrow", token: tok\(ca) }
                """.write(toFile: "\(dir)/\(name).yml", atomically: true, encoding: .utf8)
        }
        let sink = try CLI.run(["run", dir + "/with-ca.yml", "--once", "--state-dir", dir + "/state-sink", "--no-progress"])
        #expect(sink.status == 0, "\(sink.stdout)\n\(sink.stderr)")
        #expect(ArrowHTTPTests.waitUntil(30) { SecurityTests.log(dir + "/got.jsonl").contains("sink-file.txt") })
        let refused = try CLI.run(["run", dir + "/without-ca.yml", "--once", "--state-dir", dir + "/state-sink2", "--no-progress"])
        #expect(refused.status == 1, "\(refused.stdout)\n\(refused.stderr)")
        #expect(refused.stdout.contains("TLS verification of https://localhost:\(port)/arrow failed"), "\(refused.stdout)")

        // Plain HTTP to the HTTPS port is not taken either.
        let plain = try CLI.run(["send", "http://127.0.0.1:\(port)/arrow", "--record", "name=plain", "--token", "tok", "--timeout", "5"],
                                timeout: 60)
        #expect(plain.status != 0)
        #expect(!SecurityTests.log(dir + "/got.jsonl").contains("no-ca") && !SecurityTests.log(dir + "/got.jsonl").contains("plain"))

        // A missing key file is named at load time.
        try FileManager.default.removeItem(atPath: dir + "/server.key")
        let broken = try CLI.run(["validate", dir + "/wf.yml"])
        #expect(broken.status == 1 && broken.stderr.contains("option 'tls_key' of node 'incoming': cannot read")
                && broken.stderr.contains("server.key"), "\(broken.stderr)")
        // So is a file that is not a certificate.
        try SecurityTests.log(dir + "/wf.yml").replacingOccurrences(of: "tls_cert: server.pem", with: "tls_cert: ext.cnf")
            .write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        let malformed = try CLI.run(["validate", dir + "/wf.yml"])
        #expect(malformed.status == 1 && malformed.stderr.contains("option 'tls_cert' of node 'incoming'")
                && malformed.stderr.contains("ext.cnf' is not a PEM certificate"), "\(malformed.stderr)")
    }

    @Test func serviceInstallDryRunPrintsAUnitThatSystemdAnalyzeAccepts() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["service", "install", CLI.shipped("workflows/job-node.yml"), "--name", "test-node",
                             "--var", "work=\(dir)/work", "--var", "inbox=\(dir)/in", "--state-dir", dir + "/state",
                             "--grace", "20", "--dry-run"])
        #expect(r.status == 0, "\(r.stderr)")
        let unit = r.stdout
        let binary = URL(fileURLWithPath: CLI.binary).resolvingSymlinksInPath().path
        for line in ["Type=notify", "NotifyAccess=main", "Restart=on-failure", "KillMode=mixed", "TimeoutStopSec=35s",
                     "WatchdogSec=", "ExecReload=/bin/sh -c \"kill -HUP ${MAINPID}\"", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=read-only",
                     "ExecStart=\(binary) run \(CLI.shipped("workflows/job-node.yml")) --state-dir \(dir)/state --grace 20",
                     "--var work=\(dir)/work"] {
            #expect(unit.contains(line), "\(line) missing in:\n\(unit)")
        }
        let writable = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ReadWritePaths=") })
        for path in ["\(dir)/state", "\(dir)/work", "\(dir)/in"] { #expect(writable.contains(path), "\(writable)") }
        #expect(!writable.contains(" /arrow"), "a URL path is not a folder: \(writable)")
        // The folders are under /tmp here: the service must see the real /tmp.
        #expect(!unit.contains("PrivateTmp=yes"), "\(unit)")

        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"),
                     "systemd-analyze is not installed (.ci/run installs the systemd package)")
        try unit.write(toFile: dir + "/hypha-test-node.service", atomically: true, encoding: .utf8)
        let verify = try CLI.spawn("/usr/bin/systemd-analyze", ["verify", dir + "/hypha-test-node.service"])
        #expect(verify.status == 0, "\(verify.stdout)\n\(verify.stderr)")
        #expect(!verify.stderr.contains("hypha-test-node.service:"), "systemd-analyze warned about the unit: \(verify.stderr)")
    }

    @Test(.disabled(if: FileManager.default.fileExists(atPath: "/run/systemd/system"), "a real systemd runs here"))
    func serviceInstallWithoutDryRunSaysWhatIsMissing() throws {
        let r = try CLI.run(["service", "install", CLI.shipped("workflows/job-node.yml")])
        #expect(r.status == 1 && r.stderr.contains("does not run systemd") && r.stderr.contains("--dry-run"), "\(r.stderr)")
    }

    /// A datagram socket bound at `path`, receiving what `hypha run` notifies.
    final class NotifySocket {
        let fd: Int32
        var received: [String] = []

        /// `path` is a file path, or `@name` for the abstract namespace.
        init(path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(path.utf8)
            let abstract = bytes.first == UInt8(ascii: "@")
            if abstract { bytes[0] = 0 }
            try #require(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
            // An abstract name is exactly its bytes (no NUL after it).
            let length = abstract ? MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count : MemoryLayout<sockaddr_un>.size
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
            }
            try #require(bound == 0, "bind \(path): \(String(cString: strerror(errno)))")
        }

        deinit { close(fd) }

        /// Receives datagrams until one contains `text` (true) or `seconds` pass (false).
        func waitFor(_ text: String, seconds: Double) -> Bool {
            if received.contains(where: { $0.contains(text) }) { return true }
            let deadline = Date().addingTimeInterval(seconds)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 100) > 0 else { continue }
                let n = recv(fd, &buffer, buffer.count, 0)
                guard n > 0 else { continue }
                let message = String(decoding: buffer.prefix(n), as: UTF8.self)
                received.append(message)
                if message.contains(text) { return true }
            }
            return false
        }
    }

    @Test func runNotifiesReadyOnceListeningThenStoppingAfterSIGTERM() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let socket = try NotifySocket(path: dir + "/notify.sock")
        let port = ArrowHTTPTests.freePort()
        try """
            name: notified
            nodes:
              incoming: { plugin: arrow-http, port: \(port) }
              files: { plugin: file-watch, path: in }
              out: { plugin: capture, from: [incoming, files], path: got.jsonl }
            """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["run", dir + "/wf.yml", "--state-dir", dir + "/state", "--no-progress"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = dir + "/notify.sock"
        environment["WATCHDOG_USEC"] = "400000"
        process.environment = environment
        FileManager.default.createFile(atPath: dir + "/node.log", contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/node.log"))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        defer { ArrowHTTPTests.stop(process) }

        #expect(socket.waitFor("READY=1", seconds: 60), "\(socket.received)\n\(SecurityTests.log(dir + "/node.log"))")
        // READY=1 came after the port was bound: a post now is answered.
        #expect(await SecurityTests.post(try SecurityTests.fileRecords([("/a", "a")]), port: port).0 == 200)
        let ready = try #require(socket.received.first { $0.contains("READY=1") })
        #expect(ready.contains("STATUS=notified: "), "\(ready)")
        #expect(socket.waitFor("WATCHDOG=1", seconds: 10), "\(socket.received)")
        #expect(socket.waitFor("1 message in", seconds: 10), "a STATUS= line counts the post: \(socket.received)")
        #expect(!socket.received.contains { $0.contains("STOPPING=1") })

        kill(process.processIdentifier, SIGTERM)
        #expect(socket.waitFor("STOPPING=1", seconds: 30), "\(socket.received)")
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        // journald keeps one entry per line: no empty ones, and a log line is whole, its
        // timestamp first.
        let lines = SecurityTests.log(dir + "/node.log").split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(!lines.contains { $0.isEmpty }, "an empty line: \(lines)")
        #expect(lines.contains { $0.contains("listening on") && $0.hasPrefix("20") }, "\(lines)")
    }

    /// An abstract socket (`@name`, as systemd may give), and a `--once` run: ready when its
    /// source has returned, stopping when the run ends.
    @Test func runNotifiesAnAbstractSocketInAOnceRun() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = "@hypha-test-\(UUID().uuidString)"
        let socket = try NotifySocket(path: name)
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        try Data("1".utf8).write(to: URL(fileURLWithPath: dir + "/in/a.txt"))
        try """
            name: once
            nodes:
              files: { plugin: file-watch, path: in }
              out: { plugin: capture, from: files, path: got.jsonl }
            """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = name
        let r = try CLI.run(["run", dir + "/wf.yml", "--once", "--state-dir", dir + "/state", "--no-progress"], environment: environment)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(socket.waitFor("READY=1", seconds: 5), "\(socket.received)")
        #expect(socket.waitFor("STOPPING=1", seconds: 5), "\(socket.received)")
        let ready = try #require(socket.received.firstIndex { $0.contains("READY=1") })
        let stopping = try #require(socket.received.firstIndex { $0.contains("STOPPING=1") })
        #expect(ready < stopping)
    }
}
