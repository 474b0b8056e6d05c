import Foundation
import Testing

/// `hypha top URL` driven in a real terminal (tmux): the screen it draws, and the terminal given
/// back as it was after q and after Ctrl-C (docs/OBSERVE.md).
@Suite(.serialized, .timeLimit(.minutes(3))) struct TopCommandTests {
    static let tmux = ["/usr/bin/tmux", "/usr/local/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A tmux server of its own (its own socket), so the test touches no other session.
    struct Terminal {
        let socket = "hypha-top-test-\(UUID().uuidString.prefix(8))"
        let program: String

        @discardableResult
        func tmux(_ arguments: [String]) throws -> String {
            try CLI.spawn(program, ["-L", socket] + arguments, timeout: 30).stdout
        }

        /// Starts the server with a session running `command`. Through Python, which closes every
        /// descriptor but 0-2 in what it starts: the server tmux forks would otherwise keep the
        /// one Foundation's Process watches to see its child end, and the test would wait for ever.
        func start(_ command: String) throws {
            let started = try CLI.runPython(["-c", "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)",
                                             program, "-L", socket, "new-session", "-d", "-s", "top", "-x", "120", "-y", "40", command],
                                            timeout: 30)
            #expect(started.status == 0, "\(started.stderr)")
        }

        /// Ends the session (its shell gets SIGHUP) and the server, and removes the server's
        /// socket (which tmux leaves behind).
        func stop() {
            let path = (try? tmux(["display-message", "-p", "-t", "top", "#{socket_path}"]))?.trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try? tmux(["kill-session", "-t", "top"])
            _ = try? tmux(["kill-server"])
            if let path, path.hasSuffix(socket) { try? FileManager.default.removeItem(atPath: path) }
        }

        var screen: String { (try? tmux(["capture-pane", "-p", "-t", "top"])) ?? "" }

        /// The screen's line that starts with `first`, split into its words.
        func row(_ first: String) -> [String] {
            screen.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.first == first } ?? []
        }
        var onAlternateScreen: Bool { (try? tmux(["display-message", "-p", "-t", "top", "#{alternate_on}"]))?.hasPrefix("1") == true }
    }

    @Test(.enabled(if: tmux != nil, "tmux is not installed (apt-get install tmux)"))
    func theScreenShowsEachNodeAndQAndCtrlCGiveTheTerminalBack() throws {
        let run = try TapCommandTests.Running()
        defer { run.stop() }
        try run.send(TapCommandTests.rows(0..<3))
        #expect(ArrowHTTPTests.waitUntil(30) { run.capturedValues().count == 3 })

        // top runs twice in one shell, which notes how each ended and whether the terminal's
        // settings (stty -g) are what they were before.
        let results = run.dir + "/results"
        try """
            before=$(stty -g)
            trap : INT
            for how in q ctrl-c; do
              '\(CLI.binary)' top '\(run.endpoint)'
              echo "$how exit=$?" >> '\(results)'
              [ "$(stty -g)" = "$before" ] && echo "$how restored" >> '\(results)'
            done
            sleep 600
            """.write(toFile: run.dir + "/top.sh", atomically: true, encoding: .utf8)
        let terminal = Terminal(program: try #require(Self.tmux))
        try terminal.start("sh " + run.dir + "/top.sh")
        defer { terminal.stop() }

        // The table: a row per node, with the counts of the three records sent.
        #expect(ArrowHTTPTests.waitUntil(30) { terminal.screen.contains("decode") && terminal.screen.contains("q quits") }, "\(terminal.screen)")
        let screen = terminal.screen
        #expect(screen.contains("hypha top  tapped at \(run.endpoint)"), "\(screen)")
        #expect(terminal.row("NODE") == ["NODE", "KIND", "IN/S", "OUT/S", "IN", "OUT", "QUEUE", "FAILED", "RETRIES", "RUNNING"])
        // IN and the rates are "-" for a source; one message of three rows went out of it.
        let incoming = terminal.row("incoming")
        #expect(incoming.count == 10 && incoming[0] == "incoming" && incoming[1] == "source" && incoming[4] == "-" && incoming[5] == "1",
                "\(screen)")
        #expect(Array(terminal.row("decode").dropFirst(4)) == ["1", "3", "0/64", "0", "0", "-"], "\(screen)")
        #expect(Array(terminal.row("out").dropFirst(4).prefix(3)) == ["3", "0", "0/64"], "\(screen)")
        #expect(terminal.onAlternateScreen)

        // It redraws: three more records show.
        try run.send(TapCommandTests.rows(3..<6))
        #expect(ArrowHTTPTests.waitUntil(30) { Array(terminal.row("decode").dropFirst(4).prefix(2)) == ["2", "6"] }, "\(terminal.screen)")

        try terminal.tmux(["send-keys", "-t", "top", "q"])
        #expect(ArrowHTTPTests.waitUntil(30) { SecurityTests.log(results).contains("q restored") }, "\(SecurityTests.log(results))")
        #expect(SecurityTests.log(results).contains("q exit=0"))

        // Started again, it is ended by Ctrl-C (SIGINT) just as well.
        #expect(ArrowHTTPTests.waitUntil(30) { terminal.onAlternateScreen && terminal.screen.contains("q quits") }, "\(terminal.screen)")
        try terminal.tmux(["send-keys", "-t", "top", "C-c"])
        #expect(ArrowHTTPTests.waitUntil(30) { SecurityTests.log(results).contains("ctrl-c restored") }, "\(SecurityTests.log(results))")
        #expect(SecurityTests.log(results).contains("ctrl-c exit=0"))
        #expect(!terminal.onAlternateScreen && !terminal.screen.contains("q quits"), "\(terminal.screen)")
    }

    @Test func withoutATerminalItPrintsOneSnapshot() throws {
        let run = try TapCommandTests.Running()
        defer { run.stop() }
        try run.send(TapCommandTests.rows(0..<2))
        #expect(ArrowHTTPTests.waitUntil(30) { run.capturedValues().count == 2 })
        let top = try CLI.run(["top", run.endpoint, "--interval", "0.2"], timeout: 60)
        #expect(top.status == 0, "\(top.stderr)")
        #expect(!top.stdout.contains("\u{1B}"), "no terminal codes: \(top.stdout)")
        #expect(top.stdout.split(separator: "\n").contains { $0.split(separator: " ") == ["decode", "processor", "0.0", "0.0", "1", "2", "0/64", "0", "0", "-"] },
                "\(top.stdout)")

        let nobody = "http://127.0.0.1:\(ArrowHTTPTests.freePort())"
        let unreachable = try CLI.run(["top", nobody], timeout: 60)
        #expect(unreachable.status == 1 && unreachable.stderr.contains("cannot connect to \(nobody)/api/v1/status"), "\(unreachable.stderr)")
        let wrongPlace = try CLI.run(["top", run.endpoint + "/nothing-here"], timeout: 60)
        #expect(wrongPlace.status == 1 && wrongPlace.stderr.contains("is it a Hypha's observability endpoint"), "\(wrongPlace.stderr)")
    }
}
