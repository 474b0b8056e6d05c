import ArgumentParser
import ArrowHTTP
import Engine
import Foundation
import Glibc

/// `hypha top URL`: a live view of a running Hypha, per node (its endpoint's `/api/v1/status`,
/// docs/OBSERVE.md).
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A live view of a running Hypha: per node the messages in and out per second, queues, failures, retries, jobs.",
        discussion: """
            Reads the observability endpoint of a Hypha started with --http and redraws every \
            second on the terminal's alternate screen; q (or Ctrl-C) quits and gives the terminal \
            back as it was. While the endpoint cannot be reached the view says so and keeps trying \
            (a Hypha restarting comes back). When stdout is not a terminal, or with --once, it \
            prints one snapshot as plain text (two readings a second apart, for the rates) and exits.

            Exits 0 when quit; 1 when the endpoint refuses (a token missing or wrong, not a Hypha \
            endpoint), or, for a snapshot, cannot be reached.

            Examples:
              hypha top http://127.0.0.1:9464
              hypha top http://127.0.0.1:9464 --once
            """)

    @OptionGroup var endpoint: EndpointArguments

    @Flag(help: "Print one snapshot as plain text and exit (the default when stdout is not a terminal).")
    var once = false

    @Option(help: "Seconds between readings.")
    var interval: Double = 1

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be from 0.1 to 3600 seconds, got \(interval)") }
    }

    /// How one reading of the status went.
    enum Fetched {
        case reading(TopView.Reading)
        /// The endpoint answered but will not give a status: no point in asking again.
        case refused(String)
        /// No answer (yet, or any more).
        case unreachable(String)
    }

    func run() async throws {
        let client = try endpoint.makeClient()
        let failure = once || isatty(1) != 1 ? await snapshot(client) : await live(client)
        await client.shutdown()
        if let failure {
            Console.error("hypha: \(failure)")
            throw ExitCode(1)
        }
    }

    /// Prints one view as text; the failure to say otherwise.
    func snapshot(_ client: ArrowHTTPClient) async -> String? {
        let first: TopView.Reading
        switch await fetch(client) {
        case .reading(let reading): first = reading
        case .refused(let why), .unreachable(let why): return why
        }
        try? await Task.sleep(for: .seconds(interval))
        var view = TopView(url: endpoint.base, current: first)
        if case .reading(let second) = await fetch(client) {
            view = TopView(url: endpoint.base, current: second, previous: first)
        }
        Console.out(view.lines().joined(separator: "\n"))
        return nil
    }

    /// The live view until q, a signal, or a refusal (returned).
    func live(_ client: ArrowHTTPClient) async -> String? {
        let signals = SignalWatcher(signals: [SIGINT, SIGTERM, SIGHUP])
        let screen = TerminalScreen()
        defer { screen.restore() }
        // Each part ends the view with its outcome, or returns nil having nothing to say.
        return await withTaskGroup(of: Exit?.self) { group in
            group.addTask {
                for await key in TerminalScreen.keys() where [UInt8(ascii: "q"), UInt8(ascii: "Q"), 3].contains(key) {
                    return .quit
                }
                return nil  // no keyboard: quit with Ctrl-C
            }
            group.addTask {
                await signals.first.wait()
                return .quit
            }
            group.addTask {
                var previous: TopView.Reading?
                while !Task.isCancelled {
                    switch await fetch(client) {
                    case .reading(let reading):
                        screen.draw(TopView(url: endpoint.base, current: reading, previous: previous).lines() + ["", "q quits"])
                        previous = reading
                    case .refused(let why):
                        return .failed(why)
                    case .unreachable(let why):
                        let time = Date().formatted(date: .omitted, time: .standard)
                        let problem = "\(time): \(why); trying again every \(interval) s" + (previous == nil ? "" : " (the figures below are the last read)")
                        let view = previous.map { TopView(url: endpoint.base, current: $0, problem: problem).lines() } ?? ["hypha top", problem]
                        screen.draw(view + ["", "q quits"])
                    }
                    try? await Task.sleep(for: .seconds(interval))
                }
                return nil
            }
            var failure: String?
            for await exit in group {
                guard let exit else { continue }
                if case .failed(let why) = exit { failure = why }
                break
            }
            group.cancelAll()
            return failure
        }
    }

    enum Exit {
        case quit
        case failed(String)
    }

    func fetch(_ client: ArrowHTTPClient) async -> Fetched {
        do {
            let reading = try await endpoint.get("/api/v1/status", with: client, timeout: .seconds(5))
            let body = try await reading.text(upTo: 16 << 20)
            guard reading.status == 200 else {
                // A token or a URL that is wrong stays wrong; anything else (a proxy's 502 while
                // Hypha restarts) may pass.
                let why = endpoint.refusal(reading.status, body)
                return [401, 403, 404, 421].contains(reading.status) ? .refused(why) : .unreachable(why)
            }
            guard let value = try? Value(json: Data(body.utf8)), let parsed = TopView.Reading(value) else {
                return .refused("\(endpoint.base)/api/v1/status did not answer with a Hypha status: is the URL a Hypha's observability endpoint?")
            }
            return .reading(parsed)
        } catch {
            return .unreachable("\(error)")
        }
    }
}
