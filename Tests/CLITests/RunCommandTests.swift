import Foundation
import Testing

/// End-to-end runs of the built binary on temporary folders.
@Suite(.serialized, .timeLimit(.minutes(5))) struct RunCommandTests {
    static let workflow = CLI.shipped("workflows/extract-aggregate.yml")

    /// The reports an independent computation expects: Python's zipfile and csv read each zip
    /// directly (not through extract.py / aggregate.py) and group the rows.
    static let expectedReportsScript = """
        import csv, io, json, os, sys, zipfile
        inbox = sys.argv[1]
        out = {}
        for name in sorted(os.listdir(inbox)):
            if not name.endswith(".zip"): continue
            groups = {}
            with zipfile.ZipFile(os.path.join(inbox, name)) as z:
                for entry in z.namelist():
                    for row in csv.DictReader(io.StringIO(z.read(entry).decode())):
                        g = groups.setdefault(row["category"], [])
                        g.append(float(row["amount"]))
            out[name[:-4]] = {k: {"count": len(v), "sum": sum(v), "min": min(v), "max": max(v)} for k, v in groups.items()}
        print(json.dumps(out))
        """

    func expectedReports(_ inbox: String) throws -> [String: [String: [String: Double]]] {
        let args = ["-c", Self.expectedReportsScript, inbox]
        let r = try CLI.runPython(args)
        let decoded = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: [String: [String: Double]]]
        return decoded ?? [:]
    }

    @Test func fiftyHostileZipNamesRunHundredJobsWithCorrectReports() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inbox = dir + "/in", work = dir + "/work"
        try CLI.makeZips(in: inbox, count: 50, tricky: true)
        let r = try CLI.run(["run", Self.workflow, "--once", "--var", "inbox=\(inbox)", "--var", "work=\(work)",
                             "--var", "group_by=category", "--var", "value=amount", "--run-dir", dir + "/run", "--state-dir", dir + "/state"], cwd: dir)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("jobs: 100 completed, 0 failed"), "\(r.stdout)")

        let expected = try expectedReports(inbox)
        #expect(expected.count == 50)
        for (stem, groups) in expected {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(work)/\(stem)/report.json"))
            let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let got = try #require(report["groups"] as? [String: [String: Double]])
            #expect(Set(got.keys) == Set(groups.keys), "\(stem)")
            for (group, stats) in groups {
                #expect(got[group]?["count"] == stats["count"], "\(stem)/\(group)")
                for key in ["sum", "min", "max"] {
                    #expect(abs((got[group]?[key] ?? .nan) - (stats[key] ?? 0)) < 1e-6, "\(stem)/\(group)/\(key)")
                }
            }
        }
        // "$(touch pwned)" in a file name reached no shell.
        #expect(!FileManager.default.fileExists(atPath: dir + "/pwned"))
        #expect(!FileManager.default.fileExists(atPath: inbox + "/pwned"))
    }

    @Test func swappingExtractForCaptureWithSetAndWithAProfile() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inbox = dir + "/in", work = dir + "/work"
        try CLI.makeZips(in: inbox, count: 6, tricky: true)
        let names = try FileManager.default.contentsOfDirectory(atPath: inbox).sorted()

        let setRun = try CLI.run(["run", Self.workflow, "--once", "--var", "inbox=\(inbox)", "--var", "work=\(work)",
                                  "--set", "extract.plugin=capture", "--set", "extract.path=\(dir)/specs.jsonl", "--run-dir", dir + "/run1", "--state-dir", dir + "/state1"])
        #expect(setRun.status == 0, "\(setRun.stderr)")
        #expect(setRun.stderr.contains("node 'aggregate-spec' is left out"))
        let lines = try String(contentsOfFile: dir + "/specs.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6)
        var seenPaths: [String] = []
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["type"] as? String == "job")
            let spec = (object["value"] as? [String: Any])?["spec"] as? [String: Any]
            let task = (spec?["Tasks"] as? [[String: Any]])?.first
            let args = ((task?["Engine"] as? [String: Any])?["Params"] as? [String: Any])?["Arguments"] as? [String]
            #expect(args?.count == 5)
            #expect(args?.suffix(2) == ["--within", work])
            if let path = args?[1] { seenPaths.append(path) }
        }
        #expect(seenPaths.sorted() == names.map { "\(inbox)/\($0)" })
        #expect(!FileManager.default.fileExists(atPath: work + "/plain 000/report.json"))  // nothing ran

        let profileRun = try CLI.run(["run", Self.workflow, "--once", "--profile", "capture", "--var", "inbox=\(inbox)",
                                      "--var", "work=\(work)", "--run-dir", dir + "/run2", "--state-dir", dir + "/state2"])
        #expect(profileRun.status == 0, "\(profileRun.stderr)")
        let captured = try String(contentsOfFile: work + "/extract-specs.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(captured.count == 6)
    }

    @Test func aFailingJobMakesTheRunExitOne() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inbox = dir + "/in"
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        try Data("not a zip".utf8).write(to: URL(fileURLWithPath: inbox + "/broken.zip"))
        try CLI.makeZips(in: inbox, count: 2, tricky: false)
        let r = try CLI.run(["run", Self.workflow, "--once", "--var", "inbox=\(inbox)", "--var", "work=\(dir)/work", "--run-dir", dir + "/run", "--state-dir", dir + "/state"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("jobs: 4 completed, 1 failed"), "\(r.stdout)")
        #expect(r.stdout.contains("broken"), "\(r.stdout)")
    }

    @Test func sigintStopsGracefullyWithExitCode130() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Signalled once it says it is ready (systemd's notification), not after a guessed delay.
        let socket = try NodeServiceTests.NotifySocket(path: dir + "/notify.sock")
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = dir + "/notify.sock"
        var wasReady = false
        let r = try CLI.run(["run", Self.workflow, "--var", "inbox=\(dir)/in", "--var", "work=\(dir)/work", "--run-dir", dir + "/run", "--state-dir", dir + "/state"],
                            timeout: 60, environment: environment) { process in
            wasReady = socket.waitFor("READY=1", seconds: 30)
            kill(process.processIdentifier, SIGINT)
        }
        #expect(wasReady, "\(socket.received)")
        #expect(r.status == 130, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("interrupted"))
    }

    @Test func watchModePicksUpZipsMovedInLater() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inbox = dir + "/in", work = dir + "/work"
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        // The zips arrive once the run watches (it says so), so none is found by the first scan.
        let socket = try NodeServiceTests.NotifySocket(path: dir + "/notify.sock")
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = dir + "/notify.sock"
        let r = try CLI.run(["run", Self.workflow, "--var", "inbox=\(inbox)", "--var", "work=\(work)", "--run-dir", dir + "/run", "--state-dir", dir + "/state"],
                            timeout: 60, environment: environment) { process in
            #expect(socket.waitFor("READY=1", seconds: 30), "\(socket.received)")
            try? CLI.makeZips(in: inbox, count: 3, tricky: true)
            for _ in 0..<200 {
                let done = ((try? FileManager.default.contentsOfDirectory(atPath: work)) ?? [])
                    .filter { FileManager.default.fileExists(atPath: "\(work)/\($0)/report.json") }
                if done.count == 3 { break }
                usleep(50_000)
            }
            kill(process.processIdentifier, SIGTERM)
        }
        #expect(r.stdout.contains("jobs: 6 completed, 0 failed"), "\(r.stdout) \(r.stderr)")
    }

    @Test func graphShowsPortTypesOnEdges() throws {
        let mermaid = try CLI.run(["graph", Self.workflow])
        #expect(mermaid.status == 0)
        #expect(mermaid.stdout.contains("n_downloads -- arrow --> n_decode"))
        #expect(mermaid.stdout.contains("n_extract -- result --> n_aggregate_spec"))
        let dot = try CLI.run(["graph", Self.workflow, "--format", "dot", "--profile", "cluster"])
        #expect(dot.stdout.contains("\"extract-spec\" -> \"extract\" [label=\"job\"]"))
        #expect(dot.stdout.contains("(bacalhau)"))
    }

    @Test func pluginsListsEveryPluginWithItsPorts() throws {
        let r = try CLI.run(["plugins"])
        for line in ["file-watch  (- -> arrow)", "arrow-decode  (arrow -> record)", "template  (record|result -> job)",
                     "process  (job -> result)", "capture  (any -> -)"] {
            #expect(r.stdout.contains(line), "\(line)")
        }
        #expect(r.stdout.contains("max_parallel: int"))
    }

    @Test func demoRunsEndToEnd() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["demo", "--dir", dir, "--zips", "3"], cwd: CLI.packageRoot.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("3 reports under"))
        #expect(r.stdout.contains("\"groups\""))
    }
}

/// Shutdown while a job runs: the grace period, then the job's process group is stopped.
@Suite(.timeLimit(.minutes(5))) struct ShutdownTests {
    @Test func runningJobsGetTheGracePeriodThenAreStopped() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/js", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/in/a.zip", contents: Data())
        try "Type: batch\nCount: 1\nTasks:\n  - Name: t\n    Engine: {Type: process, Params: {Name: sh, Arguments: [\"-c\", \"touch \(dir)/started; exec sleep 300\"]}}\n"
            .write(toFile: dir + "/js/slow.yml", atomically: true, encoding: .utf8)
        try """
            jobstore: js
            nodes:
              files: { plugin: file-watch, path: in }
              decode: { plugin: arrow-decode, from: files }
              spec: { plugin: template, from: decode, job: slow }
              run: { plugin: process, from: spec, grace_period: 0.5 }
            """.write(toFile: dir + "/w.yml", atomically: true, encoding: .utf8)
        var signalled = Date()
        let r = try CLI.run(["run", dir + "/w.yml", "--grace", "1", "--run-dir", dir + "/run", "--state-dir", dir + "/state", "--no-progress"], timeout: 60) { process in
            // Signalled once the job runs.
            #expect(ArrowHTTPTests.waitUntil(30) { FileManager.default.fileExists(atPath: dir + "/started") })
            signalled = Date()
            kill(process.processIdentifier, SIGINT)
        }
        #expect(r.status == 130)
        #expect(Date().timeIntervalSince(signalled) < 30)  // not the 300 s the job would take
        #expect(r.stderr.contains("giving running jobs 1.0 s"))
        #expect(r.stderr.contains("was stopped because hypha is shutting down"), "\(r.stderr)")
        #expect(r.stdout.contains("1 message interrupted: taken up again on the next start"), "\(r.stdout)")
    }
}
