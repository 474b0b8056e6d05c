import Foundation
import Testing

/// Hardening seen from outside, through the built binary: Hypha's secrets stay out of reach of
/// its jobs and exec programs (its /proc entries, the job guard's), and the systemd unit that
/// `service install` writes carries every value as one faithful word or refuses it, warns about
/// root, and is sandboxed (`systemd-analyze security`).
@Suite(.serialized, .timeLimit(.minutes(10))) struct SecretsAndServiceTests {
    // MARK: The unit

    static let analyze = "/usr/bin/systemd-analyze"
    /// A user of the service's own (`verify` warns about `nobody`; it need not exist).
    static let user = "hypha-test"
    static var hasAnalyze: Bool { FileManager.default.isExecutableFile(atPath: analyze) }

    /// A workflow that watches `in` and captures, with a `note` variable.
    static func plainWorkflow(_ dir: String, name: String) throws -> String {
        try """
            name: "\(name)"
            vars: { note: "" }
            nodes:
              files: { plugin: file-watch, path: in }
              out: { plugin: capture, from: files, path: got.jsonl }
            """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        return dir + "/wf.yml"
    }

    /// `service install --dry-run` of `workflow` with `arguments`, by `binary`.
    static func dryRun(_ workflow: String, _ arguments: [String], state: String, binary: String = CLI.binary,
                       environment: [String: String]? = nil) throws -> CLI.Result {
        try CLI.spawn(binary, ["service", "install", workflow, "--state-dir", state, "--dry-run"] + arguments, environment: environment)
    }

    /// What `systemd-analyze verify` says of `unit`, saved as `file`.
    static func verify(_ unit: String, as file: String) throws -> CLI.Result {
        try unit.write(toFile: file, atomically: true, encoding: .utf8)
        return try CLI.spawn(analyze, ["verify", file])
    }

    /// The words of a unit's command line as systemd reads them (systemd.service, "COMMAND
    /// LINES"): split at spaces outside quotes; in quotes `\\`, `\"`, `\'` and C escapes;
    /// then `%%` is `%` and, in arguments when `expandsVariables`, `$$` is `$`. A lone `%x` or
    /// `$NAME` (which systemd would expand) fails the test. `ReadWritePaths=` is read the same
    /// way, without variables.
    static func systemdWords(_ line: Substring, expandsVariables: Bool = true) -> [String] {
        var words: [String] = []
        var scalars = Array(line.unicodeScalars)[...]
        while true {
            while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
            guard !scalars.isEmpty else { break }
            var word = String.UnicodeScalarView()
            var quote: Unicode.Scalar?
            while let c = scalars.first {
                if quote == nil && (c == " " || c == "\t") { break }
                scalars.removeFirst()
                if c == "\"" || c == "'" {
                    if quote == nil { quote = c; continue }
                    if quote == c { quote = nil; continue }
                }
                guard c == "\\", let e = scalars.popFirst() else { word.append(c); continue }
                switch e {
                case "n": word.append("\n")
                case "t": word.append("\t")
                case "r": word.append("\r")
                case "s": word.append(" ")
                case "x", "u":
                    let count = e == "x" ? 2 : 4
                    let digits = String(String.UnicodeScalarView(scalars.prefix(count)))
                    scalars.removeFirst(count)
                    if let value = UInt32(digits, radix: 16), let scalar = Unicode.Scalar(value) { word.append(scalar) }
                default: word.append(e)
                }
            }
            #expect(quote == nil, "an unclosed quote in \(line)")
            words.append(String(word))
        }
        return words.enumerated().map { index, word in
            var out = "", rest = Substring(word)
            while let c = rest.popFirst() {
                if c == "%" {
                    #expect(rest.first == "%", "a specifier systemd would expand in \(word)")
                    rest = rest.dropFirst()
                } else if c == "$" && index > 0 && expandsVariables {
                    #expect(rest.first == "$", "a variable systemd would expand in \(word)")
                    rest = rest.dropFirst()
                }
                out.append(c)
            }
            return out
        }
    }

    static func lines(_ unit: String) -> [Substring] { unit.split(separator: "\n", omittingEmptySubsequences: false) }

    static func value(of setting: String, in unit: String) -> Substring? {
        lines(unit).first { $0.hasPrefix(setting + "=") }.map { $0.dropFirst(setting.count + 1) }
    }

    @Test func aWorkflowNameWithANewlineIsRefusedNotInjectedIntoTheUnit() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.plainWorkflow(dir, name: #"ok\n[Service]\nExecStartPre=+/bin/sh -c 'id > PWNED'\n#"#)
        #expect(try CLI.run(["validate", workflow]).status == 0, "the name is a valid workflow name")
        for extra in [["--name", "evil"], []] {
            let r = try Self.dryRun(workflow, extra + ["--user", "nobody"], state: dir + "/state")
            #expect(r.status != 0, "\(extra): \(r.stdout)")
            #expect(!r.stdout.contains("ExecStartPre") && !r.stdout.contains("[Service]"), "a unit was printed: \(r.stdout)")
            // The error names the value (escaped, on one line) and where it came from.
            #expect(r.stderr.contains(#"the workflow's name 'ok\n[Service]\nExecStartPre=+/bin/sh -c 'id > PWNED'\n#'"#),
                    "\(r.stderr)")
            #expect(r.stderr.contains(extra.isEmpty ? "--name" : "one-line name"), "\(r.stderr)")
        }
    }

    @Test(.enabled(if: hasAnalyze, "needs systemd-analyze (the systemd package)"))
    func aVarWithANewlineStaysOneArgumentOfExecStart() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.plainWorkflow(dir, name: "newline-var")
        let note = "x\n[Service]\nExecStartPre=+/bin/sh -c 'id > PWNED'\n#"
        let r = try Self.dryRun(workflow, ["--name", "nl", "--user", Self.user, "--var", "note=\(note)"], state: dir + "/state")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = Self.lines(r.stdout)
        #expect(lines.filter { $0 == "[Service]" }.count == 1, "\(r.stdout)")
        #expect(!lines.contains { $0.hasPrefix("ExecStartPre") || $0.hasPrefix("#\"") }, "\(r.stdout)")
        let execStart = try #require(Self.value(of: "ExecStart", in: r.stdout))
        let words = Self.systemdWords(execStart)
        #expect(words.contains("note=\(note)"), "\(words)")
        let verify = try Self.verify(r.stdout, as: dir + "/hypha-nl.service")
        #expect(verify.status == 0 && !verify.stderr.contains("hypha-nl.service:"), "\(verify.stdout)\n\(verify.stderr)")
    }

    /// The binary under a name with a space, `%` and `$`; the workflow's folder (so the state
    /// folder and ReadWritePaths=) under one with quotes and a backslash too; `--var` values
    /// with all of those, `;`, a tab and a newline: systemd finds the binary (verify checks it
    /// is executable) and the folder (verify rejects a WorkingDirectory= that is not absolute),
    /// and reads every argument back as given. A binary under a name with a quote, which
    /// systemd would not run, is refused.
    @Test(.enabled(if: hasAnalyze, "needs systemd-analyze (the systemd package)"))
    func execStartArgumentsAndPathsRoundTripThroughSystemdsRules() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = dir + "/" + #"a b%i $HOME "q" 'r' \z"#
        let binFolder = dir + "/bin b%i $HOME"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: binFolder, withIntermediateDirectories: true)
        let binary = binFolder + "/hypha"
        // A hard link keeps /proc/self/exe at this name (a symbolic link would resolve away).
        if link(CLI.binary, binary) != 0 { try FileManager.default.copyItem(atPath: CLI.binary, toPath: binary) }
        let workflow = try Self.plainWorkflow(folder, name: "odd")
        let values = ["two words", #"say "hi" it's 100% $HOME $$ \n"#, ";", "tab\there", "new\nline", "ünï"]
        var arguments = ["--name", "odd", "--user", Self.user]
        for value in values { arguments += ["--var", "note=\(value)"] }
        let r = try Self.dryRun(workflow, arguments, state: folder + "/state", binary: binary)
        #expect(r.status == 0, "\(r.stderr)")

        let words = Self.systemdWords(try #require(Self.value(of: "ExecStart", in: r.stdout)))
        let expected = [binary, "run", workflow, "--state-dir", folder + "/state", "--grace", "10", "--no-progress"]
            + values.flatMap { ["--var", "note=\($0)"] }
        #expect(words == expected, "\(r.stdout)")
        let directory = try #require(Self.value(of: "WorkingDirectory", in: r.stdout))
        #expect(directory.replacingOccurrences(of: "%%", with: "%") == folder, "\(r.stdout)")
        let writable = Self.systemdWords(try #require(Self.value(of: "ReadWritePaths", in: r.stdout)), expandsVariables: false)
        #expect(writable.contains(folder), "\(writable)")
        #expect(!r.stdout.unicodeScalars.contains { $0 != "\n" && $0.properties.generalCategory == .control },
                "a control character in the unit: \(r.stdout)")

        let verify = try Self.verify(r.stdout, as: dir + "/hypha-odd.service")
        #expect(verify.status == 0 && !verify.stderr.contains("hypha-odd.service:"), "\(verify.stdout)\n\(verify.stderr)")

        let quoted = folder + "/hypha"
        if link(CLI.binary, quoted) != 0 { try FileManager.default.copyItem(atPath: CLI.binary, toPath: quoted) }
        let refused = try Self.dryRun(workflow, arguments, state: folder + "/state", binary: quoted)
        #expect(refused.status == 1 && refused.stdout.isEmpty, "\(refused.stdout)")
        #expect(refused.stderr.contains("the hypha binary's path '\(quoted)' holds a quote"), "\(refused.stderr)")
    }

    @Test func aUnitThatWouldRunAsRootIsWarnedAbout() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.plainWorkflow(dir, name: "rooted")
        let asRoot = try Self.dryRun(workflow, ["--user", "root"], state: dir + "/state")
        #expect(asRoot.status == 0, "\(asRoot.stderr)")
        #expect(asRoot.stdout.contains("User=root"))
        #expect(asRoot.stderr.contains("warning: the service would run as root (User=root, from --user)")
                && asRoot.stderr.contains("--user"), "\(asRoot.stderr)")
        // Without --user, as root and not through sudo, the default is root too.
        if geteuid() == 0 {
            var environment = ProcessInfo.processInfo.environment
            environment["SUDO_USER"] = nil
            let byDefault = try Self.dryRun(workflow, [], state: dir + "/state", environment: environment)
            #expect(byDefault.stderr.contains("warning: the service would run as root"), "\(byDefault.stderr)")
        }
        let asNobody = try Self.dryRun(workflow, ["--user", "nobody"], state: dir + "/state")
        #expect(asNobody.status == 0 && !asNobody.stderr.contains("root"), "\(asNobody.stderr)")
        // A user name that is not one is refused, naming it.
        let odd = try Self.dryRun(workflow, ["--user", "no body"], state: dir + "/state")
        #expect(odd.status == 1 && odd.stderr.contains("--user 'no body' is not a user name"), "\(odd.stderr)")
    }

    /// The exposure level `systemd-analyze security --offline=yes` gives a unit.
    static func exposure(of unit: String, as file: String) throws -> Double? {
        try unit.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try CLI.spawn(analyze, ["security", "--offline=yes", "--no-pager", file])
        let line = (r.stdout + r.stderr).split(separator: "\n").first { $0.contains("Overall exposure level") }
        return line?.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
    }

    @Test(.enabled(if: hasAnalyze, "needs systemd-analyze (the systemd package)"))
    func theUnitScoresUnderFourInSystemdAnalyzeSecurity() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["--var", "work=/srv/hypha/work", "--var", "inbox=/srv/hypha/inbox"]
        // As a user of its own, and as root; the folders under /srv, then under /tmp (no PrivateTmp=).
        for (user, state) in [(["--user", Self.user], "/var/lib/hypha/jobs"), (["--user", "root"], "/var/lib/hypha/jobs"),
                              (["--user", Self.user], dir + "/state")] {
            let r = try Self.dryRun(CLI.shipped("workflows/job-node.yml"), ["--name", "scored"] + user + base, state: state)
            #expect(r.status == 0, "\(r.stderr)")
            for line in ["UMask=0077", "CapabilityBoundingSet=", "NoNewPrivileges=yes", "ProtectProc=invisible", "ProcSubset=pid",
                         "SystemCallFilter=@system-service", "RestrictNamespaces=yes", "MemoryDenyWriteExecute=yes"] {
                #expect(Self.lines(r.stdout).contains(Substring(line)), "\(line) missing: \(r.stdout)")
            }
            let score = try #require(try Self.exposure(of: r.stdout, as: dir + "/hypha-scored.service"))
            #expect(score < 4.0, "\(user) \(state): exposure \(score)\n\(r.stdout)")
            let verify = try Self.verify(r.stdout, as: dir + "/hypha-scored.service")
            #expect(verify.status == 0 && !verify.stderr.contains("hypha-scored.service:"), "\(verify.stdout)\n\(verify.stderr)")
        }
    }

    // MARK: Secrets

    static let secretNames = ["HYPHA_TOKEN", "AWS_SECRET_ACCESS_KEY", "BACALHAU_API_KEY"]

    /// Hypha's environment with a fresh secret value for each of `secretNames`.
    static func environmentWithSecrets() -> (environment: [String: String], values: [String]) {
        var environment = ProcessInfo.processInfo.environment
        var values: [String] = []
        for name in secretNames {
            let value = "hypha-test-secret-\(UUID().uuidString)"
            environment[name] = value
            values.append(value)
        }
        return (environment, values)
    }

    /// A shell script that reports, for itself, each ancestor up to pid 1 and the job guard
    /// (`hypha guard-jobs`, a child of the job's parent), whether its environ and mem can be
    /// opened and what its environ holds: `PID <pid> <comm>`, `environ: ...`, `mem: open|denied`.
    /// It first waits (up to 10 s) for the job guard, which starts beside the first job.
    static let lookAround = #"""
        report() {
          echo "PID $1 $(cat /proc/$1/comm 2>/dev/null)"
          if env=$(tr '\0' ' ' < /proc/$1/environ 2>/dev/null); then echo "environ: $env"; else echo "environ: denied"; fi
          if (exec 3< /proc/$1/mem) 2>/dev/null; then echo "mem: open"; else echo "mem: denied"; fi
        }
        parent() { awk '/^PPid:/ {print $2}' /proc/$1/status; }
        guards() {
          for d in /proc/[0-9]*; do
            grep -qa guard-jobs $d/cmdline 2>/dev/null && [ "$(parent ${d#/proc/})" = "$PPID" ] && echo ${d#/proc/}
          done
        }
        i=0; while [ -z "$(guards)" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
        p=$$
        while [ "$p" -gt 1 ]; do report $p; p=$(parent $p); done
        for g in $(guards); do echo GUARD; report $g; done
        """#

    /// `SecurityTests.oneJobWorkflow` whose one job runs `lookAround`.
    static func lookAroundJob(_ dir: String) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try lookAround.write(toFile: dir + "/look.sh", atomically: true, encoding: .utf8)
        return try SecurityTests.oneJobWorkflow(dir, program: "sh", arguments: [dir + "/look.sh"])
    }

    /// Runs `workflow` once with the secrets in Hypha's environment, as `user` (through
    /// setpriv) when given; its pid and stderr.
    static func runOnce(_ workflow: String, dir: String, environment: [String: String], as user: String? = nil) throws
        -> (pid: Int32, result: CLI.Result) {
        let arguments = ["run", workflow, "--once", "--run-dir", dir + "/run", "--state-dir", dir + "/state", "--no-progress"]
        var pid: Int32 = 0
        let result: CLI.Result
        if let user {
            result = try CLI.spawn("/usr/bin/setpriv", ["--reuid=\(user)", "--regid=nogroup", "--clear-groups", CLI.binary] + arguments,
                                   environment: environment, onStart: { pid = $0.processIdentifier })
        } else {
            result = try CLI.run(arguments, environment: environment, onStart: { pid = $0.processIdentifier })
        }
        return (pid, result)
    }

    /// The reports of `lookAround` by pid.
    static func reports(_ text: String) -> [Int32: String] {
        var out: [Int32: String] = [:]
        for block in text.components(separatedBy: "PID ").dropFirst() {
            if let pid = block.split(separator: " ").first.flatMap({ Int32($0) }) { out[pid, default: ""] += block }
        }
        return out
    }

    @Test func aJobFindsNoSecretInHyphasOrTheGuardsEnvironment() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.lookAroundJob(dir)
        let (environment, secrets) = Self.environmentWithSecrets()
        let (pid, r) = try Self.runOnce(workflow, dir: dir, environment: environment)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let seen = try SecurityTests.jobStdout(dir + "/run")
        let reports = Self.reports(seen)
        #expect(reports[pid] != nil, "the job's ancestors do not include hypha (\(pid)): \(seen)")
        #expect(seen.contains("GUARD"), "no job guard was found: \(seen)")
        for secret in secrets { #expect(!seen.contains(secret), "a secret is readable: \(seen)") }
    }

    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                   "needs root and setpriv to run hypha as nobody"))
    func runAsAnotherUserHyphasEnvironAndMemoryAreClosedToItsJobs() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let workflow = try Self.lookAroundJob(dir)
        let chown = try CLI.spawn("/bin/chown", ["-R", "nobody:nogroup", dir])
        try #require(chown.status == 0, "\(chown.stderr)")
        let (environment, secrets) = Self.environmentWithSecrets()
        let (pid, r) = try Self.runOnce(workflow, dir: dir, environment: environment, as: "nobody")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let seen = try SecurityTests.jobStdout(dir + "/run")
        // setpriv execs hypha, so the pid is hypha's.
        let hypha = try #require(Self.reports(seen)[pid], "hypha (\(pid)) is not among the job's ancestors: \(seen)")
        #expect(hypha.contains("environ: denied") && hypha.contains("mem: denied"), "\(hypha)")
        let guardReport = seen.components(separatedBy: "GUARD").dropFirst().joined()
        #expect(guardReport.contains("environ: denied") && guardReport.contains("mem: denied"), "\(seen)")
        for secret in secrets { #expect(!seen.contains(secret), "a secret is readable: \(seen)") }
    }

    @Test func anExecProgramFindsNoSecretInItsParents() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/in/one.txt", contents: Data("1".utf8))
        try #"""
            import json, os, sys
            def ancestors():
                pid = os.getpid()
                while pid > 1:
                    yield pid
                    with open("/proc/%d/status" % pid) as status:
                        pid = int(next(l for l in status if l.startswith("PPid:")).split()[1])
            for line in sys.stdin:
                record = json.loads(line)
                seen = []
                for pid in ancestors():
                    try:
                        with open("/proc/%d/environ" % pid, "rb") as f:
                            seen.append("%d %s" % (pid, f.read().replace(b"\0", b" ").decode("utf-8", "replace")))
                    except OSError as error:
                        seen.append("%d denied %s" % (pid, error))
                record["seen"] = "\n".join(seen)
                print(json.dumps([record]), flush=True)
            """#.write(toFile: dir + "/look.py", atomically: true, encoding: .utf8)
        try """
            nodes:
              files: { plugin: file-watch, path: in }
              decode: { plugin: arrow-decode, from: files }
              look: { plugin: exec, from: decode, command: [python3, look.py] }
              out: { plugin: capture, from: look, path: out.jsonl }
            """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        let (environment, secrets) = Self.environmentWithSecrets()
        let (pid, r) = try Self.runOnce(dir + "/wf.yml", dir: dir, environment: environment)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = SecurityTests.log(dir + "/out.jsonl")
        #expect(out.contains("\\n\(pid) "), "hypha (\(pid)) is not among the program's ancestors: \(out)")
        for secret in secrets { #expect(!out.contains(secret), "a secret is readable: \(out)") }
    }

    /// The secrets leave the environment but not Hypha: `${NAME}` in the workflow, at the
    /// start and at a reload (SIGHUP), and `env_passthrough`, still get their values.
    @Test func secretsStillReachTheWorkflowAtStartAndAtAReload() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        func write(_ file: String) throws {
            try """
                nodes:
                  files: { plugin: file-watch, path: in }
                  decode: { plugin: arrow-decode, from: files }
                  out: { plugin: capture, from: decode, path: "\(file)-${SOME_API_TOKEN}.jsonl" }
                """.write(toFile: dir + "/wf.yml", atomically: true, encoding: .utf8)
        }
        try write("first")
        var environment = ProcessInfo.processInfo.environment
        environment["SOME_API_TOKEN"] = "abc"
        let process = try ArrowHTTPTests.start([dir + "/wf.yml", "--state-dir", dir + "/state"], log: dir + "/log",
                                               environment: ["SOME_API_TOKEN": "abc"])
        defer { ArrowHTTPTests.stop(process) }
        FileManager.default.createFile(atPath: dir + "/in/a.txt", contents: Data("a".utf8))
        #expect(ArrowHTTPTests.waitUntil(60) { SecurityTests.log(dir + "/first-abc.jsonl").contains("a.txt") },
                "\(SecurityTests.log(dir + "/log"))")
        try write("second")
        kill(process.processIdentifier, SIGHUP)
        #expect(ArrowHTTPTests.waitUntil(60) { SecurityTests.log(dir + "/log").contains("restarted out") },
                "\(SecurityTests.log(dir + "/log"))")
        FileManager.default.createFile(atPath: dir + "/in/b.txt", contents: Data("b".utf8))
        #expect(ArrowHTTPTests.waitUntil(60) { SecurityTests.log(dir + "/second-abc.jsonl").contains("b.txt") },
                "\(SecurityTests.log(dir + "/log"))")
        #expect(!SecurityTests.log(dir + "/log").contains("not set"), "\(SecurityTests.log(dir + "/log"))")

        // env_passthrough reads the same copy.
        let job = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: job) }
        let workflow = try SecurityTests.oneJobWorkflow(job, program: "env", arguments: [],
                                                        processOptions: ", env_passthrough: [SOME_API_TOKEN]")
        let r = try Self.runOnce(workflow, dir: job, environment: environment).result
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try SecurityTests.jobStdout(job + "/run").contains("SOME_API_TOKEN=abc"))
    }
}
