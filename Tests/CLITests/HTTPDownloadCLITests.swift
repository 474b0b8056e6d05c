import Foundation
import Testing

/// `http-download` end to end: the built `hypha` runs workflows/download-extract-aggregate.yml
/// against a local server (Tests/scripts/download_server.py) that also watches the download
/// folder, recording every file that appears there under a final name, and its content.
@Suite(.serialized, .timeLimit(.minutes(10))) struct HTTPDownloadCLITests {
    /// The server, its port, and where it logs.
    final class Server {
        let process: Process
        let port: Int
        let accessLog: String
        let watchLog: String

        /// `hidden`: the watcher records names starting with '.' (partial files) too.
        init(root: String, dir: String, watch: String, hidden: Bool = false) throws {
            accessLog = dir + "/access.log"
            watchLog = dir + "/watch.log"
            let portFile = dir + "/port"
            process = Process()
            let py = CLI.python
            let args = [CLI.shipped("Tests/scripts/download_server.py"), "serve", root, "--port-file", portFile, "--log", accessLog,
                        "--watch", watch, "--watch-log", watchLog] + (hidden ? ["--watch-hidden"] : [])
            process.executableURL = URL(fileURLWithPath: py)
            process.arguments = CLI.pythonArguments(args)
            process.standardError = FileHandle.nullDevice
            try process.run()
            var found: Int?
            _ = ArrowHTTPTests.waitUntil(20) {
                found = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
                return found != nil
            }
            port = found ?? 0
        }

        func stop() {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        func lines(_ file: String) -> [[String: Any]] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
    }

    static func sha256(_ path: String) throws -> String {
        let args = ["-c", "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())", path]
        let r = try CLI.runPython(args)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aFeedOfZipsIsFetchedVerifiedResumedAggregatedAndNotFetchedAgain() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let served = dir + "/served", downloads = dir + "/downloads", work = dir + "/work"
        let make = [CLI.shipped("Tests/scripts/download_server.py"), "make-zips", served, "--count", "20", "--big", "7"]
        let made = try CLI.runPython(make)
        try #require(made.status == 0, "make-zips: \(made.stderr)")
        try FileManager.default.copyItem(atPath: served + "/sales-03.zip", toPath: served + "/bad.zip")
        var expected: [String: String] = [:]
        for i in 0..<20 {
            let name = String(format: "sales-%02d.zip", i)
            expected[name] = try Self.sha256(served + "/" + name)
        }

        let server = try Server(root: served, dir: dir, watch: downloads)
        defer { server.stop() }
        try #require(server.port > 0, "the test server did not start")
        let base = "http://127.0.0.1:\(server.port)"
        // Even zips with their sha256 (the feed names the content), odd ones without (asked
        // with If-None-Match next time); zip 7 through the route that cuts the first transfer.
        var feed = "# 20 zips, one missing, one with the wrong digest\n"
        for i in 0..<20 {
            let name = String(format: "sales-%02d.zip", i)
            let path = i == 7 ? "/cut/\(name)" : "/files/\(name)"
            feed += i % 2 == 0 || i == 7 ? "\(base)\(path) \(expected[name] ?? "")\n" : "\(path)\n"
        }
        feed += "/missing/gone.zip\n"
        feed += "/files/bad.zip \(String(repeating: "0", count: 64))\n"
        try feed.write(toFile: served + "/feed.txt", atomically: true, encoding: .utf8)

        let args = ["run", CLI.shipped("workflows/download-extract-aggregate.yml"), "--once", "--no-progress",
                    "--var", "feed=\(base)/files/feed.txt", "--var", "downloads=\(downloads)", "--var", "work=\(work)",
                    "--state-dir", dir + "/state", "--run-dir", dir + "/run"]
        let first = try CLI.run(args, timeout: 300)
        let output = first.stdout + first.stderr

        // The bad ones are failures naming their URL, and the run says so.
        #expect(first.status == 1, "\(output)")
        #expect(output.contains("\(base)/missing/gone.zip: HTTP 404"), "\(output)")
        #expect(output.contains("\(base)/files/bad.zip: its sha256 is"), "\(output)")
        #expect(first.stdout.contains("http-download out 20  failed 2"), "\(first.stdout)")

        // The cut transfer was resumed from where it stopped, not started over.
        let access = server.lines(server.accessLog)
        let cut = access.filter { ($0["path"] as? String) == "/cut/sales-07.zip" }
        #expect(cut.map { $0["status"] as? Int } == [200, 206], "\(cut)")
        // From what had arrived when the connection was cut (at most what the server sent).
        let resumedAt = (cut.last?["range"] as? String).flatMap { Int($0.dropFirst(6).dropLast()) } ?? 0
        #expect(resumedAt > 0 && resumedAt <= (cut.first?["bytes"] as? Int ?? 0), "\(cut)")

        // The good ones, and only they, are in the folder, complete; nothing else was ever
        // seen there under a final name (no partial, no unverified file).
        let names = try FileManager.default.contentsOfDirectory(atPath: downloads).sorted()
        #expect(names == expected.keys.sorted(), "\(names)")
        for (name, sha) in expected { #expect(try Self.sha256(downloads + "/" + name) == sha, "\(name)") }
        let seen = server.lines(server.watchLog)
        #expect(seen.count >= 20, "the watcher saw \(seen.count) files")
        for sighting in seen {
            let name = sighting["name"] as? String ?? "?"
            #expect(expected[name] != nil && sighting["sha256"] as? String == expected[name],
                    "\(name) appeared in the folder with \(sighting["size"] ?? "?") bytes and sha256 \(sighting["sha256"] ?? "?")")
        }

        // Extracted and aggregated with the right numbers: zip i holds a,i a,2i b,10+i.
        for i in 0..<20 {
            let report = work + String(format: "/sales-%02d/report.json", i)
            let data = try #require(FileManager.default.contents(atPath: report), "no \(report)")
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let groups = json["groups"] as? [String: [String: Any]]
            #expect((groups?["a"]?["sum"] as? NSNumber)?.intValue == 3 * i, "\(report): \(json)")
            #expect((groups?["b"]?["sum"] as? NSNumber)?.intValue == 10 + i, "\(report): \(json)")
            #expect((groups?["a"]?["count"] as? NSNumber)?.intValue == 2, "\(report): \(json)")
        }

        // A second run fetches nothing: no body for any zip, and nothing emitted.
        let before = access.count
        let second = try CLI.run(args, timeout: 120)
        #expect(second.stdout.contains("http-download out 0  failed 2"), "\(second.stdout)\(second.stderr)")
        let again = server.lines(server.accessLog).dropFirst(before).filter { ($0["path"] as? String) != "/files/feed.txt" }
        let bodies = again.filter { [200, 206].contains($0["status"] as? Int ?? 0) }
        #expect(bodies.isEmpty, "fetched again: \(bodies)")
        // Odd zips (no digest in the feed) and the bad one were asked about (304), even ones not at all.
        #expect(again.filter { ($0["status"] as? Int) == 304 }.count == 10, "\(again)")
        #expect(second.status == 1, "the feed still lists two bad files: \(second.stdout)")
    }

    /// A URL that failed is a dead letter of the download node, kept once however often it
    /// fails again; `dead-letters retry` fetches it again and sends the file down the DAG; a
    /// later run that fetches it removes its letter.
    @Test func aFailedDownloadIsADeadLetterThatCanBeRetried() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let served = dir + "/served", downloads = dir + "/downloads", work = dir + "/work"
        let made = try CLI.runPython([CLI.shipped("Tests/scripts/download_server.py"), "make-zips", served, "--count", "3"])
        try #require(made.status == 0, "make-zips: \(made.stderr)")
        let server = try Server(root: served, dir: dir, watch: downloads)
        defer { server.stop() }
        try #require(server.port > 0, "the test server did not start")
        let base = "http://127.0.0.1:\(server.port)"
        let late = "\(base)/files/late.zip", bad = "\(base)/files/sales-01.zip"
        let wrongDigest = String(repeating: "0", count: 64)
        try "/files/sales-00.zip\n/files/late.zip\n/files/sales-01.zip \(wrongDigest)\n"
            .write(toFile: served + "/feed.txt", atomically: true, encoding: .utf8)
        let workflow = CLI.shipped("workflows/download-extract-aggregate.yml")
        let vars = ["--var", "feed=\(base)/files/feed.txt", "--var", "downloads=\(downloads)", "--var", "work=\(work)"]
        let state = ["--state-dir", dir + "/state"]
        func letters() throws -> [[String: Any]] {
            let list = try CLI.run(["dead-letters", "list", workflow, "--json"] + vars + state)
            #expect(list.status == 0, "\(list.stderr)")
            return list.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        // Two failures, each a letter of the download node naming its URL; a second run that
        // fails the same way keeps one letter each.
        for _ in 0..<2 {
            let run = try CLI.run(["run", workflow, "--once", "--no-progress", "--run-dir", dir + "/run"] + vars + state, timeout: 120)
            #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
            let kept = try letters()
            #expect(kept.map { $0["file"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") } == [late, bad], "\(kept)")
            #expect(kept.allSatisfy { $0["node"] as? String == "downloads" }, "\(kept)")
            #expect(kept.contains { ($0["reason"] as? String)?.contains("\(late): HTTP 404") == true }, "\(kept)")
        }
        #expect(FileManager.default.fileExists(atPath: work + "/sales-00/report.json"))

        // The missing file appears; retrying both fetches it and runs its jobs, while the one
        // with the wrong digest fails again and stays.
        try FileManager.default.copyItem(atPath: served + "/sales-02.zip", toPath: served + "/late.zip")
        let retry = try CLI.run(["dead-letters", "retry", workflow, "--all", "--no-progress", "--run-dir", dir + "/retry"] + vars + state,
                                timeout: 120)
        #expect(retry.stdout.contains("retried 2 dead letters: 1 succeeded"), "\(retry.stdout)\(retry.stderr)")
        #expect(retry.status == 1, "the wrong digest failed again: \(retry.stdout)")
        #expect(try letters().map { $0["file"] as? String } == [bad])
        let report = try #require(FileManager.default.contents(atPath: work + "/late/report.json"), "late.zip was not extracted and aggregated")
        let groups = (try JSONSerialization.jsonObject(with: report) as? [String: Any])?["groups"] as? [String: [String: Any]]
        #expect((groups?["a"]?["sum"] as? NSNumber)?.intValue == 6, "\(groups ?? [:])")  // zip 2 holds a,2 a,4 b,12

        // The feed gets the right digest: the next run fetches the file and its letter goes.
        let digest = try Self.sha256(served + "/sales-01.zip")
        try "/files/sales-00.zip\n/files/late.zip\n/files/sales-01.zip \(digest)\n"
            .write(toFile: served + "/feed.txt", atomically: true, encoding: .utf8)
        let fixed = try CLI.run(["run", workflow, "--once", "--no-progress", "--run-dir", dir + "/run"] + vars + state, timeout: 120)
        #expect(fixed.status == 0, "\(fixed.stdout)\(fixed.stderr)")
        #expect(try letters().isEmpty)
        #expect(FileManager.default.fileExists(atPath: work + "/sales-01/report.json"))
    }

    /// A Hypha killed (SIGKILL) in the middle of a large transfer resumes it with `Range` on the
    /// next start, from the bytes it had, and the file is whole and right.
    @Test func aTransferCutByAKilledHyphaResumesOnTheNextStart() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let served = dir + "/served", downloads = dir + "/downloads"
        let make = [CLI.shipped("Tests/scripts/download_server.py"), "make-zips", served, "--count", "1", "--big", "0"]
        let made = try CLI.runPython(make)
        try #require(made.status == 0, "make-zips: \(made.stderr)")
        let server = try Server(root: served, dir: dir, watch: downloads)
        defer { server.stop() }
        try #require(server.port > 0)
        try """
            nodes:
              get: { plugin: http-download, urls: ["http://127.0.0.1:\(server.port)/stall/sales-00.zip"], dir: \(downloads) }
              out: { plugin: capture, from: get, path: \(dir)/out.jsonl }
            """.write(toFile: dir + "/w.yml", atomically: true, encoding: .utf8)
        let arguments = ["run", dir + "/w.yml", "--once", "--no-progress", "--state-dir", dir + "/state", "--run-dir", dir + "/run"]
        let size = try #require(try FileManager.default.attributesOfItem(atPath: served + "/sales-00.zip")[.size] as? Int)
        let part = downloads + "/.sales-00.zip.part"

        // The first transfer stalls after half of the body: Hypha is killed while it waits.
        let first = Process()
        first.executableURL = URL(fileURLWithPath: CLI.binary)
        first.arguments = arguments
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { first.terminate() } }
        let partSize = { (try? FileManager.default.attributesOfItem(atPath: part)[.size] as? Int) ?? 0 }
        #expect(ArrowHTTPTests.waitUntil(60) { partSize() >= size / 2 }, "the partial file never reached half: \(partSize())")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(FileManager.default.fileExists(atPath: part + "-validator"), "a large transfer keeps its resume validator from the start")
        #expect(!FileManager.default.fileExists(atPath: downloads + "/sales-00.zip"), "nothing under the final name yet")

        let again = try CLI.run(arguments)
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        let requests = server.lines(server.accessLog).filter { ($0["path"] as? String)?.hasSuffix("sales-00.zip") == true }
        let resumed = requests.last
        #expect(resumed?["status"] as? Int == 206, "\(requests)")
        #expect((resumed?["range"] as? String) == "bytes=\(size / 2)-", "resumed from the bytes it had: \(requests)")
        #expect(try Self.sha256(downloads + "/sales-00.zip") == Self.sha256(served + "/sales-00.zip"))
        #expect(!FileManager.default.fileExists(atPath: part) && !FileManager.default.fileExists(atPath: part + "-validator"))
    }

    /// The two-node form, as in the original demo: download-node.yml fetches over HTTP and
    /// posts a row per zip to job-node.yml, whose extract specs then name the downloaded files.
    @Test func theDownloadNodeFetchesAndPostsToTheJobNode() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let served = dir + "/served", downloads = dir + "/downloads", work = dir + "/work"
        let make = [CLI.shipped("Tests/scripts/download_server.py"), "make-zips", served, "--count", "3"]
        let made = try CLI.runPython(make)
        try #require(made.status == 0, "make-zips: \(made.stderr)")
        try "sales-00.zip\nsales-01.zip\nsales-02.zip\n".write(toFile: served + "/feed.txt", atomically: true, encoding: .utf8)
        let server = try Server(root: served, dir: dir, watch: downloads)
        defer { server.stop() }
        try #require(server.port > 0)

        let port = ArrowHTTPTests.freePort()
        let jobNode = try ArrowHTTPTests.start(
            [CLI.shipped("workflows/job-node.yml"), "--profile", "capture", "--var", "port=\(port)", "--var", "inbox=\(downloads)",
             "--var", "work=\(work)", "--var", "token=s3cret", "--run-dir", dir + "/run-b", "--state-dir", dir + "/state-b"],
            log: dir + "/b.log")
        defer { ArrowHTTPTests.stop(jobNode) }
        // The job node takes paths only from its inbox: the download folder (one machine here).
        // The sink retries until the job node listens, so the download node can start at once.
        let r = try CLI.run(["run", CLI.shipped("workflows/download-node.yml"), "--once", "--no-progress",
                             "--var", "feed=http://127.0.0.1:\(server.port)/files/feed.txt", "--var", "downloads=\(downloads)",
                             "--var", "url=http://127.0.0.1:\(port)/arrow", "--var", "token=s3cret",
                             "--run-dir", dir + "/run-a", "--state-dir", dir + "/state-a"], timeout: 120)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let expected = Set((0..<3).map { String(format: "\(downloads)/sales-%02d.zip", $0) })
        #expect(ArrowHTTPTests.waitUntil(30) { ArrowHTTPTests.capturedPaths(work + "/extract-specs.jsonl") == expected },
                "\(ArrowHTTPTests.capturedPaths(work + "/extract-specs.jsonl")); b: \((try? String(contentsOfFile: dir + "/b.log", encoding: .utf8)) ?? "")")
    }

    /// A state folder written by a Hypha before downloads were remembered (schema version 1)
    /// opens: its rows are kept, the downloads table (and schema 3's runs) is added, and it
    /// remembers from then on.
    @Test func aVersion1StateDatabaseIsMigrated() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let served = dir + "/served", state = dir + "/state"
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try Data("id\n1\n".utf8).write(to: URL(fileURLWithPath: served + "/one.csv"))
        let version1 = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.executescript('''
            CREATE TABLE files (node TEXT NOT NULL, device INTEGER NOT NULL, inode INTEGER NOT NULL, size INTEGER NOT NULL,
              modified INTEGER NOT NULL, changed INTEGER NOT NULL, hash TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL,
              reason TEXT, updated REAL NOT NULL, PRIMARY KEY (node, device, inode)) WITHOUT ROWID;
            CREATE TABLE jobs (node TEXT NOT NULL, name TEXT NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
              input TEXT NOT NULL, file TEXT, pid INTEGER, remote_id TEXT, exit_code INTEGER, duration REAL, stdout_path TEXT,
              stderr_path TEXT, details TEXT, reason TEXT, attempts INTEGER NOT NULL DEFAULT 0, started REAL, ended REAL,
              PRIMARY KEY (node, name)) WITHOUT ROWID;
            CREATE INDEX jobs_by_state ON jobs(state);
            CREATE TABLE received (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, bytes BLOB NOT NULL, received REAL NOT NULL);
            CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, reason TEXT NOT NULL, port TEXT NOT NULL,
              payload TEXT NOT NULL, file TEXT, logs TEXT NOT NULL, created REAL NOT NULL);
            INSERT INTO files VALUES ('old', 1, 2, 3, 4, 5, 'h', '/x/old.zip', 'done', NULL, 0);
            PRAGMA user_version = 1;
            ''')
            c.commit()
            """
        let make = ["-c", version1, state + "/state.db"]
        let made = try CLI.runPython(make)
        try #require(made.status == 0, "\(made.stderr)")
        let workflow = dir + "/w.yml"
        try """
            name: fetch
            nodes:
              get: { plugin: http-download, urls: ["file://\(served)/one.csv"], dir: \(dir)/downloads }
              out: { plugin: capture, from: get, path: \(dir)/out.jsonl }
            """.write(toFile: workflow, atomically: true, encoding: .utf8)
        let args = ["run", workflow, "--once", "--no-progress", "--state-dir", state, "--run-dir", dir + "/run"]
        let first = try CLI.run(args)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("http-download out 1  failed 0"), "\(first.stdout)")
        let second = try CLI.run(args)
        #expect(second.stdout.contains("http-download out 0  failed 0"), "remembered across runs: \(second.stdout)")
        let look = ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                    + "print(c.execute('PRAGMA user_version').fetchone()[0], c.execute('SELECT count(*) FROM files').fetchone()[0], "
                    + "c.execute('SELECT state FROM downloads').fetchall())", state + "/state.db"]
        let r = try CLI.runPython(look)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "3 1 [('done',)]", "\(r.stdout)\(r.stderr)")
    }

    @Test func withoutStateASecondRunFetchesAgain() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let served = dir + "/served", downloads = dir + "/downloads"
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        try Data("id\n1\n".utf8).write(to: URL(fileURLWithPath: served + "/one.csv"))
        let server = try Server(root: served, dir: dir, watch: downloads)
        defer { server.stop() }
        try #require(server.port > 0)
        let workflow = dir + "/w.yml"
        try """
            name: fetch
            nodes:
              get: { plugin: http-download, urls: ["http://127.0.0.1:\(server.port)/files/one.csv", "file://\(served)/one.csv"], dir: \(downloads)/x }
              rows: { plugin: arrow-decode, from: get }
              out: { plugin: capture, from: rows, path: \(dir)/out.jsonl }
            """.write(toFile: workflow, atomically: true, encoding: .utf8)
        let twoNames = try CLI.run(["run", workflow, "--once", "--no-progress", "--no-state", "--run-dir", dir + "/run"])
        // Both URLs end in one.csv: the second is refused, naming it, not written over the first.
        #expect(twoNames.status == 1)
        #expect(twoNames.stdout.contains("file://\(served)/one.csv: it would be written as 'one.csv'"), "\(twoNames.stdout)")

        try """
            name: fetch
            nodes:
              get: { plugin: http-download, urls: ["http://127.0.0.1:\(server.port)/files/one.csv"], dir: \(downloads)/y, max_bytes: 3 }
              rows: { plugin: arrow-decode, from: get }
              out: { plugin: capture, from: rows, path: \(dir)/out.jsonl }
            """.write(toFile: workflow, atomically: true, encoding: .utf8)
        let tooLarge = try CLI.run(["run", workflow, "--once", "--no-progress", "--no-state", "--run-dir", dir + "/run"])
        #expect(tooLarge.status == 1)
        #expect(tooLarge.stdout.contains("one.csv: it is 5 bytes, over max_bytes (3)"), "\(tooLarge.stdout)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: downloads + "/y")) == [])

        try """
            name: fetch
            nodes:
              get: { plugin: http-download, urls: ["http://127.0.0.1:\(server.port)/files/one.csv"], dir: \(downloads)/z }
              rows: { plugin: arrow-decode, from: get }
              out: { plugin: capture, from: rows, path: \(dir)/out.jsonl }
            """.write(toFile: workflow, atomically: true, encoding: .utf8)
        for _ in 0..<2 {
            let r = try CLI.run(["run", workflow, "--once", "--no-progress", "--no-state", "--run-dir", dir + "/run"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("http-download out 1  failed 0"), "\(r.stdout)")
        }
        let captured = try String(contentsOfFile: dir + "/out.jsonl", encoding: .utf8)
        #expect(captured.contains("\"sha256\""), "\(captured)")
        #expect(captured.contains(downloads + "/z/one.csv"), "\(captured)")
    }
}

/// `http-download` against a feed or a server that is hostile or broken: it reads only what its
/// workflow allows (schemes, hosts), stops at `max_bytes`, the free space and `deadline`, and
/// leaves no partial file behind when it gives up or is stopped.
@Suite(.serialized, .timeLimit(.minutes(5))) struct HTTPDownloadLimitsCLITests {
    typealias Server = HTTPDownloadCLITests.Server

    /// A temporary folder with `served/` (sales-NN.zip, served by a server that also records
    /// every name, hidden ones too, that appears in `downloads/`) and `private/secret.zip`, a
    /// local file no feed may have copied.
    final class Setup {
        let dir: String
        let served: String
        let downloads: String
        let secret: String
        let server: Server
        var base: String { "http://127.0.0.1:\(server.port)" }

        init(zips: Int = 2, big: Int? = nil) throws {
            dir = try CLI.temporaryFolder()
            served = dir + "/served"
            downloads = dir + "/downloads"
            secret = dir + "/private/secret.zip"
            var make = [CLI.shipped("Tests/scripts/download_server.py"), "make-zips", served, "--count", "\(zips)"]
            if let big { make += ["--big", "\(big)"] }
            let made = try CLI.runPython(make)
            try #require(made.status == 0, "make-zips: \(made.stderr)")
            try FileManager.default.createDirectory(atPath: dir + "/private", withIntermediateDirectories: true)
            try Data("not for the feed".utf8).write(to: URL(fileURLWithPath: secret))
            server = try Server(root: served, dir: dir, watch: downloads, hidden: true)
            try #require(server.port > 0, "the test server did not start")
        }

        deinit {
            server.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// Writes `get` (the http-download node, its options as YAML flow text) feeding a
        /// capture sink, and runs it with `--once`.
        func run(_ options: String, state: Bool = false, timeout: Double = 60) throws -> CLI.Result {
            try """
                nodes:
                  get: { plugin: http-download, dir: \(downloads), \(options) }
                  out: { plugin: capture, from: get, path: \(dir)/out.jsonl }
                """.write(toFile: dir + "/w.yml", atomically: true, encoding: .utf8)
            let keep = state ? ["--state-dir", dir + "/state"] : ["--no-state"]
            return try CLI.run(["run", dir + "/w.yml", "--once", "--no-progress", "--run-dir", dir + "/run"] + keep, timeout: timeout)
        }

        /// The names in the download folder now (hidden ones too).
        func names() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: downloads)) ?? []).sorted()
        }

        /// Every hidden (partial) file the server's watcher saw in the download folder.
        func partialsSeen() -> [String] {
            server.lines(server.watchLog).compactMap { $0["name"] as? String }.filter { $0.hasPrefix(".") }
        }

        /// The bytes the server sent for requests whose path starts with `prefix`.
        func bytesSent(_ prefix: String) -> [Int] {
            server.lines(server.accessLog).filter { ($0["path"] as? String)?.hasPrefix(prefix) == true }.compactMap { $0["bytes"] as? Int }
        }
    }

    /// Bytes free to this user on the file system holding `path`.
    static func freeBytes(_ path: String) -> Int64 {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return 0 }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }

    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    /// A feed fetched over HTTP that lists `file://` URLs gets none of them read: each is a failure naming the feed, the line and the URL, kept as a dead letter that
    /// a retry refuses again; the feed's http line is fetched as usual.
    @Test func aFeedLineNamingALocalFileIsRefusedAndNothingIsRead() throws {
        let s = try Setup()
        let local = "file://\(s.secret)"
        try "/files/sales-00.zip\n\(local)\nfile:///proc/self/environ\n"
            .write(toFile: s.served + "/feed.txt", atomically: true, encoding: .utf8)
        let feed = "\(s.base)/files/feed.txt"
        let r = try s.run("feed: \"\(feed)\"", state: true)
        let output = r.stdout + r.stderr
        #expect(r.status == 1, "\(output)")
        #expect(output.contains("\(local): line 2 of the feed \(feed) lists it, but a feed may list only http:// and https:// URLs"), "\(output)")
        #expect(output.contains("file:///proc/self/environ: line 3 of the feed \(feed)"), "\(output)")
        #expect(s.names() == ["sales-00.zip"], "\(s.names())")

        // The refusals are the node's dead letters; retrying them reads nothing either.
        let w = s.dir + "/w.yml", state = ["--state-dir", s.dir + "/state"]
        let list = try CLI.run(["dead-letters", "list", w, "--json"] + state)
        #expect(list.stdout.contains(local), "\(list.stdout)\(list.stderr)")
        let retry = try CLI.run(["dead-letters", "retry", w, "--all", "--no-progress", "--run-dir", s.dir + "/retry"] + state)
        #expect(retry.status == 1, "\(retry.stdout)\(retry.stderr)")
        #expect(s.names() == ["sales-00.zip"], "\(s.names())")
    }

    /// A redirect is followed only to http(s) and to a host in `allowed_hosts`: to `file://`
    /// or to another host it is a failure naming the URL and where it led; within them it works.
    @Test func aRedirectToAFileOrAnotherHostIsRefused() throws {
        let s = try Setup()
        let toFile = "\(s.base)/redirect/secret.zip?to=" + Self.encoded("file://\(s.secret)")
        let elsewhere = "http://localhost:\(s.server.port)/files/sales-01.zip"
        let toHost = "\(s.base)/redirect/sales-01.zip?to=" + Self.encoded(elsewhere)
        let fine = "\(s.base)/redirect/sales-00.zip?to=" + Self.encoded("/files/sales-00.zip")
        let r = try s.run("urls: [\"\(toFile)\", \"\(toHost)\", \"\(fine)\"], allowed_hosts: [127.0.0.1]")
        let output = r.stdout + r.stderr
        #expect(r.status == 1, "\(output)")
        #expect(output.contains("\(toFile): it redirects to file://\(s.secret), and a redirect may lead only to"), "\(output)")
        #expect(output.contains("\(toHost): it redirects to \(elsewhere), whose host 'localhost' is not in allowed_hosts"), "\(output)")
        #expect(s.names() == ["sales-00.zip"], "\(s.names())")
        #expect(s.bytesSent("/files/sales-01.zip").isEmpty, "the other host was asked")
    }

    /// A feed line naming a host outside `allowed_hosts` is a failure naming the URL and the
    /// host, and that host is never asked.
    @Test func aFeedLineOutsideAllowedHostsIsRefused() throws {
        let s = try Setup()
        let outside = "http://localhost:\(s.server.port)/files/sales-01.zip"
        try "/files/sales-00.zip\n\(outside)\n".write(toFile: s.served + "/feed.txt", atomically: true, encoding: .utf8)
        let r = try s.run("feed: \"\(s.base)/files/feed.txt\", allowed_hosts: [\"*.example.org\", 127.0.0.1]")
        let output = r.stdout + r.stderr
        #expect(r.status == 1, "\(output)")
        #expect(output.contains("\(outside): its host 'localhost' is not in allowed_hosts"), "\(output)")
        #expect(s.names() == ["sales-00.zip"], "\(s.names())")
        #expect(s.bytesSent("/files/sales-01.zip").isEmpty, "the host outside the list was asked")
    }

    /// With no `max_bytes` in the workflow, a Content-Length over the default (10 GiB) fails
    /// before a byte is written: no partial file ever appears.
    @Test func aContentLengthOverTheDefaultMaxBytesIsRefusedBeforeWriting() throws {
        let s = try Setup()
        let claimed: Int64 = 11 << 30
        let url = "\(s.base)/claim/huge.zip?length=\(claimed)&send=\(2 << 20)"
        let r = try s.run("urls: [\"\(url)\"], max_retries: 0")
        let output = r.stdout + r.stderr
        #expect(r.status == 1, "\(output)")
        #expect(output.contains("\(url): it is \(claimed) bytes, over max_bytes (\(10 << 30))"), "\(output)")
        #expect(s.partialsSeen().isEmpty, "written before refusing: \(s.partialsSeen())")
        #expect(s.names().isEmpty, "\(s.names())")
    }

    /// A body without Content-Length is stopped once it passes `max_bytes`, or once the free
    /// space would fall under `keep_free`, and its partial file is removed either way.
    @Test func aBodyWithoutLengthIsStoppedAtMaxBytesOrTheFreeSpace() throws {
        let s = try Setup()
        let endless = "\(s.base)/stream/endless.zip?bytes=\(256 << 20)"
        let tooLarge = try s.run("urls: [\"\(endless)\"], max_bytes: \(1 << 20)")
        #expect(tooLarge.status == 1, "\(tooLarge.stdout)\(tooLarge.stderr)")
        #expect(tooLarge.stdout.contains("\(endless): it is over max_bytes (\(1 << 20)); raise max_bytes"), "\(tooLarge.stdout)")
        #expect(s.names().isEmpty, "\(s.names())")
        #expect(s.bytesSent("/stream/").allSatisfy { $0 < 256 << 20 }, "not stopped: \(s.bytesSent("/stream/"))")

        // Leave 64 MiB above keep_free: the body may take those, and no more. (Should other
        // writers take them first, the check before the transfer refuses it, as it should.)
        let keepFree = Self.freeBytes(s.dir) - (64 << 20)
        let big = "\(s.base)/stream/big.zip?bytes=\(512 << 20)"
        let full = try s.run("urls: [\"\(big)\"], keep_free: \(keepFree), max_retries: 0")
        #expect(full.status == 1, "\(full.stdout)\(full.stderr)")
        #expect(full.stdout.contains("\(big): not enough free space in \(s.downloads)"), "\(full.stdout)")
        #expect(s.names().isEmpty, "\(s.names())")
    }

    /// A Content-Length under `max_bytes` but over the free space (with `keep_free`) fails
    /// before a byte is written, saying what is needed and what is free.
    @Test func aFileLargerThanTheFreeSpaceIsRefusedBeforeWriting() throws {
        let s = try Setup()
        let claimed = Self.freeBytes(s.dir) + (1 << 30)
        let url = "\(s.base)/claim/big.zip?length=\(claimed)&send=\(2 << 20)"
        let r = try s.run("urls: [\"\(url)\"], max_bytes: \(claimed * 2), max_retries: 0")
        let output = r.stdout + r.stderr
        #expect(r.status == 1, "\(output)")
        #expect(output.contains("\(url): not enough free space in \(s.downloads): it needs \(claimed + (256 << 20)) bytes"), "\(output)")
        #expect(output.contains("are free; free some space or lower keep_free"), "\(output)")
        #expect(s.partialsSeen().isEmpty, "written before refusing: \(s.partialsSeen())")
        #expect(s.names().isEmpty, "\(s.names())")
    }

    /// A server that sends a byte now and then (never idle for `timeout`) is given up at the
    /// `deadline`: the file (or the feed) fails naming the URL, its partial file goes, and
    /// `--once` ends.
    @Test func aTooSlowServerHitsTheDeadlineAndOnceEnds() throws {
        let s = try Setup()
        let url = "\(s.base)/slow/slow.zip?length=100000&every=0.05"
        let started = Date()
        let r = try s.run("urls: [\"\(url)\"], deadline: 1s, timeout: 30s", timeout: 30)
        let output = r.stdout + r.stderr
        #expect(r.status == 1, "\(output)")
        #expect(output.contains("\(url): it did not finish within the deadline (1 s)"), "\(output)")
        #expect(Date().timeIntervalSince(started) < 20, "--once took \(Date().timeIntervalSince(started)) s")
        #expect(s.names().isEmpty, "\(s.names())")

        // A feed sent as slowly fails the same way, naming the feed.
        let feed = "\(s.base)/slow/feed.txt?length=100000&every=0.05"
        let slowFeed = try s.run("feed: \"\(feed)\", deadline: 1s, timeout: 30s", timeout: 30)
        #expect(slowFeed.status != 0, "\(slowFeed.stdout)\(slowFeed.stderr)")
        #expect((slowFeed.stdout + slowFeed.stderr).contains("feed \(feed): it could not be read within the deadline (1 s)"),
                "\(slowFeed.stdout)\(slowFeed.stderr)")
    }

    /// A Hypha stopped gracefully (SIGTERM) in the middle of a transfer removes its partial
    /// file (and the file that says what a resume must match): nothing is left in the folder.
    @Test func aGracefulStopMidTransferRemovesThePartialFile() throws {
        let s = try Setup(zips: 1, big: 0)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: s.served + "/sales-00.zip")[.size] as? Int)
        try """
            nodes:
              get: { plugin: http-download, urls: ["\(s.base)/stall/sales-00.zip"], dir: \(s.downloads) }
              out: { plugin: capture, from: get, path: \(s.dir)/out.jsonl }
            """.write(toFile: s.dir + "/w.yml", atomically: true, encoding: .utf8)
        let hypha = Process()
        hypha.executableURL = URL(fileURLWithPath: CLI.binary)
        hypha.arguments = ["run", s.dir + "/w.yml", "--no-progress", "--state-dir", s.dir + "/state", "--run-dir", s.dir + "/run"]
        hypha.standardOutput = FileHandle.nullDevice
        hypha.standardError = FileHandle.nullDevice
        try hypha.run()
        defer { if hypha.isRunning { kill(hypha.processIdentifier, SIGKILL) } }
        let part = s.downloads + "/.sales-00.zip.part"
        let partSize = { (try? FileManager.default.attributesOfItem(atPath: part)[.size] as? Int) ?? 0 }
        try #require(ArrowHTTPTests.waitUntil(60) { partSize() >= size / 2 }, "the partial file never reached half: \(partSize())")
        kill(hypha.processIdentifier, SIGTERM)
        #expect(ArrowHTTPTests.waitUntil(30) { !hypha.isRunning }, "hypha did not stop on SIGTERM")
        #expect(s.names().isEmpty, "left behind: \(s.names())")
    }
}
