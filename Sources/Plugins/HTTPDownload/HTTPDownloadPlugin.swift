import AsyncHTTPClient
import Engine
import Foundation
import Glibc
import HyphaArrow
import Logging
import NIOCore

/// `http-download` (source → arrow): fetches files over HTTP(S) (or copies `file://` URLs)
/// into a folder and emits a row per file with the columns `file-watch` emits (`path`, `name`,
/// `size`, `modified`) plus `url` and `sha256`, so the same templates downstream work.
///
/// The URLs come from `urls`, or from a `feed`: a text file (itself at a URL) of one URL per
/// line, optionally followed by the file's sha256, polled every `interval`. Each file is
/// written under a hidden temporary name in `dir` and renamed into place only once its length
/// (and its sha256, when the feed gives one) is right, so nothing downstream, and no
/// `file-watch` on the same folder, ever sees a partial file. An interrupted transfer is taken
/// up with `Range` where the server allows it. What was fetched is remembered (in the state
/// store when the run keeps state): the next poll or start asks with `If-None-Match` /
/// `If-Modified-Since` and fetches only what changed. A 404, a checksum mismatch or a body over
/// `max_bytes` fails, naming the URL, and leaves no file in `dir`.
///
/// What it reads is what its workflow allows (`DownloadPolicy`): `file://` only when the
/// workflow itself names it, never from a feed or a redirect; redirects never from https to
/// http; with `allowed_hosts`, only those hosts. Each file is bounded by `max_bytes`, by the
/// free space (`keep_free` must stay free) and by `deadline`.
public struct HTTPDownloadPlugin: RetryingSource {
    static let feed = OptionalNodeOption.string(
        "feed", help: "a URL (http, https or file) of a text file listing one URL per line, optionally followed by its sha256")
    static let urls = OptionalNodeOption.strings("urls", help: "the URLs to fetch, when there is no feed")
    static let dir = NodeOption.requiredPath("dir", help: "the folder files are written to (created if missing)")
    static let pattern = NodeOption.string("pattern", default: "*", help: "glob a file's name must match to be fetched, like \"*.zip\"")
    static let interval = NodeOption.duration("interval", default: .seconds(60), atLeast: .milliseconds(100),
                                              help: "how often the feed (or the URLs) are polled for changes")
    static let maxParallel = NodeOption.int("max_parallel", default: 4, atLeast: 1, atMost: 256,
                                            help: "how many files are fetched at once")
    static let headers = NodeOption.strings("headers", default: [], help: "extra request headers, each \"Name: value\"")
    static let token = OptionalNodeOption.string(
        "token", help: "a bearer token sent as Authorization: the token, or env:NAME to read it from the environment")
    static let timeout = NodeOption.duration("timeout", default: .seconds(30), atLeast: .milliseconds(1),
                                             help: "how long connecting, or waiting for the next bytes of an answer, may take")
    static let maxRetries = NodeOption.int("max_retries", default: 5, atLeast: 0,
                                           help: "retries of a file after a connection error, a 5xx or a 429 before it fails")
    static let maxBackoff = NodeOption.duration("max_backoff", default: .seconds(10), atLeast: .milliseconds(1),
                                                help: "the longest wait between retries (a Retry-After may ask for more)")
    static let maxBytes = NodeOption.int("max_bytes", default: 10 << 30, atLeast: 1,
                                         help: "a file larger than this many bytes fails (by its Content-Length, or once the body passes it)")
    static let keepFree = NodeOption.int("keep_free", default: 256 << 20, atLeast: 0,
                                         help: "bytes that must stay free on the folder's file system: a file that would leave less fails")
    static let deadline = NodeOption.duration("deadline", default: .seconds(3600), atLeast: .milliseconds(100),
                                              help: "the longest one file (with its retries), or reading the feed, may take before it fails")
    static let allowedHosts = OptionalNodeOption.strings(
        "allowed_hosts", help: "the only hosts URLs, feed lines and redirects may name: example.org, or *.example.org for any under it")

    public static let spec = PluginSpec(
        name: "http-download",
        summary: "Fetches files over HTTP(S) or file:// into a folder (verified, resumable, remembered) and emits a row per file.",
        output: .arrow,
        options: [feed, urls, dir, pattern, interval, maxParallel, headers, token, timeout, maxRetries, maxBackoff, maxBytes, keepFree,
                  deadline, allowedHosts],
        outputSchema: [RecordField("path", .string), RecordField("name", .string), RecordField("size", .int),
                       RecordField("modified", .timestamp), RecordField("url", .string), RecordField("sha256", .string)])

    static let schema = ArrowSchema(fields: [
        ArrowField(name: "path", type: .utf8, nullable: false),
        ArrowField(name: "name", type: .utf8, nullable: false),
        ArrowField(name: "size", type: .int64, nullable: false),
        ArrowField(name: "modified", type: .timestamp(.microsecond, timezone: "UTC"), nullable: false),
        ArrowField(name: "url", type: .utf8, nullable: false),
        ArrowField(name: "sha256", type: .utf8, nullable: false),
    ])

    let nodeID: String
    let feedURL: URL?
    let listed: [URL]
    let settings: DownloadSettings
    let interval: Duration
    let logger: Logger
    /// What this node fetched and how each file ended downstream.
    let ledger: DownloadLedger

    public static func validate(_ node: NodeConfig) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        switch (node[feed], node[urls]) {
        case (nil, nil), (.some, .some):
            problems.append(Diagnostic("node '\(node.id)' needs exactly one of 'feed' (a URL listing the files) and 'urls' (a list)",
                                       at: node.location))
        case (let text?, nil):
            if DownloadURL.parse(text) == nil { problems.append(badURL(text, option: "feed", node)) }
        case (nil, let list?):
            for text in list where DownloadURL.parse(text) == nil { problems.append(badURL(text, option: "urls", node)) }
        }
        let patterns = node[allowedHosts] ?? []
        for pattern in patterns {
            if let problem = DownloadPolicy.problem(withPattern: pattern) {
                problems.append(Diagnostic("option 'allowed_hosts' of node '\(node.id)': \(problem)", at: node.location(of: "allowed_hosts")))
            }
        }
        // The workflow's own URLs must be allowed too: it would fail every one at run time.
        let policy = DownloadPolicy(allowedHosts: node[allowedHosts])
        for (option, texts) in [("feed", node[feed].map { [$0] } ?? []), ("urls", node[urls] ?? [])] {
            for text in texts {
                guard let url = DownloadURL.parse(text), let refusal = policy.hostRefusal(url) else { continue }
                problems.append(Diagnostic("option '\(option)' of node '\(node.id)': '\(text)': its \(refusal); add the host to allowed_hosts",
                                           at: node.location(of: option)))
            }
        }
        for header in node[headers] where DownloadSettings.header(header) == nil {
            problems.append(Diagnostic("option 'headers' of node '\(node.id)': '\(header)' is not \"Name: value\"",
                                       at: node.location(of: "headers")))
        }
        return problems
    }

    static func badURL(_ text: String, option: String, _ node: NodeConfig) -> Diagnostic {
        Diagnostic("option '\(option)' of node '\(node.id)': '\(text)' is not an http://, https:// or file:// URL",
                   at: node.location(of: option))
    }

    public init(node: NodeConfig, context: RunContext) throws {
        nodeID = node.id
        feedURL = node[Self.feed].flatMap(DownloadURL.parse)
        listed = (node[Self.urls] ?? []).compactMap(DownloadURL.parse)
        var authorization: String?
        if let token = node[Self.token], !token.isEmpty {
            do {
                authorization = "Bearer " + (try EnvironmentReference.resolve(token))
            } catch {
                throw Diagnostic("option 'token' of node '\(node.id)' reads the environment variable '\(error.name)', which is not set; "
                                 + "export it or give the token another way", at: node.location(of: "token"))
            }
        }
        settings = DownloadSettings(
            directory: node[Self.dir], pattern: node[Self.pattern], maxParallel: node[Self.maxParallel],
            headers: node[Self.headers].compactMap(DownloadSettings.header), authorization: authorization,
            timeout: node[Self.timeout], retry: RetryPolicy(maxAttempts: node[Self.maxRetries] + 1, initialDelay: 0.05,
                                                            maxDelay: node[Self.maxBackoff].inSeconds),
            maxBytes: Int64(node[Self.maxBytes]), keepFree: Int64(node[Self.keepFree]), deadline: node[Self.deadline],
            policy: DownloadPolicy(allowedHosts: node[Self.allowedHosts],
                                   localFiles: Set(listed.filter(\.isFileURL).map(\.absoluteString))))
        interval = node[Self.interval]
        logger = context.logger
        ledger = DownloadLedger(state: context.state, node: node.id, logger: context.logger)
    }

    /// Returns once every file emitted so far has ended and its end is recorded (live reload).
    public func settle() async {
        await ledger.drain()
    }

    public func run(_ output: SourceOutput) async throws {
        do {
            try FileManager.default.createDirectory(atPath: settings.directory, withIntermediateDirectories: true)
        } catch {
            throw MessageFailure("cannot create the folder '\(settings.directory)' (option 'dir'): \(error)")
        }
        try await ledger.load()
        let fetcher = Fetcher(settings: settings, logger: logger)
        var reported: [String: String] = [:]
        do {
            while true {
                try Task.checkCancellation()
                let failures = try await poll(fetcher: fetcher, output: output)
                // Watching, a failure that persists is reported once, not at every poll.
                for (url, failure) in failures.sorted(by: { $0.key < $1.key }) where reported[url] != failure.reason || output.once {
                    await report(failure, output)
                }
                reported = failures.mapValues(\.reason)
                if output.once { break }
                try await Task.sleep(for: interval)
            }
        } catch {
            try? await fetcher.shutdown()
            throw error
        }
        await ledger.drain()
        try await fetcher.shutdown()
    }

    /// Fetches again the URLs dead letters of this node name (`hypha dead-letters retry`),
    /// whatever is remembered of their failures, one after another on one client, and emits
    /// each file or fails it again through its own output.
    public func retry(_ items: [(payload: Payload, output: SourceOutput)]) async throws {
        try FileManager.default.createDirectory(atPath: settings.directory, withIntermediateDirectories: true)
        try await ledger.load()
        let fetcher = Fetcher(settings: settings, logger: logger)
        do {
            for (item, output) in items { try await retry(item, output, fetcher: fetcher) }
        } catch {
            try? await fetcher.shutdown()
            throw error
        }
        await ledger.drain()
        try await fetcher.shutdown()
    }

    func retry(_ item: Payload, _ output: SourceOutput, fetcher: Fetcher) async throws {
        guard let (url, sha256) = Self.urlAndDigest(in: item), let parsed = DownloadURL.parse(url) else {
            await output.fail("this dead letter names no URL that node '\(nodeID)' could fetch; drop it")
            return
        }
        let entry = FeedEntry(url: parsed, sha256: sha256)
        if let refusal = settings.policy.refusal(of: parsed, from: .deadLetter) {
            await report(DownloadFailure(entry: entry, name: DownloadURL.fileName(of: parsed), reason: refusal), output)
            return
        }
        guard let name = DownloadURL.fileName(of: parsed) else {
            await report(DownloadFailure(entry: entry, name: nil, reason: DownloadFailure.noName), output)
            return
        }
        let known = ledger.record(url)
        let outcome = await fetcher.fetch(entry, name: name, known: known?.state == .failed ? nil : known, progress: output.received)
        try await finish(outcome, url: url, entry: entry, output: output)
        switch outcome {
        case .failed(let reason, _): await report(DownloadFailure(entry: entry, name: name, reason: reason), output)
        case .unchanged: await output.recovered(url)  // fetched and handled since it failed
        case .fetched, .emitAgain, .interrupted: break
        }
    }

    /// Reports a URL that failed: a failure of the node, kept as a dead letter (one per URL)
    /// whose payload is the row the file would have had, so `retry` can fetch it again.
    func report(_ failure: DownloadFailure, _ output: SourceOutput) async {
        let url = failure.entry.url.absoluteString
        guard failure.entry != feedEntry else {
            await output.fail("feed \(url): \(failure.reason)")
            return
        }
        let name = failure.name ?? ""
        let row = try? Self.row(path: name.isEmpty ? "" : settings.directory + "/" + name, name: name, size: 0, modified: 0,
                                url: url, sha256: failure.entry.sha256 ?? "")
        await output.fail("\(url): \(failure.reason)", keeping: row, as: url)
    }

    /// The one-row message this node emits for a file (`schema`).
    static func row(path: String, name: String, size: Int64, modified: Int64, url: String, sha256: String) throws -> Payload {
        let batch = try RecordBatch(schema: schema, columns: [
            .utf8([path]), .utf8([name]), .int64([size]), .int64([modified], type: schema.fields[3].type), .utf8([url]), .utf8([sha256]),
        ])
        return .arrow(ArrowData(table: ArrowTable(schema: schema, batches: [batch])))
    }

    /// The `url` and `sha256` (nil when empty) of a row this node made.
    static func urlAndDigest(in item: Payload) -> (String, String?)? {
        guard case .arrow(let data) = item, let table = try? data.table(), let batch = table.batches.first, batch.rowCount > 0,
              let urlColumn = table.schema.fields.firstIndex(where: { $0.name == "url" }),
              case .string(let url) = batch.value(row: 0, column: urlColumn)
        else { return nil }
        var digest: String?
        if let column = table.schema.fields.firstIndex(where: { $0.name == "sha256" }),
           case .string(let text) = batch.value(row: 0, column: column), !text.isEmpty { digest = text }
        return (url, digest)
    }

    /// The feed itself, as a failure's entry (a feed that cannot be read is no URL to keep).
    var feedEntry: FeedEntry? { feedURL.map { FeedEntry(url: $0, sha256: nil) } }

    /// One poll: read the list, fetch what is new or changed (`max_parallel` at once), emit each
    /// file. Returns the failures, by URL.
    func poll(fetcher: Fetcher, output: SourceOutput) async throws -> [String: DownloadFailure] {
        var failures: [String: DownloadFailure] = [:]
        let entries: [FeedEntry]
        if let feedURL {
            do {
                entries = try FeedEntry.parse(try await fetcher.text(of: feedURL), base: feedURL)
            } catch {
                if output.once { throw MessageFailure("feed \(feedURL.absoluteString): \(error.description)") }
                return [feedURL.absoluteString: DownloadFailure(entry: FeedEntry(url: feedURL, sha256: nil), name: nil, reason: error.description)]
            }
        } else {
            entries = listed.map { FeedEntry(url: $0, sha256: nil) }
        }
        var names: [String: String] = [:]
        var work: [(FeedEntry, String)] = []
        for entry in entries {
            let url = entry.url.absoluteString
            let origin: URLOrigin = if let feedURL, let line = entry.line { .feed(feedURL, line: line) } else { .workflow }
            // Before the pattern: a URL the node may not read is reported whatever its name.
            if let refusal = settings.policy.refusal(of: entry.url, from: origin) {
                failures[url] = DownloadFailure(entry: entry, name: DownloadURL.fileName(of: entry.url), reason: refusal)
                continue
            }
            guard let name = DownloadURL.fileName(of: entry.url) else {
                failures[url] = DownloadFailure(entry: entry, name: nil, reason: DownloadFailure.noName)
                continue
            }
            guard fnmatch(settings.pattern, name, FNM_PERIOD) == 0 else { continue }
            if let other = names[name] {
                failures[url] = DownloadFailure(entry: entry, name: nil,
                                                reason: "it would be written as '\(name)', as \(other) is; give the files different names")
                continue
            }
            names[name] = url
            work.append((entry, name))
        }
        let counts = await withTaskGroup(of: (FeedEntry, String, FetchOutcome).self) {
            group -> (fetched: Int, unchanged: Int, failed: [String: DownloadFailure]) in
            var fetched = 0, unchanged = 0
            var failed: [String: DownloadFailure] = [:]
            var next = work.makeIterator()
            var running = 0
            while true {
                while running < settings.maxParallel, let (entry, name) = next.next() {
                    running += 1
                    group.addTask {
                        let url = entry.url.absoluteString
                        let outcome = await fetcher.fetch(entry, name: name, known: ledger.record(url), progress: output.received)
                        do {
                            try await self.finish(outcome, url: url, entry: entry, output: output)
                        } catch is CancellationError {
                        } catch {
                            return (entry, name, .failed("\(error)", nil))
                        }
                        return (entry, name, outcome)
                    }
                }
                guard let (entry, name, outcome) = await group.next() else { break }
                running -= 1
                switch outcome {
                case .fetched: fetched += 1
                case .unchanged, .emitAgain, .interrupted: unchanged += 1
                case .failed(let reason, _): failed[entry.url.absoluteString] = DownloadFailure(entry: entry, name: name, reason: reason)
                }
            }
            return (fetched, unchanged, failed)
        }
        failures.merge(counts.failed) { first, _ in first }
        let summary = "polled \(entries.count) URL\(entries.count == 1 ? "" : "s"): \(counts.fetched) fetched, "
            + "\(counts.unchanged) unchanged, \(failures.count) failed"
        logger.info("\(summary)")
        return failures
    }

    /// Records and emits what one fetch came to.
    func finish(_ outcome: FetchOutcome, url: String, entry: FeedEntry, output: SourceOutput) async throws {
        switch outcome {
        case .unchanged, .interrupted:
            return
        case .failed(let reason, let validators):
            try await ledger.record(DownloadRecord(
                url: url, etag: validators?.etag, lastModified: validators?.lastModified, sha256: entry.sha256 ?? "",
                path: "", size: 0, state: .failed, reason: reason))
        case .fetched(let record), .emitAgain(let record):
            if case .emitAgain = outcome {
                logger.info("\(record.path) was fetched by an earlier run that did not finish with it; emitting it again")
            }
            // The fetcher's record says `emitted`: written, and now handed downstream.
            let failedBefore = ledger.record(url)?.state == .failed
            try await ledger.record(record)
            if failedBefore { await output.recovered(url) }
            var st = stat()
            let modified = stat(record.path, &st) == 0 ? Int64(st.st_mtim.tv_sec) * 1_000_000 + Int64(st.st_mtim.tv_nsec) / 1000 : 0
            let row = try Self.row(path: record.path, name: PathParts.basename(record.path), size: record.size, modified: modified,
                                   url: url, sha256: record.sha256)
            ledger.willEmit()
            try await output.emit(row) { delivery in ledger.finished(record, delivery) }
        }
    }
}

/// A URL that could not be fetched, and why.
struct DownloadFailure: Sendable {
    var entry: FeedEntry
    /// The file name it would have had, when it has one.
    var name: String?
    var reason: String

    static let noName = "it names no file (the last part of its path is empty or starts with '.')"
}

/// What every fetch of one node shares.
struct DownloadSettings: Sendable {
    var directory: String
    var pattern: String
    var maxParallel: Int
    var headers: [(String, String)]
    var authorization: String?
    var timeout: Duration
    var retry: RetryPolicy
    var maxBytes: Int64
    /// Bytes that must stay free on the folder's file system.
    var keepFree: Int64
    /// The longest one file, with its retries, may take.
    var deadline: Duration
    var policy: DownloadPolicy

    /// "Name: value" as a header, or nil.
    static func header(_ text: String) -> (String, String)? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let name = text[..<colon].trimmingCharacters(in: .whitespaces)
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !name.contains(where: { $0 == " " || $0 == "\t" }) else { return nil }
        return (name, value)
    }
}

enum DownloadURL {
    /// `text` as a URL this source can fetch: http(s) with a host, or file with a path.
    static func parse(_ text: String) -> URL? {
        guard let url = URL(string: text.trimmingCharacters(in: .whitespaces)), let scheme = url.scheme?.lowercased() else { return nil }
        switch scheme {
        case "http", "https": return url.host?.isEmpty == false ? url : nil
        case "file": return url.path.isEmpty ? nil : url
        default: return nil
        }
    }

    /// The file name a URL is written under: the last component of its path, percent-decoded;
    /// nil when there is none, or it would be hidden or leave the folder.
    static func fileName(of url: URL) -> String? {
        let name = url.lastPathComponent
        return PathParts.isSafeComponent(name) && !name.hasPrefix(".") ? name : nil
    }
}

/// One line of a feed: a URL and, optionally, the sha256 its content must have.
struct FeedEntry: Sendable, Equatable {
    var url: URL
    var sha256: String?
    /// Its line in the feed (from 1); nil for a URL the workflow lists.
    var line: Int?

    init(url: URL, sha256: String?, line: Int? = nil) {
        self.url = url
        self.sha256 = sha256
        self.line = line
    }

    /// The lines of a feed: blank lines and lines starting with '#' are skipped; a URL may be
    /// relative to the feed's own. A URL of a scheme other than http(s) is kept, for the
    /// node's policy to refuse naming its line.
    static func parse(_ text: String, base: URL) throws(FeedFailure) -> [FeedEntry] {
        var entries: [FeedEntry] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count <= 2, let url = URL(string: String(parts[0]), relativeTo: base)?.absoluteURL,
                  let scheme = url.scheme?.lowercased(),
                  let parsed = scheme == "http" || scheme == "https" ? DownloadURL.parse(url.absoluteString) : url else {
                throw FeedFailure("line \(number + 1) is not 'URL [SHA256]': '\(line.prefix(200))'")
            }
            var sha: String?
            if parts.count == 2 {
                let digest = parts[1].lowercased()
                guard digest.count == 64, digest.allSatisfy(\.isHexDigit) else {
                    throw FeedFailure("line \(number + 1): '\(parts[1].prefix(100))' is not a sha256 (64 hex digits)")
                }
                sha = digest
            }
            entries.append(FeedEntry(url: parsed, sha256: sha, line: number + 1))
        }
        return entries
    }
}

struct FeedFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
