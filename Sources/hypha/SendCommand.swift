import ArgumentParser
import ArrowHTTP
import CorePlugins
import Engine
import Foundation
import HyphaArrow

/// `hypha send URL ...`: the manual trigger. Builds one Arrow IPC stream and POSTs it to a
/// running Hypha's `arrow-http` source with the client `arrow-http-sink` uses.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Post records to a running Hypha's arrow-http source (a manual trigger).",
        discussion: """
            Sends one Arrow message: one row from the --record pairs (values typed as in YAML: 3 is \
            an int, 2.5 a float, true a bool, anything else a string), every row of FILE (Arrow IPC, \
            file or stream format, or JSON lines), or with --file-watch-row the row a file-watch \
            source would make for a file, so an existing file can be pushed through a job node by \
            hand. Prints what the source answered; exits 0 on 2xx, 1 otherwise (and when the node \
            cannot be reached).

            Examples:
              hypha send http://127.0.0.1:8787/arrow --record path=/data/inbox/a.zip --record name=a.zip --token $T
              hypha send https://node:8787/arrow --file-watch-row /data/inbox/a.zip --ca ca.pem
              hypha send http://127.0.0.1:8787/arrow rows.jsonl
            """)

    @Argument(help: "The arrow-http source's URL, like http://127.0.0.1:8787/arrow.")
    var url: String

    @Argument(help: "An Arrow IPC file or a JSON-lines file: every row is sent.")
    var file: String?

    @Option(name: .customLong("record"), help: ArgumentHelp("A field of the one row to send (repeatable).", valueName: "KEY=VALUE"))
    var fields: [String] = []

    @Option(help: ArgumentHelp("Send the row a file-watch source would emit for this file.", valueName: "PATH"))
    var fileWatchRow: String?

    @Option(help: "The bearer token the source wants (default: the HYPHA_TOKEN environment variable).")
    var token: String?

    @Option(help: ArgumentHelp("A PEM file of the CA that signed the server's certificate (a private CA).", valueName: "PEM"))
    var ca: String?

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 30

    func validate() throws {
        let given = [!fields.isEmpty, file != nil, fileWatchRow != nil].filter { $0 }.count
        guard given == 1 else {
            throw ValidationError("give exactly one of --record KEY=VALUE..., FILE (.arrow or .jsonl), or --file-watch-row PATH")
        }
        try HTTPClientArguments.checkURL(url, example: "the source's URL, like http://127.0.0.1:8787/arrow")
        guard timeout > 0 else { throw ValidationError("--timeout must be more than 0 seconds") }
    }

    func run() async throws {
        let table: ArrowTable
        do {
            table = try message()
        } catch let error as ExitCode {
            throw error
        } catch {
            Console.error("hypha: \(error)")
            throw ExitCode(1)
        }
        let body = try ArrowStreamWriter.encode(schema: table.schema, batches: table.batches)
        let client: ArrowHTTPClient
        do {
            client = try ArrowHTTPClient(ca: ca.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        } catch {
            Console.error("hypha: \(error)")
            throw ExitCode(1)
        }
        let answer: ArrowHTTPClient.Answer
        do {
            answer = try await client.post(body, to: url, token: HTTPClientArguments.token(token),
                                           timeout: .milliseconds(Int64(timeout * 1000)))
        } catch {
            Console.error("hypha: \(error)")
            await client.shutdown()
            throw ExitCode(1)
        }
        await client.shutdown()
        let text = answer.body.trimmingCharacters(in: .whitespacesAndNewlines)
        if answer.succeeded {
            Console.out(text.isEmpty ? "HTTP \(answer.status)" : text)
            return
        }
        Console.error("hypha: \(url) answered HTTP \(answer.status): \(Self.reason(text))")
        Console.error("hypha: \(Self.advice(answer))")
        throw ExitCode(1)
    }

    /// The message to send, from whichever input was given.
    func message() throws -> ArrowTable {
        if let path = fileWatchRow {
            return try FileWatchPlugin.row(forFile: path)
        }
        if let file {
            return try Self.table(inFile: file)
        }
        return try RecordTable.table([Self.record(from: fields)])
    }

    /// A row from KEY=VALUE pairs, values typed as plain YAML scalars.
    static func record(from pairs: [String]) throws -> Record {
        var record = Record()
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw ValidationError("--record takes KEY=VALUE, got '\(pair)'")
            }
            record[String(pair[..<eq])] = YAMLValue.parseArgument(String(pair[pair.index(after: eq)...]))
        }
        return record
    }

    /// Every row of an Arrow IPC file (kept as its types are) or a JSON-lines file.
    static func table(inFile path: String) throws -> ArrowTable {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SendError("cannot read '\(path)': no such file or not readable")
        }
        let bytes = [UInt8](data)
        let first = bytes.first { ![UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t")].contains($0) }
        guard first == UInt8(ascii: "{") else {
            do {
                return try ArrowIPC.read(bytes)
            } catch {
                throw SendError("'\(path)' is neither JSON lines (one object per line) nor Arrow IPC data: \(error)")
            }
        }
        let records = try RenderCommand.jsonLines(bytes, path: path).map(\.1)
        guard !records.isEmpty else { throw SendError("'\(path)' has no records") }
        return try RecordTable.table(records)
    }

    /// The `error` field of the source's JSON answer, or the text.
    static func reason(_ text: String) -> String {
        if let value = try? Value(json: Data(text.utf8)), let error = value["error"]?.stringValue { return error }
        return text.isEmpty ? "(no body)" : String(text.prefix(500))
    }

    /// What to do about a refused message.
    static func advice(_ answer: ArrowHTTPClient.Answer) -> String {
        switch answer.status {
        case 401: return "the token is missing or wrong: pass the node's token with --token (or HYPHA_TOKEN)"
        case 403: return "a row's path is outside the node's allowed_paths: send files from the folders it accepts"
        case 413: return "the message is larger than the node's max_bytes: send fewer rows at once, or raise max_bytes on the node"
        case 415: return "the server did not take Arrow IPC: is the URL an arrow-http source's path?"
        case 404: return "nothing takes POSTs at that path: check the node's 'path' (default /arrow)"
        case 503:
            let wait = answer.retryAfter.map { " (it asks to wait \(Int($0)) s)" } ?? ""
            return "the node is busy (its workflow is saturated or receiving too many bodies) or stopping: send again later\(wait)"
        case 400: return "the node could not take the message as it is (see its reason above)"
        default: return "the message was not accepted"
        }
    }
}

struct SendError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Records as one Arrow table: a column per field (in order of first appearance), typed from
/// its values: bool, int64, float64 (ints and floats mixed), utf8, binary, timestamp[us, UTC];
/// a field whose values disagree, or that holds lists or maps, is sent as text (JSON for
/// lists and maps). A record without a field has null there.
enum RecordTable {
    enum Kind { case null, bool, int, float, string, bytes, timestamp, text }

    static func table(_ records: [Record]) throws -> ArrowTable {
        var names: [String] = []
        var kinds: [String: Kind] = [:]
        for record in records {
            for (name, value) in record.fields {
                if kinds[name] == nil { names.append(name) }
                kinds[name] = merge(kinds[name] ?? .null, kind(of: value))
            }
        }
        let fields = names.map { ArrowField(name: $0, type: type(of: kinds[$0] ?? .null)) }
        let schema = ArrowSchema(fields: fields)
        let rows = records.map { record in names.map { arrow(record[$0] ?? .null, as: kinds[$0] ?? .null) } }
        let batch = try RecordBatch(schema: schema, rows: rows)
        return ArrowTable(schema: schema, batches: [batch])
    }

    static func kind(of value: Value) -> Kind {
        switch value {
        case .null: .null
        case .bool: .bool
        case .int: .int
        case .float: .float
        case .string: .string
        case .bytes: .bytes
        case .timestamp: .timestamp
        case .list, .map: .text
        }
    }

    static func merge(_ a: Kind, _ b: Kind) -> Kind {
        switch (a, b) {
        case (.null, _): b
        case (_, .null): a
        case _ where a == b: a
        case (.int, .float), (.float, .int): .float
        default: .text
        }
    }

    static func type(of kind: Kind) -> ArrowType {
        switch kind {
        case .bool: .bool
        case .int: .int64
        case .float: .float64
        case .bytes: .binary
        case .timestamp: .timestamp(.microsecond, timezone: "UTC")
        case .null, .string, .text: .utf8
        }
    }

    static func arrow(_ value: Value, as kind: Kind) -> ArrowValue {
        switch (value, kind) {
        case (.null, _): return .null
        case (.bool(let b), .bool): return .bool(b)
        case (.int(let i), .int): return .int(i)
        case (.int(let i), .float): return .float(Double(i))
        case (.float(let d), .float): return .float(d)
        case (.string(let s), .string), (.string(let s), .text), (.string(let s), .null): return .string(s)
        case (.bytes(let b), .bytes): return .binary(b)
        case (.timestamp(let t), .timestamp): return .timestamp(t, .microsecond, timezone: "UTC")
        default: return .string(value.json)
        }
    }
}
