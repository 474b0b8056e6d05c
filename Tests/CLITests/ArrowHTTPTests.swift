import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HyphaArrow
import Testing

/// Two Hypha processes linked by Arrow over HTTP, and the arrow-http source's answers.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ArrowHTTPTests {
    /// A free loopback port (bound, read, released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts `hypha run ...` in the background, with `environment` added to the test's.
    static func start(_ arguments: [String], log: String, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["run"] + arguments + ["--no-progress"]
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    static func stop(_ process: Process) {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    static func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    static func capturedPaths(_ file: String) -> Set<String> {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        var paths = Set<String>()
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let input = (object["value"] as? [String: Any])?["input"] as? [String: Any],
                  let path = input["path"] as? String else { continue }
            paths.insert(path)
        }
        return paths
    }

    @Test func everyDroppedFileArrivesAsAJobSpecAlsoAcrossARestart() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inbox = dir + "/in", work = dir + "/work", staging = dir + "/staging"
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let port = Self.freePort()
        let url = "http://127.0.0.1:\(port)/arrow"
        let jobNodeArgs = [CLI.shipped("workflows/job-node.yml"), "--profile", "capture", "--var", "port=\(port)", "--var", "inbox=\(inbox)",
                           "--var", "work=\(work)", "--var", "token=s3cret", "--run-dir", dir + "/run-b", "--state-dir", dir + "/state-b"]
        var jobNode = try Self.start(jobNodeArgs, log: dir + "/b.log")
        // The folder node says READY=1 once it watches the folder (after its first scan): files
        // dropped after that can only arrive through the watch.
        let notify = try NodeServiceTests.NotifySocket(path: dir + "/notify.sock")
        let downloadNode = try Self.start([CLI.shipped("workflows/folder-node.yml"), "--var", "inbox=\(inbox)",
                                           "--var", "url=\(url)", "--var", "token=s3cret", "--run-dir", dir + "/run-a", "--state-dir", dir + "/state-a"],
                                          log: dir + "/a.log", environment: ["NOTIFY_SOCKET": dir + "/notify.sock"])
        defer {
            Self.stop(downloadNode)
            Self.stop(jobNode)
        }
        func drop(_ range: Range<Int>) throws {
            for i in range {
                let name = "file \(i) $(x); é.zip"
                FileManager.default.createFile(atPath: "\(staging)/\(name)", contents: Data("zip \(i)".utf8))
                try FileManager.default.moveItem(atPath: "\(staging)/\(name)", toPath: "\(inbox)/\(name)")
            }
        }
        let captured = work + "/extract-specs.jsonl"
        let expected = { (n: Int) in Set((0..<n).map { "\(inbox)/file \($0) $(x); é.zip" }) }

        try #require(notify.waitFor("READY=1", seconds: 30), "the folder node never watched: \(SecurityTests.log(dir + "/a.log"))")
        try drop(0..<5)
        #expect(Self.waitUntil(20) { Self.capturedPaths(captured) == expected(5) }, "first five: \(Self.capturedPaths(captured))")

        // The job node goes away; files keep arriving, and the folder node fails to post them
        // (it says so); the job node comes back and gets them all.
        Self.stop(jobNode)
        let failedPosts = { SecurityTests.log(dir + "/a.log").components(separatedBy: "posting to \(url) failed").count - 1 }
        let failedBefore = failedPosts()
        try drop(5..<10)
        #expect(Self.waitUntil(20) { failedPosts() > failedBefore }, "no post failed while the job node was down: \(SecurityTests.log(dir + "/a.log"))")
        jobNode = try Self.start(jobNodeArgs, log: dir + "/b.log")
        #expect(Self.waitUntil(30) { Self.capturedPaths(captured) == expected(10) },
                "after restart: \(Self.capturedPaths(captured).count) of 10; a: \((try? String(contentsOfFile: dir + "/a.log", encoding: .utf8)) ?? "")")
    }

    @Test func theSourceAnswersWithTheRightStatus() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = Self.freePort()
        // A deliberately slow job node: one sleeping job at a time, so the DAG saturates.
        try FileManager.default.createDirectory(atPath: dir + "/jobstore", withIntermediateDirectories: true)
        try "Type: batch\nCount: 1\nTasks:\n  - Name: t\n    Engine: {Type: process, Params: {Name: sleep, Arguments: [\"5\"]}}\n"
            .write(toFile: dir + "/jobstore/slow.yml", atomically: true, encoding: .utf8)
        try """
            jobstore: jobstore
            nodes:
              incoming: { plugin: arrow-http, port: \(port), token: tok, max_bytes: 4096, accept_timeout: 0.2 }
              decode: { plugin: arrow-decode, from: incoming }
              spec: { plugin: template, from: decode, job: slow }
              run: { plugin: process, from: spec, max_parallel: 1 }
            """.write(toFile: dir + "/slow.yml", atomically: true, encoding: .utf8)
        let node = try Self.start([dir + "/slow.yml", "--run-dir", dir + "/run", "--state-dir", dir + "/state", "--grace", "0"], log: dir + "/node.log")
        defer { Self.stop(node) }

        let schema = ArrowSchema(fields: [ArrowField(name: "n", type: .int64)])
        let body = Data(try ArrowStreamWriter.encode(schema: schema, batches: [try RecordBatch(schema: schema, rows: [[.int(1)]])]))
        let url = URL(string: "http://127.0.0.1:\(port)/arrow")!
        func post(_ data: Data, type: String = "application/vnd.apache.arrow.stream", token: String? = "tok") async -> Int {
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.httpBody = data
            request.setValue(type, forHTTPHeaderField: "Content-Type")
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            let response = try? await URLSession.shared.data(for: request)
            return (response?.1 as? HTTPURLResponse)?.statusCode ?? -1
        }
        var ready = false
        for _ in 0..<100 where !ready {
            ready = await post(Data(), token: nil) == 401
            if !ready { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(ready)
        #expect(await post(body, token: "wrong") == 401)
        #expect(await post(body, type: "application/json") == 415)
        #expect(await post(Data(repeating: 1, count: 10_000)) == 413)
        #expect(await post(Data("not arrow at all".utf8)) == 400)
        #expect(await post(body) == 200)
        // Keep posting distinct messages (an identical one would be the same job, which the
        // journal runs once): channels of 64 fill behind the one sleeping job, then 503 pushes back.
        var statuses: [Int] = []
        for n in 0..<300 {
            let distinct = Data(try ArrowStreamWriter.encode(schema: schema, batches: [try RecordBatch(schema: schema, rows: [[.int(Int64(n) + 2)]])]))
            let status = await post(distinct)
            statuses.append(status)
            if status == 503 { break }
        }
        #expect(statuses.last == 503, "\(Set(statuses))")
        #expect(statuses.dropLast().allSatisfy { $0 == 200 })
    }
}
