import ArgumentParser
import ArrowHTTP
import Engine
import Foundation
import Glibc

/// `hypha tap URL NODE`: the records leaving a node of a running Hypha, live, as JSON lines
/// (its endpoint's `/api/v1/tap/NODE`, docs/OBSERVE.md).
struct TapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tap",
        abstract: "Print the records leaving a node of a running Hypha, live, as JSON lines.",
        discussion: """
            Reads the observability endpoint of a Hypha started with --http. Each row of Arrow data \
            is one JSON object (as `hypha arrow` prints it), a record is itself, a job or a result \
            is printed as the capture sink writes it ({"type": ..., "value": ...}). Tapping costs \
            the run nothing while nobody taps, and never slows it: records a slow reader cannot \
            take in time are dropped, and their count is said on stderr at the end.

            Stops after --limit records, when the run ends, or on Ctrl-C, and exits 0 (saying on \
            stderr what was dropped); exits 1 when the endpoint cannot be reached or refuses (an \
            unknown node: it names those there are).

            Examples:
              hypha tap http://127.0.0.1:9464 decode
              hypha tap http://127.0.0.1:9464 extract --limit 10 --token $T
              hypha tap http://127.0.0.1:9464 downloads --sample 0.01 | jq .path
            """)

    @OptionGroup var endpoint: EndpointArguments

    @Argument(help: "The node whose output to print (hypha graph lists them).")
    var node: String

    @Option(help: "Stop after this many records.")
    var limit: Int?

    @Option(help: ArgumentHelp("Print about this fraction of the records, evenly spread (0 < RATE ≤ 1).", valueName: "RATE"))
    var sample: Double = 1

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        guard sample > 0, sample <= 1 else {
            throw ValidationError("--sample must be a fraction above 0 and at most 1 (0.1 prints about one record in ten), got \(sample)")
        }
    }

    func run() async throws {
        let client = try endpoint.makeClient()
        // Ctrl-C (or SIGTERM) ends the tap as --limit would, so what was dropped is still said; a
        // second one while printing is stuck (a pipe nobody reads) ends the command at once.
        let signals = SignalWatcher(signals: [SIGINT, SIGTERM])
        let outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask { await tap(with: client, until: signals.first) }
            group.addTask {
                await signals.second.wait()
                if !Task.isCancelled { Glibc.exit(130) }
                return nil
            }
            let outcome = await group.next() ?? nil
            group.cancelAll()
            return outcome ?? .ended(records: 0, dropped: 0, why: nil)
        }
        await client.shutdown()
        switch outcome {
        case .failed(let message):
            Console.error("hypha: \(message)")
            throw ExitCode(1)
        case .ended(let records, let dropped, let why):
            if dropped > 0 {
                Console.error("hypha: \(dropped) message\(dropped == 1 ? "" : "s") leaving '\(node)' were dropped, not printed: "
                              + "this reader was slower than the node (try --sample to print fewer)")
            }
            if let why { Console.error("hypha: \(why) after \(records) record\(records == 1 ? "" : "s")") }
        }
    }

    enum Outcome {
        case failed(String)
        /// `why` says why it ended when it was not asked to.
        case ended(records: Int, dropped: Int, why: String?)
    }

    /// Taps until the stream ends or `stop` is triggered.
    func tap(with client: ArrowHTTPClient, until stop: ShutdownSignal) async -> Outcome {
        await withTaskGroup(of: Outcome?.self) { group in
            group.addTask { await tap(with: client) }
            group.addTask {
                await stop.wait()
                return nil
            }
            var outcome: Outcome?
            // The first to end cancels the other; a cancelled tap still returns what it printed.
            for await result in group {
                outcome = outcome ?? result
                group.cancelAll()
            }
            return outcome ?? .ended(records: 0, dropped: 0, why: nil)
        }
    }

    func tap(with client: ArrowHTTPClient) async -> Outcome {
        var query: [String] = []
        if sample < 1 { query.append("sample=\(sample)") }
        if let limit { query.append("limit=\(limit)") }
        let name = node.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? node
        let reading: ArrowHTTPClient.Reading
        do {
            reading = try await endpoint.get("/api/v1/tap/\(name)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")), with: client)
        } catch {
            return Task.isCancelled ? .ended(records: 0, dropped: 0, why: nil) : .failed("cannot tap '\(node)': \(error)")
        }
        guard reading.status == 200 else {
            let body = (try? await reading.text()) ?? ""
            return .failed(endpoint.refusal(reading.status, body))
        }
        var records = 0, dropped = 0
        var event = "", data: [String] = []
        do {
            for try await line in reading.lines {
                guard line.isEmpty else {
                    // A field of the event: "name: value" (a line starting with ":" is a comment).
                    guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else { continue }
                    var value = line[line.index(after: colon)...]
                    if value.first == " " { value = value.dropFirst() }
                    switch line[..<colon] {
                    case "event": event = String(value)
                    case "data": data.append(String(value))
                    default: break
                    }
                    continue
                }
                defer { event = ""; data = [] }
                let text = data.joined(separator: "\n")
                switch event {
                case "":
                    Console.out(text)
                    records += 1
                    if let limit, records >= limit { return .ended(records: records, dropped: dropped, why: nil) }
                case "tap":
                    let hello = try? Value(json: Data(text.utf8))
                    let type = hello?["type"]?.stringValue.map { " (\($0))" } ?? ""
                    Console.error("hypha: tapping '\(node)'\(type) at \(endpoint.base); Ctrl-C stops")
                case "dropped":
                    dropped += (try? Value(json: Data(text.utf8)))?["dropped"]?.intValue.map(Int.init) ?? 0
                case "end":
                    let reason = (try? Value(json: Data(text.utf8)))?["reason"]?.stringValue
                    return .ended(records: records, dropped: dropped, why: reason == "limit" ? nil : "the run has ended")
                default: break
                }
            }
        } catch {
            return .ended(records: records, dropped: dropped,
                          why: Task.isCancelled ? nil : "the connection to \(endpoint.base) ended (\(error))")
        }
        return .ended(records: records, dropped: dropped, why: "the connection to \(endpoint.base) ended (Hypha stopped?)")
    }
}
