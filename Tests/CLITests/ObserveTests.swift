import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The observability endpoint (`hypha run --http`, docs/OBSERVE.md), end to end on the built
/// binary: where it binds, the token, /metrics parsed by prometheus_client, the JSON API, the
/// web view in headless Chromium, and `--log-format json`.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ObserveTests {
    static let workflow = CLI.shipped("workflows/extract-aggregate.yml")

    /// Whether the test Python can import `module`.
    static func pythonHas(_ module: String) -> Bool {
        (try? CLI.runPython(["-c", "import \(module)"], timeout: 60))?.status == 0
    }

    static let hasPrometheusClient = pythonHas("prometheus_client")
    static let hasBrowser = pythonHas("selenium")
        && ["/usr/bin/chromium", "/usr/bin/chromedriver"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs one of the Python drivers in Tests/scripts; 77 means it lacks what it needs.
    static func python(_ script: String, _ arguments: [String]) throws -> CLI.Result {
        let path = CLI.shipped("Tests/scripts/" + script)
        return try CLI.runPython([path] + arguments, timeout: 300)
    }

    /// Starts `hypha run ARGS` in the background with `environment` added; output to `log`.
    static func start(_ arguments: [String], log: String, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["run"] + arguments + ["--no-progress"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Ends a lingering run with Ctrl-C and returns its exit status.
    static func interrupt(_ process: Process) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGINT) }
        process.waitUntilExit()
        return process.terminationStatus
    }


    /// GET `path`: the status and the body.
    static func get(_ url: String, token: String? = nil) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.timeoutInterval = 30
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// The listening sockets on `port` in /proc/net/tcp and tcp6, as local hex addresses.
    static func listeners(port: Int) -> [String] {
        let hexPort = String(format: "%04X", port)
        var found: [String] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // Read to the end: a /proc file has no size, and one read may stop at a page.
            let data = FileHandle(forReadingAtPath: table).flatMap { try? $0.readToEnd() } ?? Data()
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 3, fields[3] == "0A" else { continue }  // LISTEN
                let local = fields[1].split(separator: ":")
                if local.count == 2, local[1] == hexPort { found.append(String(local[0])) }
            }
        }
        return found
    }

    @Test func bindsLoopbackByDefaultAndServesTheAPIAfterARun() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try CLI.makeZips(in: dir + "/in", count: 2, tricky: false)
        let port = ArrowHTTPTests.freePort()
        let logFile = dir + "/log"
        // Only a port: loopback.
        let process = try Self.start([Self.workflow, "--once", "--var", "inbox=\(dir)/in", "--var", "work=\(dir)/work",
                                      "--no-state", "--run-dir", dir + "/run", "--http", "\(port)", "--http-linger", "120"], log: logFile)
        defer { if process.isRunning { process.terminate() } }
        #expect(ArrowHTTPTests.waitUntil(60) { SecurityTests.log(logFile).contains("observability endpoint at http://127.0.0.1:\(port)/") },
                "\(SecurityTests.log(logFile))")
        #expect(Self.listeners(port: port) == ["0100007F"], "listening on \(Self.listeners(port: port))")
        #expect(ArrowHTTPTests.waitUntil(60) { SecurityTests.log(logFile).contains("jobs: 4 completed") }, "\(SecurityTests.log(logFile))")
        let base = "http://127.0.0.1:\(port)"

        let status = Self.json(try await Self.get(base + "/api/v1/status").body)
        #expect(status["finished"] as? Bool == true)
        let nodes = status["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.map { $0["id"] as? String } == ["downloads", "decode", "extract-spec", "extract", "aggregate-spec", "aggregate"])
        #expect(nodes.first { $0["id"] as? String == "aggregate" }?["received"] as? Int == 2)

        let jobs = Self.json(try await Self.get(base + "/api/v1/jobs").body)
        #expect(jobs["source"] as? String == "memory")
        let list = jobs["jobs"] as? [[String: Any]] ?? []
        #expect(list.count == 4)
        #expect(list.allSatisfy { $0["state"] as? String == "completed" && $0["duration"] is Double })
        let extract = try #require(list.first { $0["node"] as? String == "extract" })
        let name = try #require(extract["name"] as? String)
        let encoded = try #require(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        let stdoutPath = try #require(extract["stdout_path"] as? String)
        let logs = try await Self.get(base + "/api/v1/jobs/\(encoded)/logs")
        #expect(logs.status == 200)
        #expect(logs.body == (try String(contentsOfFile: stdoutPath, encoding: .utf8)))
        // Following a job that has ended gives its whole log and ends.
        #expect(try await Self.get(base + "/api/v1/jobs/\(encoded)/logs?follow=1").body == logs.body)
        #expect(try await Self.get(base + "/api/v1/jobs/no-such-job/logs").status == 404)
        // Without state there are no dead letters: a retry cannot be, and says why.
        let noState = try await Self.post(base + "/api/v1/dead-letters/1/retry", headers: ["X-Hypha-Request": "retry"])
        #expect(noState.status == 409 && noState.body.contains("keeps no state"), "\(noState)")

        let page = try await Self.get(base + "/")
        #expect(page.status == 200 && page.body.contains("<svg id=\"graph\"") && !page.body.contains("http://cdn"))
        #expect(Self.interrupt(process) == 0, "\(SecurityTests.log(logFile))")
    }

    @Test func followingARunningJobsLogStreamsItUntilTheJobEnds() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for folder in ["in", "store"] { try FileManager.default.createDirectory(atPath: "\(dir)/\(folder)", withIntermediateDirectories: true) }
        // The job writes "one", waits for the gate file, then writes "two" and ends.
        try """
            Type: batch
            Count: 1
            Tasks:
              - Name: gated
                Engine:
                  Type: process
                  Params:
                    Name: /bin/sh
                    Arguments: ["-c", "echo one; while [ ! -e \(dir)/gate ]; do sleep 0.02; done; echo two"]
            """.write(toFile: dir + "/store/gated.yml", atomically: true, encoding: .utf8)
        try """
            name: gated
            jobstore: \(dir)/store
            nodes:
              files: { plugin: file-watch, path: \(dir)/in, pattern: "*.txt" }
              decode: { plugin: arrow-decode, from: files }
              spec: { plugin: template, from: decode, job: gated }
              run: { plugin: process, from: spec }
            """.write(toFile: dir + "/gated.yml", atomically: true, encoding: .utf8)
        try "x".write(toFile: dir + "/in/a.txt", atomically: true, encoding: .utf8)
        let port = ArrowHTTPTests.freePort()
        let logFile = dir + "/log"
        let process = try Self.start([dir + "/gated.yml", "--once", "--no-state", "--run-dir", dir + "/run",
                                      "--http", "\(port)", "--http-linger", "120"], log: logFile)
        defer { if process.isRunning { process.terminate() } }
        // Wait until the job has written its first line.
        var stdoutLog: String?
        #expect(ArrowHTTPTests.waitUntil(60) {
            stdoutLog = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/run/jobs"))?
                .first { $0.hasSuffix(".stdout.log") }.map { dir + "/run/jobs/" + $0 }
            return stdoutLog.map { SecurityTests.log($0).contains("one") } ?? false
        }, "\(SecurityTests.log(logFile))")
        let name = try #require(stdoutLog.map { URL(fileURLWithPath: $0).lastPathComponent.replacingOccurrences(of: ".stdout.log", with: "") })
        // The follower reads the first line, only then opens the gate, and reads to the end:
        // "two" can only come through a stream that was still open when the job wrote it.
        // An events stream opened before the gate then carries the job's end.
        let follower = """
            import json, sys, urllib.request
            base, name, gate = sys.argv[1], sys.argv[2], sys.argv[3]
            events = urllib.request.urlopen(base + "/api/v1/events", timeout=60)
            assert events.readline().startswith(b": hypha events")
            with urllib.request.urlopen(base + "/api/v1/jobs/" + name + "/logs?follow=1", timeout=60) as response:
                first = response.readline().decode()
                open(gate, "w").close()
                rest = response.read().decode()
            kinds, ended = set(), None
            event = None
            for line in events:
                line = line.decode().rstrip("\\n")
                if line.startswith("event: "):
                    event = line[7:]
                    kinds.add(event)
                elif line.startswith("data: ") and event == "job":
                    job = json.loads(line[6:])
                    if job["name"] == name and job["state"] != "running":
                        ended = job["state"]
                        break
            print(json.dumps([first, rest, ended, sorted(kinds)]))
            """
        let r = try CLI.runPython(["-c", follower, "http://127.0.0.1:\(port)", name, dir + "/gate"],
                              timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let parts = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [Any]
        #expect(parts?.prefix(3).compactMap { $0 as? String } == ["one\n", "two\n", "completed"], "\(r.stdout) \(r.stderr)")
        #expect((parts?.last as? [String])?.contains("job") == true, "\(r.stdout)")
        #expect(ArrowHTTPTests.waitUntil(60) { SecurityTests.log(logFile).contains("jobs: 1 completed") }, "\(SecurityTests.log(logFile))")
        #expect(Self.interrupt(process) == 0)
    }

    /// POST `url` with `headers`: the status and the body.
    static func post(_ url: String, headers: [String: String] = [:]) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = "POST"
        request.timeoutInterval = 30
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The page's retry button: a dead letter runs again in the running workflow, from the node
    /// where it failed, and its letter goes once it has gone through.
    @Test func aDeadLetterIsRetriedInTheRunningWorkflow() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "echo try >> \(dir)/tries; test -e \(dir)/fixed"])
        let port = ArrowHTTPTests.freePort()
        let logFile = dir + "/log"
        let process = try Self.start([workflow, "--state-dir", dir + "/state", "--run-dir", dir + "/run", "--http", "\(port)"], log: logFile)
        defer { if process.isRunning { process.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        func letters() async -> [[String: Any]] {
            (try? await Self.get(base + "/api/v1/dead-letters")).map { Self.json($0.body)["dead_letters"] as? [[String: Any]] ?? [] } ?? []
        }
        // The job fails: one dead letter, at the job's node.
        var kept: [[String: Any]] = []
        for _ in 0..<600 where kept.isEmpty {  // up to 60 s
            kept = await letters()
            if kept.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        let letter = try #require(kept.first, "no dead letter: \(SecurityTests.log(logFile))")
        #expect(letter["node"] as? String == "run")
        let id = try #require(letter["id"] as? Int)
        let retry = base + "/api/v1/dead-letters/\(id)/retry"

        // Without the page's header (as a form of another site would send it): refused.
        #expect(try await Self.post(retry).status == 403)
        #expect(try await Self.post(base + "/api/v1/dead-letters/99999/retry", headers: ["X-Hypha-Request": "retry"]).status == 404)

        FileManager.default.createFile(atPath: dir + "/fixed", contents: Data())
        let answer = try await Self.post(retry, headers: ["X-Hypha-Request": "retry"])
        #expect(answer.status == 202, "\(answer.body)")
        var left = kept
        for _ in 0..<600 where !left.isEmpty {
            left = await letters()
            if !left.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(left.isEmpty, "the letter is still there: \(left)")
        let jobs = Self.json(try await Self.get(base + "/api/v1/jobs").body)["jobs"] as? [[String: Any]] ?? []
        #expect(jobs.contains { $0["state"] as? String == "completed" }, "\(jobs)")
        #expect(try String(contentsOfFile: dir + "/tries", encoding: .utf8).split(separator: "\n").count == 2)
        // Gone, so a second click finds nothing.
        #expect(try await Self.post(retry, headers: ["X-Hypha-Request": "retry"]).status == 404)
        #expect(Self.interrupt(process) == 130, "\(SecurityTests.log(logFile))")
    }

    /// The dead letters of a run, by id.
    static func deadLetters(_ base: String) async -> [[String: Any]] {
        (try? await get(base + "/api/v1/dead-letters")).map { json($0.body)["dead_letters"] as? [[String: Any]] ?? [] } ?? []
    }

    /// A retry that cannot be now is answered 409 with the reason (docs/OBSERVE.md): a source's
    /// letter, a letter being retried already, and any letter once the run has ended.
    @Test func aRetryThatCannotBeNowIs409WithTheReason() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The job fails until `fixed` exists, then waits for `gate`: a retry stays under way
        // for as long as the test wants. A download of a missing file fails at its source.
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: [
            "-c", "test -e \(dir)/fixed || exit 1; while [ ! -e \(dir)/gate ]; do sleep 0.02; done"])
        try FileManager.default.createDirectory(atPath: dir + "/fetched", withIntermediateDirectories: true)
        let downloads = "\n  downloads: { plugin: http-download, urls: [\"file://\(dir)/missing.zip\"], dir: fetched, interval: 600 }\n"
            + "  got: { plugin: capture, from: downloads, path: got.jsonl }\n"
        try (try String(contentsOfFile: workflow, encoding: .utf8) + downloads).write(toFile: workflow, atomically: true, encoding: .utf8)
        let port = ArrowHTTPTests.freePort()
        let logFile = dir + "/log"
        let process = try Self.start([workflow, "--state-dir", dir + "/state", "--run-dir", dir + "/run", "--http", "\(port)"], log: logFile)
        defer { if process.isRunning { process.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        var letters: [[String: Any]] = []
        func letter(at node: String) -> Int? { letters.first { $0["node"] as? String == node }?["id"] as? Int }
        for _ in 0..<600 where process.isRunning && (letter(at: "run") == nil || letter(at: "downloads") == nil) {  // up to 60 s
            letters = await Self.deadLetters(base)
            if letter(at: "run") == nil || letter(at: "downloads") == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let atSource = try #require(letter(at: "downloads"), "\(letters) \(SecurityTests.log(logFile))")
        let atJob = try #require(letter(at: "run"), "\(letters) \(SecurityTests.log(logFile))")
        let header = ["X-Hypha-Request": "retry"]

        let source = try await Self.post(base + "/api/v1/dead-letters/\(atSource)/retry", headers: header)
        #expect(source.status == 409 && source.body.contains("'downloads' is a source"), "\(source)")

        FileManager.default.createFile(atPath: dir + "/fixed", contents: Data())
        let first = try await Self.post(base + "/api/v1/dead-letters/\(atJob)/retry", headers: header)
        #expect(first.status == 202, "\(first)")
        let second = try await Self.post(base + "/api/v1/dead-letters/\(atJob)/retry", headers: header)
        #expect(second.status == 409 && second.body.contains("#\(atJob) is being retried already"), "\(second)")
        FileManager.default.createFile(atPath: dir + "/gate", contents: Data())
        var left = letters
        for _ in 0..<600 where left.contains(where: { $0["id"] as? Int == atJob }) {
            left = await Self.deadLetters(base)
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(!left.contains { $0["id"] as? Int == atJob }, "the retried letter is still there: \(left)")
        #expect(Self.interrupt(process) == 130, "\(SecurityTests.log(logFile))")

        // A --once run that has ended, its endpoint lingering: no letter can go back in.
        let ended = dir + "/ended"
        let failing = try SecurityTests.oneJobWorkflow(ended, program: "false", arguments: [])
        let endedPort = ArrowHTTPTests.freePort()
        let lingering = try Self.start([failing, "--once", "--state-dir", ended + "/state", "--run-dir", ended + "/run",
                                        "--http", "\(endedPort)", "--http-linger", "120"], log: ended + "/log")
        defer { if lingering.isRunning { lingering.terminate() } }
        let endedBase = "http://127.0.0.1:\(endedPort)"
        var finished = false
        for _ in 0..<600 where !finished {
            finished = (try? await Self.get(endedBase + "/api/v1/status")).map { Self.json($0.body)["finished"] as? Bool == true } ?? false
            if !finished { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(finished, "\(SecurityTests.log(ended + "/log"))")
        let kept = try #require(await Self.deadLetters(endedBase).first?["id"] as? Int, "\(SecurityTests.log(ended + "/log"))")
        let late = try await Self.post(endedBase + "/api/v1/dead-letters/\(kept)/retry", headers: header)
        #expect(late.status == 409 && late.body.contains("not running"), "\(late)")
        _ = Self.interrupt(lingering)
    }

    /// `/api/v1/jobs?limit=N` lists the N newest; the log routes give stderr and a tail of N bytes.
    @Test func jobsUpToALimitNewestFirstAndLogTailsOfEitherStream() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // One job at a time, so each starts after the one before.
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: ["-c", "echo out {{ name }}; echo err {{ name }} >&2; printf tail-end >&2"],
                                                        processOptions: ", max_parallel: 1")
        for name in ["two", "three"] { FileManager.default.createFile(atPath: "\(dir)/in/\(name).txt", contents: Data(name.utf8)) }
        let port = ArrowHTTPTests.freePort()
        let logFile = dir + "/log"
        let process = try Self.start([workflow, "--once", "--state-dir", dir + "/state", "--run-dir", dir + "/run",
                                      "--http", "\(port)", "--http-linger", "120"], log: logFile)
        defer { if process.isRunning { process.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        var finished = false
        for _ in 0..<600 where !finished {
            finished = (try? await Self.get(base + "/api/v1/status")).map { Self.json($0.body)["finished"] as? Bool == true } ?? false
            if !finished { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(finished, "\(SecurityTests.log(logFile))")

        let all = Self.json(try await Self.get(base + "/api/v1/jobs").body)
        #expect(all["source"] as? String == "journal")
        let jobs = all["jobs"] as? [[String: Any]] ?? []
        let started = jobs.compactMap { $0["started"] as? Double }
        #expect(jobs.count == 3 && started.count == 3, "\(jobs)")
        #expect(started == started.sorted(by: >), "newest first: \(started)")
        let names = jobs.compactMap { $0["name"] as? String }
        let two = Self.json(try await Self.get(base + "/api/v1/jobs?limit=2").body)["jobs"] as? [[String: Any]] ?? []
        #expect(two.compactMap { $0["name"] as? String } == Array(names.prefix(2)), "\(two)")
        let many = Self.json(try await Self.get(base + "/api/v1/jobs?limit=99999").body)["jobs"] as? [[String: Any]] ?? []
        #expect(many.count == 3)
        for bad in ["0", "-1", "ten", ""] {
            let answer = try await Self.get(base + "/api/v1/jobs?limit=\(bad)")
            #expect(answer.status == 400 && answer.body.contains("limit must be a number from 1"), "limit=\(bad): \(answer)")
        }

        let newest = try #require(jobs.first)
        let name = try #require((newest["name"] as? String)?.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        let stdoutText = try String(contentsOfFile: try #require(newest["stdout_path"] as? String), encoding: .utf8)
        let stderrText = try String(contentsOfFile: try #require(newest["stderr_path"] as? String), encoding: .utf8)
        #expect(stderrText.hasPrefix("err ") && stderrText.hasSuffix("tail-end"), "\(stderrText)")
        let logs = base + "/api/v1/jobs/\(name)/logs"
        #expect(try await Self.get(logs + "?stream=stderr").body == stderrText)
        #expect(try await Self.get(logs + "?stream=stderr&bytes=8").body == "tail-end")
        #expect(try await Self.get(logs + "?bytes=4").body == String(stdoutText.suffix(4)))
        #expect(try await Self.get(logs + "?stream=stdout").body == stdoutText)
        let other = try await Self.get(logs + "?stream=both")
        #expect(other.status == 400 && other.body.contains("stream must be stdout or stderr"), "\(other)")
        _ = Self.interrupt(process)
    }

    @Test func withATokenEveryRouteAnswers401WithoutIt() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        let port = ArrowHTTPTests.freePort()
        let logFile = dir + "/log"
        // A token makes a non-loopback address allowed.
        let process = try Self.start([Self.workflow, "--once", "--var", "inbox=\(dir)/in", "--var", "work=\(dir)/work",
                                      "--state-dir", dir + "/state", "--http", "0.0.0.0:\(port)", "--http-token", "env:OBSERVE_TEST_TOKEN",
                                      "--http-linger", "120"], log: logFile, environment: ["OBSERVE_TEST_TOKEN": "s3cret-token"])
        defer { if process.isRunning { process.terminate() } }
        #expect(ArrowHTTPTests.waitUntil(60) { SecurityTests.log(logFile).contains("bearer token required") }, "\(SecurityTests.log(logFile))")
        #expect(Self.listeners(port: port) == ["00000000"])
        let base = "http://127.0.0.1:\(port)"
        for route in ["/", "/metrics", "/api/v1/status", "/api/v1/jobs", "/api/v1/jobs/x/logs", "/api/v1/events", "/api/v1/dead-letters"] {
            #expect(try await Self.get(base + route).status == 401, "\(route) without a token")
            #expect(try await Self.get(base + route, token: "wrong").status == 401, "\(route) with a wrong token")
        }
        for route in ["/", "/metrics", "/api/v1/status", "/api/v1/jobs", "/api/v1/dead-letters"] {
            #expect(try await Self.get(base + route, token: "s3cret-token").status == 200, "\(route) with the token")
        }
        // Each 401 names its scheme, so a client knows what to send.
        for (method, route) in [("GET", "/"), ("GET", "/metrics"), ("GET", "/api/v1/jobs/x/logs"), ("GET", "/api/v1/events"),
                                ("POST", "/api/v1/dead-letters/1/retry")] {
            let answer = HTTPSecurityTests.exchange(port, Data("\(method) \(route) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
            #expect(answer.hasPrefix("HTTP/1.1 401") && answer.lowercased().contains("\r\nwww-authenticate: bearer\r\n"), "\(route): \(answer)")
        }
        #expect(Self.interrupt(process) == 0, "\(SecurityTests.log(logFile))")
    }

    @Test func refusesAnOpenAddressWithoutATokenAndBadSettings() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["run", Self.workflow, "--once", "--var", "inbox=\(dir)/in", "--state-dir", dir + "/state"]
        let open = try CLI.run(base + ["--http", "0.0.0.0:9464"])
        #expect(open.status == 2)
        #expect(open.stderr.contains("0.0.0.0:9464 is reachable from other machines, so it needs a token"), "\(open.stderr)")
        let unset = try CLI.run(base + ["--http", "127.0.0.1:9464", "--http-token", "env:HYPHA_NO_SUCH_VARIABLE_42"])
        #expect(unset.status == 2)
        #expect(unset.stderr.contains("HYPHA_NO_SUCH_VARIABLE_42, which is unset or empty"), "\(unset.stderr)")
        let malformed = try CLI.run(base + ["--http", "localhost:http"])
        #expect(malformed.status == 2)
        #expect(malformed.stderr.contains("'localhost:http' is not HOST:PORT"), "\(malformed.stderr)")

        // The workflow file's http: is checked with the file's line and column.
        let text = try String(contentsOfFile: Self.workflow, encoding: .utf8)
        let file = dir + "/wf.yml"
        let badAddress = text.replacingOccurrences(of: "nodes:\n", with: "http: { address: \"0.0.0.0:99999\" }\nnodes:\n")
            .replacingOccurrences(of: "jobstore: ../jobstore", with: "jobstore: \(CLI.shipped("jobstore"))")
        try badAddress.write(toFile: file, atomically: true, encoding: .utf8)
        let checked = try CLI.run(["validate", file])
        #expect(checked.status != 0)
        #expect(checked.stderr.contains("wf.yml:") && checked.stderr.contains("'http.address' must be HOST:PORT"), "\(checked.stderr)")
        let noToken = badAddress.replacingOccurrences(of: "0.0.0.0:99999", with: "0.0.0.0:9464")
        try noToken.write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["validate", file])
        #expect(refused.stderr.contains("needs a 'token'"), "\(refused.stderr)")
        let unknown = badAddress.replacingOccurrences(of: "address: \"0.0.0.0:99999\"", with: "adress: \"127.0.0.1:1\"")
        try unknown.write(toFile: file, atomically: true, encoding: .utf8)
        let typo = try CLI.run(["validate", file])
        #expect(typo.stderr.contains("unknown key 'adress' in 'http'"), "\(typo.stderr)")
    }

    @Test(.enabled(if: SchemaCommandTests.haveValidator, "needs jsonschema and PyYAML in the test Python"))
    func theSchemaKnowsHTTP() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let nodes = "nodes:\n  in:\n    plugin: file-watch\n    path: /tmp\n"
        let variants = [
            "short": ("http: 127.0.0.1:9464\n", true),
            "mapping": ("http: { address: 0.0.0.0:9464, token: env:T }\n", true),
            "typo": ("http: { adress: 127.0.0.1:1 }\n", false),
        ]
        var files: [String: Bool] = [:]
        for (name, (text, valid)) in variants {
            let file = dir + "/\(name).yml"
            try (text + nodes).write(toFile: file, atomically: true, encoding: .utf8)
            files[file] = valid
        }
        let results = try SchemaCommandTests().validate(Array(files.keys), in: dir)
        for (file, valid) in files {
            #expect((results[file] == .some(nil)) == valid, "\(file): \(String(describing: results[file]))")
        }
    }

    @Test(.enabled(if: ObserveTests.hasPrometheusClient, "needs prometheus_client in the test Python"))
    func metricsScrapedDuringAndAfterAOnceRunOf20Zips() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Self.python("observe_metrics.py", [CLI.binary, Self.workflow, dir, "\(ArrowHTTPTests.freePort())"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
    }

    @Test(.enabled(if: ObserveTests.hasBrowser, "needs chromium, chromium-driver and selenium"))
    func webViewInHeadlessChromium() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let screenshot = CLI.packageRoot.appendingPathComponent(".build/test-artifacts/web-view.png").path
        try? FileManager.default.removeItem(atPath: screenshot)
        let r = try Self.python("observe_browser.py", [CLI.binary, Self.workflow, dir, "\(ArrowHTTPTests.freePort())", screenshot])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: screenshot))
    }

    @Test func jsonLogFormatWritesOneObjectPerLine() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try CLI.makeZips(in: dir + "/in", count: 2, tricky: true)
        let r = try CLI.run(["run", Self.workflow, "--once", "--var", "inbox=\(dir)/in", "--var", "work=\(dir)/work",
                             "--state-dir", dir + "/state", "--no-progress", "--log-format", "json", "--log-level", "debug"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count > 3)
        var nodes = Set<String>()
        for line in lines {
            let object = Self.json(String(line))
            #expect(object["time"] is String && object["level"] is String && object["message"] is String, "\(line)")
            #expect((object["time"] as? String)?.hasSuffix("Z") == true)
            if let node = object["node"] as? String { nodes.insert(node) }
        }
        #expect(!nodes.isEmpty, "no line named its node: \(r.stderr)")
    }
}

/// What a hostile client on the same machine can do to the observability endpoint's
/// connections (docs/OBSERVE.md): stalled, dripping and unauthenticated connections are closed
/// after --http-idle-timeout, connections are capped, the log tail is bounded, and a request
/// for another Host (DNS rebinding) is refused.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ObserveSecurityTests {
    /// A workflow that keeps running with the endpoint on a free port and `arguments` added;
    /// the process, the port and the log file once the endpoint listens.
    static func start(_ dir: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Int, String) {
        let workflow = try SecurityTests.oneJobWorkflow(dir, program: "true", arguments: [])
        let port = ArrowHTTPTests.freePort()
        let logFile = dir + "/log"
        let process = try ObserveTests.start([workflow, "--state-dir", dir + "/state", "--run-dir", dir + "/run",
                                              "--http", "\(port)"] + arguments, log: logFile, environment: environment)
        #expect(ArrowHTTPTests.waitUntil(30) { SecurityTests.log(logFile).contains("observability endpoint at http://127.0.0.1:\(port)/") },
                "\(SecurityTests.log(logFile))")
        return (process, port, logFile)
    }

    @Test func stalledDrippingAndUnauthenticatedConnectionsAreClosed() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (process, port, logFile) = try Self.start(dir, ["--http-token", "env:OBSERVE_TEST_TOKEN", "--http-idle-timeout", "1",
                                                                  "--http-max-connections", "200"],
                                                      environment: ["OBSERVE_TEST_TOKEN": "s3cret"])
        defer { _ = ObserveTests.interrupt(process) }
        let pid = process.processIdentifier
        let baseline = ArrowHTTPLimitTests.openDescriptors(pid)
        // Silent, a partial head, and a whole request without the token (answered 401, then idle).
        let openings = ["", "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n", "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"]
        var opened: [Date] = []
        let sockets = (0..<99).map {
            defer { opened.append(Date()) }
            return ArrowHTTPLimitTests.connect(port, sending: openings[$0 % 3])
        }
        defer { for fd in sockets where fd >= 0 { close(fd) } }
        #expect(sockets.allSatisfy { $0 >= 0 })
        // Each is closed by the endpoint (so it was accepted), none before the idle timeout.
        let lived = ArrowHTTPLimitTests.lifetimes(sockets, openedAt: opened, within: 10, closed: HTTPSecurityTests.closedAfterAnswer)
        #expect(lived.allSatisfy { $0 != nil }, "still open 10 s after an idle timeout of 1 s: \(lived.filter { $0 == nil }.count)")
        #expect(lived.compactMap { $0 }.allSatisfy { $0 >= 0.9 }, "closed before the idle timeout (1 s): \(lived.compactMap { $0 }.min() ?? 0) s")
        #expect(ArrowHTTPTests.waitUntil(3) { ArrowHTTPLimitTests.openDescriptors(pid) <= baseline + 2 },
                "descriptors \(ArrowHTTPLimitTests.openDescriptors(pid)), at rest \(baseline): \(SecurityTests.log(logFile))")
        // A retry refused (no token) while its announced body drips: answered and closed.
        let fd = ArrowHTTPLimitTests.connect(port, sending: "POST /api/v1/dead-letters/1/retry HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                 + "Content-Length: 4000000\r\n\r\nxx")
        defer { close(fd) }
        let dripped = HTTPSecurityTests.drip(fd, for: 4)
        #expect(dripped.answer.hasPrefix("HTTP/1.1 401"), "\(dripped.answer)")
        #expect(dripped.answer.lowercased().contains("\r\nwww-authenticate: bearer\r\n"), "\(dripped.answer)")
        #expect(dripped.closed, "the connection is still open 4 s after its answer while the client drips")
    }

    @Test func connectionsPastTheLimitWaitAndAreServedLater() async throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (process, port, logFile) = try Self.start(dir, ["--http-max-connections", "4", "--http-idle-timeout", "1"])
        defer { _ = ObserveTests.interrupt(process) }
        let pid = process.processIdentifier
        let baseline = ArrowHTTPLimitTests.openDescriptors(pid)
        let sockets = (0..<20).map { _ in ArrowHTTPLimitTests.connect(port, sending: "") }
        defer { for fd in sockets where fd >= 0 { close(fd) } }
        #expect(ArrowHTTPTests.waitUntil(5) { SecurityTests.log(logFile).contains("the observability endpoint has 4 connections open, its limit") },
                "\(SecurityTests.log(logFile))")
        let held = ArrowHTTPLimitTests.openDescriptors(pid)
        #expect(held <= baseline + 4 + 4, "descriptors \(held) with 20 connections, at rest \(baseline)")
        #expect(ArrowHTTPTests.waitUntil(15) { sockets.allSatisfy(ArrowHTTPLimitTests.closedByServer) })
        #expect(try await ObserveTests.get("http://127.0.0.1:\(port)/api/v1/status").status == 200)
    }

    @Test func theLogTailIsCappedAndAnotherHostIsRefused() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (process, port, _) = try Self.start(dir, ["--http-allowed-hosts", "hypha.test, other.test"])
        defer { _ = ObserveTests.interrupt(process) }
        func get(_ path: String, host: String = "127.0.0.1", headers: String = "", method: String = "GET") -> String {
            HTTPSecurityTests.exchange(port, Data("\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\n\(headers)Content-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        }
        let huge = get("/api/v1/jobs/any/logs?bytes=1000000000000")
        #expect(huge.hasPrefix("HTTP/1.1 400") && huge.contains("from 1 to 16777216"), "\(huge)")
        #expect(get("/api/v1/jobs/any/logs?bytes=100").hasPrefix("HTTP/1.1 404"))

        // The review's rebinding: a page of another site, its name pointed at 127.0.0.1.
        let rebound = get("/api/v1/dead-letters/1/retry", host: "attacker.example:\(port)",
                          headers: "Origin: http://attacker.example:\(port)\r\nX-Hypha-Request: 1\r\n", method: "POST")
        #expect(rebound.hasPrefix("HTTP/1.1 421") && rebound.contains("--http-allowed-hosts"), "\(rebound)")
        #expect(get("/api/v1/status", host: "attacker.example:\(port)").hasPrefix("HTTP/1.1 421"))
        for host in ["127.0.0.1:\(port)", "localhost:\(port)", "[::1]:\(port)", "hypha.test:\(port)", "other.test"] {
            let answer = get("/api/v1/status", host: host)
            #expect(answer.hasPrefix("HTTP/1.1 200"), "Host \(host): \(answer)")
        }
    }
}
