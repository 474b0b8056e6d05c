import AsyncHTTPClient
import Engine
import Foundation
import Glibc
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// The validators a server gave for a version of a file, to ask "has it changed?" next time.
struct Validators: Sendable, Equatable {
    var etag: String?
    var lastModified: String?
}

/// What fetching one URL came to.
enum FetchOutcome: Sendable {
    /// Written, verified and in place: emit it.
    case fetched(DownloadRecord)
    /// Unchanged since an earlier run fetched it, which did not see everything downstream
    /// finish with it: emit it again.
    case emitAgain(DownloadRecord)
    /// Unchanged and already handled: nothing to do.
    case unchanged
    /// Stopped by a shutdown; the partial file is removed.
    case interrupted
    /// Failed for good (after retries where they could help), and why; no file is in place.
    case failed(String, Validators?)
}

/// Fetches files into the node's folder over one AsyncHTTPClient (the client the bacalhau
/// plugin and arrow-http-sink use), or copies `file://` ones: under a hidden temporary name,
/// checked, then renamed into place. Each file is bounded by `max_bytes`, the free space
/// (`keep_free`) and `deadline`; its partial file is removed when it is given up.
final class Fetcher: Sendable {
    let settings: DownloadSettings
    let logger: Logger
    let client: HTTPClient
    static let chunk = 1 << 20
    /// The longest feed read.
    static let maxFeedBytes = 64 << 20
    /// The most redirects one request follows.
    static let maxRedirects = 5
    /// The bytes each transfer under way still expects to write (by its length), by ticket,
    /// so that files fetched at once are checked against the free space together.
    private let pending = Mutex<(next: Int, bytes: [Int: Int64])>((0, [:]))

    init(settings: DownloadSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        // `send` follows redirects itself, to check where each one leads.
        configuration.redirectConfiguration = .disallow
        let timeout = TimeAmount(settings.timeout)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: timeout, read: timeout)
        configuration.connectionPool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: settings.maxParallel)
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async throws {
        try await client.shutdown()
    }

    // MARK: The feed

    /// The feed's text, retried like a file, within `deadline`.
    func text(of url: URL) async throws(FeedFailure) -> String {
        let result = await withDeadline(.now + settings.deadline) { () async -> Result<String, FeedFailure> in
            do throws(FeedFailure) { return .success(try await self.readText(of: url)) } catch { return .failure(error) }
        }
        guard let result else {
            throw FeedFailure("it could not be read within the deadline (\(Amount.duration(settings.deadline))); raise deadline if it is that slow")
        }
        return try result.get()
    }

    func readText(of url: URL) async throws(FeedFailure) -> String {
        if url.isFileURL {
            // A regular file of at most the size an HTTP feed may have: a device or a pipe
            // named by mistake would never end.
            var st = stat()
            guard stat(url.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                throw FeedFailure("cannot read \(url.path); check that it exists and is a regular file")
            }
            guard st.st_size <= Self.maxFeedBytes else { throw FeedFailure("it is over \(Amount.short(Int64(Self.maxFeedBytes))), too long for a feed") }
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw FeedFailure("cannot read \(url.path); check that it is readable")
            }
            return String(decoding: data, as: UTF8.self)
        }
        var attempt = 0
        while true {
            attempt += 1
            var problem: String
            var retryAfter: Double?
            do {
                let response = try await send(url) { self.request($0) }
                let body = try await response.body.collect(upTo: Self.maxFeedBytes)
                let status = Int(response.status.code)
                if status == 200 { return String(buffer: body) }
                problem = "HTTP \(status) \(response.status.reasonPhrase)"
                guard status == 429 || status >= 500 else { throw FeedFailure(problem) }
                retryAfter = RetryPolicy.retryAfter(response.headers.first(name: "Retry-After"))
            } catch let failure as FeedFailure {
                throw failure
            } catch let refused as Refused {
                throw FeedFailure(refused.description)
            } catch {
                if Task.isCancelled { throw FeedFailure("cancelled") }
                problem = Self.describe(error)
            }
            if attempt >= settings.retry.maxAttempts { throw FeedFailure("gave up after \(attempt) attempts: \(problem)") }
            logger.warning("reading the feed \(url.absoluteString) failed (\(problem)); retrying")
            try? await Task.sleep(for: .seconds(settings.retry.delay(beforeRetry: attempt, retryAfter: retryAfter)))
        }
    }

    /// Sends the request `make` builds for `url` and returns the answer, following redirects
    /// (at most `maxRedirects`, each request built again for its URL) only where the policy
    /// lets them lead, and only when no credentials (`headers`, `token`) would travel with them.
    /// Throws `Refused` for a redirect it does not follow.
    func send(_ url: URL, _ make: (URL) -> HTTPClientRequest) async throws -> HTTPClientResponse {
        var current = url
        var seen: Set<String> = [url.absoluteString]
        while true {
            let response = try await client.execute(make(current), timeout: TimeAmount(settings.timeout))
            guard [301, 302, 303, 307, 308].contains(response.status.code), let location = response.headers.first(name: "Location")
            else { return response }
            _ = try? await response.body.collect(upTo: 1 << 20)
            guard let target = URL(string: location, relativeTo: current)?.absoluteURL else {
                throw Refused("it redirects to '\(location.prefix(200))', which is not a URL")
            }
            if let refusal = settings.policy.refusal(ofRedirectTo: target, from: current) { throw Refused(refusal) }
            guard settings.authorization == nil && settings.headers.isEmpty else {
                throw Refused("it redirects to \(target.absoluteString); redirects are not followed when 'headers' or 'token' is set, "
                              + "so credentials never travel elsewhere: list the URL it redirects to instead")
            }
            guard seen.count <= Self.maxRedirects else { throw Refused("it redirects more than \(Self.maxRedirects) times") }
            guard seen.insert(target.absoluteString).inserted else { throw Refused("its redirects go round (\(target.absoluteString))") }
            current = target
        }
    }

    func request(_ url: URL) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.headers.add(name: "User-Agent", value: "hypha")
        for (name, value) in settings.headers { request.headers.add(name: name, value: value) }
        if let authorization = settings.authorization { request.headers.replaceOrAdd(name: "Authorization", value: authorization) }
        return request
    }

    // MARK: One file

    /// Fetches one file within `deadline`. A file given up (failed, past the deadline, or
    /// stopped by a shutdown) leaves no partial file; one killed mid-transfer leaves it, bounded
    /// by `max_bytes`, for the next start to resume.
    func fetch(_ entry: FeedEntry, name: String, known: DownloadRecord?, progress: @escaping @Sendable (Int) -> Void) async -> FetchOutcome {
        let part = settings.directory + "/." + name + ".part"
        let outcome = await withDeadline(.now + settings.deadline) {
            await self.fetchUnbounded(entry, name: name, part: part, known: known, progress: progress)
        }
        switch outcome {
        case .interrupted?:
            Self.removePart(part)
            return .interrupted
        case let outcome?:
            return outcome
        case nil:
            Self.removePart(part)
            return .failed("it did not finish within the deadline (\(Amount.duration(settings.deadline))); nothing was kept: "
                           + "raise deadline if the file is that large or the server that slow", nil)
        }
    }

    func fetchUnbounded(_ entry: FeedEntry, name: String, part: String, known: DownloadRecord?,
                        progress: @escaping @Sendable (Int) -> Void) async -> FetchOutcome {
        let final = settings.directory + "/" + name
        if entry.url.isFileURL { return copy(entry, to: final, known: known, progress: progress) }
        let expected = entry.sha256
        // The feed names the content, and it is the one already fetched: no need to ask.
        if let known, known.state != .failed, let expected, known.sha256 == expected, Self.size(of: known.path) == known.size {
            return known.state == .done ? .unchanged : .emitAgain(known)
        }
        // Ask "changed?" about what was fetched (if it is still there), or about what failed.
        var conditional: DownloadRecord?
        if let known {
            if known.state == .failed {
                if known.sha256 == (expected ?? ""), known.etag != nil || known.lastModified != nil { conditional = known }
            } else if Self.size(of: known.path) == known.size {
                conditional = known
            }
        }
        // A partial file left by a killed Hypha over today's limit is not resumed.
        if let have = Self.size(of: part), have > settings.maxBytes { Self.removePart(part) }
        var attempt = 0
        while true {
            if Task.isCancelled { return .interrupted }
            attempt += 1
            switch await attemptOnce(entry.url, part: part, final: final, expected: expected, conditional: conditional, progress: progress) {
            case .finished(let outcome):
                if case .failed = outcome { Self.removePart(part) }
                return outcome
            case .notModified:
                guard let known = conditional else { return .unchanged }
                switch known.state {
                case .failed: return .failed((known.reason ?? "it failed") + " (unchanged since)", Validators(etag: known.etag, lastModified: known.lastModified))
                case .done: return .unchanged
                case .emitted: return .emitAgain(known)
                }
            case .retry(let problem, let retryAfter):
                if Task.isCancelled { return .interrupted }
                if attempt >= settings.retry.maxAttempts {
                    Self.removePart(part)
                    return .failed("gave up after \(attempt) attempt\(attempt == 1 ? "" : "s"): \(problem)", nil)
                }
                let delay = settings.retry.delay(beforeRetry: attempt, retryAfter: retryAfter)
                logger.warning("\(entry.url.absoluteString): \(problem); retrying in \(String(format: "%.2f", delay)) s")
                do { try await Task.sleep(for: .seconds(delay)) } catch { return .interrupted }
            }
        }
    }

    enum Attempt {
        case finished(FetchOutcome)
        case notModified
        case retry(String, retryAfter: Double?)
    }

    func attemptOnce(_ url: URL, part: String, final: String, expected: String?, conditional: DownloadRecord?,
                     progress: @escaping @Sendable (Int) -> Void) async -> Attempt {
        var request = request(url)
        if let conditional {
            if let etag = conditional.etag { request.headers.add(name: "If-None-Match", value: etag) }
            if let lastModified = conditional.lastModified { request.headers.add(name: "If-Modified-Since", value: lastModified) }
        }
        let have = Self.size(of: part) ?? 0
        let partValidator = have > 0 ? (try? String(contentsOfFile: part + "-validator", encoding: .utf8)) : nil
        if have > 0, let partValidator, !partValidator.isEmpty {
            request.headers.add(name: "Range", value: "bytes=\(have)-")
            request.headers.add(name: "If-Range", value: partValidator)
        }
        let response: HTTPClientResponse
        do {
            response = try await send(url) { target in
                var again = request
                again.url = target.absoluteString
                return again
            }
        } catch {
            if Task.isCancelled { return .finished(.interrupted) }
            return Self.isFatal(error) ? .finished(.failed(Self.describe(error), nil)) : .retry(Self.describe(error), retryAfter: nil)
        }
        let status = Int(response.status.code)
        let validators = Validators(etag: response.headers.first(name: "ETag"), lastModified: response.headers.first(name: "Last-Modified"))
        switch status {
        case 304:
            _ = try? await response.body.collect(upTo: 1 << 20)
            return .notModified
        case 200, 206:
            var offset: Int64 = 0
            var total = response.headers.first(name: "Content-Length").flatMap { Int64($0) }
            if status == 206 {
                guard let range = response.headers.first(name: "Content-Range").flatMap(Self.contentRange), range.start == have else {
                    // Not the range asked for: start over.
                    Self.removePart(part)
                    return .retry("the server answered a range that was not asked for", retryAfter: nil)
                }
                offset = have
                total = range.total
            }
            // Limits are not the file's: no validators, so a later run asks for it whole again.
            if let total, total > settings.maxBytes {
                return .finished(.failed("it is \(total) bytes, over max_bytes (\(settings.maxBytes)); raise max_bytes to fetch it", nil))
            }
            let ticket = newTicket()
            defer { release(ticket) }
            if let problem = reserve(total.map { $0 - offset } ?? 0, as: ticket) {
                return .finished(.failed(problem, nil))
            }
            return await receive(response, url: url, part: part, final: final, offset: offset, total: total, ticket: ticket, expected: expected,
                                 validators: validators, progress: progress)
        case 429, 500...599:
            _ = try? await response.body.collect(upTo: 1 << 20)
            return .retry("HTTP \(status) \(response.status.reasonPhrase)", retryAfter: RetryPolicy.retryAfter(response.headers.first(name: "Retry-After")))
        default:
            _ = try? await response.body.collect(upTo: 1 << 20)
            return .finished(.failed("HTTP \(status) \(response.status.reasonPhrase)", validators))
        }
    }

    /// Streams the body into the temporary file (appending from `offset` on a resumed
    /// transfer), then checks and places it.
    func receive(_ response: HTTPClientResponse, url: URL, part: String, final: String, offset: Int64, total: Int64?, ticket: Int,
                 expected: String?, validators: Validators, progress: @escaping @Sendable (Int) -> Void) async -> Attempt {
        var hasher = DownloadDigest()
        if offset > 0 {
            guard Self.hash(part, into: &hasher) == offset else {
                Self.removePart(part)
                return .retry("the partial file changed on disk", retryAfter: nil)
            }
        }
        let fd = open(part, offset > 0 ? (O_WRONLY | O_APPEND | O_CLOEXEC) : (O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC), 0o644)
        guard fd >= 0 else {
            return .finished(.failed("cannot write \(part): \(String(cString: strerror(errno)))", nil))
        }
        // A large transfer keeps what a resume must match beside its partial file from the
        // start, so that even a killed Hypha resumes it on the next start; a small one only
        // when it breaks (one file write less per small download).
        let validator = validators.etag.flatMap { $0.hasPrefix("W/") ? nil : $0 } ?? validators.lastModified ?? ""
        if offset == 0, (total ?? Self.resumeValidatorFrom) >= Self.resumeValidatorFrom {
            Self.writeValidator(validator, to: part + "-validator")
        }
        var written: Int64 = 0
        var writeError: Int32 = 0
        var tooLarge = false
        var noSpace: String?
        var spaceCheck = SpaceCheck()
        do {
            for try await chunk in response.body {
                // Past max_bytes (a server that gave no length, or a wrong one) nothing more is written.
                if offset + written + Int64(chunk.readableBytes) > settings.maxBytes {
                    tooLarge = true
                    break
                }
                chunk.withUnsafeReadableBytes { raw in
                    hasher.update(raw)
                    if !Self.writeAll(fd, raw) { writeError = errno }
                }
                written += Int64(chunk.readableBytes)
                progress(chunk.readableBytes)
                if writeError != 0 { break }
                if spaceCheck.isDue(after: chunk.readableBytes) {
                    noSpace = reserve(total.map { max(0, $0 - offset - written) } ?? 0, as: ticket)
                    if noSpace != nil { break }
                }
            }
        } catch {
            close(fd)
            // What a resumed transfer must match, kept beside the partial file for the next
            // attempt or the next start (a weak ETag cannot promise the same bytes).
            if offset == 0 { Self.writeValidator(validator, to: part + "-validator") }
            if Task.isCancelled { return .finished(.interrupted) }
            return .retry("the connection ended after \(offset + written) bytes (\(Self.describe(error)))", retryAfter: nil)
        }
        // A body cut short by cancellation (a shutdown, the deadline) may look complete.
        if Task.isCancelled {
            close(fd)
            return .finished(.interrupted)
        }
        if writeError != 0 {
            close(fd)
            return .finished(.failed(writeFailure(part, writeError), nil))
        }
        if tooLarge {
            close(fd)
            return .finished(.failed("it is over max_bytes (\(settings.maxBytes)); raise max_bytes to fetch it", nil))
        }
        if let noSpace {
            close(fd)
            return .finished(.failed(noSpace, nil))
        }
        let size = offset + written
        if let total, size != total {
            close(fd)
            if offset == 0 { Self.writeValidator(validator, to: part + "-validator") }
            return .retry("the answer ended after \(size) of \(total) bytes", retryAfter: nil)
        }
        fsync(fd)
        close(fd)
        return .finished(place(part, at: final, url: url, size: size, sha256: hasher.hexDigest(), expected: expected,
                               validators: validators))
    }

    /// Moves a complete temporary file into place once its sha256 is the one expected.
    func place(_ part: String, at final: String, url: URL, size: Int64, sha256: String, expected: String?,
               validators: Validators) -> FetchOutcome {
        if let expected, expected != sha256 {
            Self.removePart(part)
            return .failed("its sha256 is \(sha256), but the feed says \(expected); nothing was written", validators)
        }
        guard rename(part, final) == 0 else {
            let reason = String(cString: strerror(errno))
            Self.removePart(part)
            return .failed("cannot move it into place as \(final): \(reason)", nil)
        }
        unlink(part + "-validator")
        return .fetched(DownloadRecord(url: url.absoluteString, etag: validators.etag, lastModified: validators.lastModified,
                                       sha256: sha256, path: final, size: size, state: .emitted))
    }

    /// A `file://` URL: copied when its size or modification time changed.
    func copy(_ entry: FeedEntry, to final: String, known: DownloadRecord?, progress: @escaping @Sendable (Int) -> Void) -> FetchOutcome {
        let source = entry.url.path
        var st = stat()
        guard stat(source, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            return .failed("no such file: \(source)", nil)
        }
        let version = Validators(etag: "\(st.st_size)-\(Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))", lastModified: nil)
        if let known, known.etag == version.etag {
            switch known.state {
            case .failed where known.sha256 == (entry.sha256 ?? ""):
                return .failed((known.reason ?? "it failed") + " (unchanged since)", version)
            case .done where Self.size(of: known.path) == known.size: return .unchanged
            case .emitted where Self.size(of: known.path) == known.size: return .emitAgain(known)
            default: break
            }
        }
        if Int64(st.st_size) > settings.maxBytes {
            return .failed("it is \(st.st_size) bytes, over max_bytes (\(settings.maxBytes)); raise max_bytes to fetch it", nil)
        }
        let ticket = newTicket()
        defer { release(ticket) }
        if let problem = reserve(Int64(st.st_size), as: ticket) { return .failed(problem, nil) }
        let part = settings.directory + "/." + PathParts.basename(final) + ".part"
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { return .failed("cannot read \(source): \(String(cString: strerror(errno)))", nil) }
        defer { close(input) }
        let output = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else { return .failed("cannot write \(part): \(String(cString: strerror(errno)))", nil) }
        var hasher = DownloadDigest()
        var size: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: Self.chunk)
        var spaceCheck = SpaceCheck()
        while true {
            if Task.isCancelled {
                close(output)
                Self.removePart(part)
                return .interrupted
            }
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, Self.chunk) }
            if n < 0 {
                if errno == EINTR { continue }
                close(output)
                Self.removePart(part)
                return .failed("cannot read \(source): \(String(cString: strerror(errno)))", nil)
            }
            if n == 0 { break }
            let ok = buffer.withUnsafeBytes { raw -> Bool in
                let slice = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                hasher.update(slice)
                return Self.writeAll(output, slice)
            }
            guard ok else {
                let reason = writeFailure(part, errno)
                close(output)
                Self.removePart(part)
                return .failed(reason, nil)
            }
            size += Int64(n)
            progress(n)
            var problem: String?
            if size > settings.maxBytes {
                problem = "it grew past max_bytes (\(settings.maxBytes)) while being copied; raise max_bytes to fetch it"
            } else if spaceCheck.isDue(after: n) {
                problem = reserve(max(0, Int64(st.st_size) - size), as: ticket)
            }
            if let problem {
                close(output)
                Self.removePart(part)
                return .failed(problem, nil)
            }
        }
        fsync(output)
        close(output)
        return place(part, at: final, url: entry.url, size: size, sha256: hasher.hexDigest(), expected: entry.sha256, validators: version)
    }

    // MARK: Helpers

    /// When a transfer looks at the free space again: every 8 MiB it writes.
    struct SpaceCheck {
        static let every = 8 << 20
        private var since = 0

        /// Counts `bytes` written; true (and counting again) when a look is due.
        mutating func isDue(after bytes: Int) -> Bool {
            since += bytes
            guard since >= Self.every else { return false }
            since = 0
            return true
        }
    }

    func newTicket() -> Int {
        pending.withLock { state in
            state.next += 1
            return state.next
        }
    }

    func release(_ ticket: Int) {
        pending.withLock { _ = $0.bytes.removeValue(forKey: ticket) }
    }

    /// Why `remaining` more bytes of transfer `ticket` may not be written into the folder now,
    /// or nil, and then they are counted as its: they, what the other transfers under way still
    /// expect, and `keep_free` must fit in the space free there (nil too when that cannot be told).
    func reserve(_ remaining: Int64, as ticket: Int) -> String? {
        pending.withLock { state in
            let others = state.bytes.reduce(Int64(0)) { $1.key == ticket ? $0 : $0 + $1.value }
            guard let free = Self.freeBytes(settings.directory), remaining + others + settings.keepFree > free else {
                state.bytes[ticket] = remaining
                return nil
            }
            state.bytes[ticket] = nil
            let needed = remaining + others + settings.keepFree
            var parts = remaining > 0 ? "\(Amount.short(remaining)) still to write" : "how much more the file has is not known"
            if others > 0 { parts += " + \(Amount.short(others)) other files under way still expect" }
            parts += " + keep_free \(Amount.short(settings.keepFree))"
            return "not enough free space in \(settings.directory): it needs \(needed) bytes (\(parts)), and only \(Amount.bytes(free)) "
                + "are free; free some space or lower keep_free"
        }
    }

    /// The bytes this user may still write on the file system holding `folder`, or nil.
    static func freeBytes(_ folder: String) -> Int64? {
        var st = statvfs()
        guard statvfs(folder, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }

    func writeFailure(_ part: String, _ code: Int32) -> String {
        let reason = "cannot write \(part): \(String(cString: strerror(code)))"
        return code == ENOSPC || code == EDQUOT ? reason + "; free some space in \(settings.directory)" : reason
    }

    static func size(of path: String) -> Int64? {
        guard !path.isEmpty else { return nil }
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int64(st.st_size) : nil
    }

    /// The size from which a transfer's resume validator is written when it starts (1 MiB).
    static let resumeValidatorFrom: Int64 = 1 << 20

    static func writeValidator(_ validator: String, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        _ = Array(validator.utf8).withUnsafeBytes { writeAll(fd, $0) }
        close(fd)
    }

    static func removePart(_ part: String) {
        unlink(part)
        unlink(part + "-validator")
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard var pointer = bytes.baseAddress else { return true }
        var remaining = bytes.count
        while remaining > 0 {
            let n = write(fd, pointer, remaining)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            pointer += n
            remaining -= n
        }
        return true
    }

    /// Hashes a file's bytes; returns how many there were (-1 when it cannot be read).
    static func hash(_ path: String, into hasher: inout DownloadDigest) -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return -1 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: chunk)
        var total: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunk) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return n == 0 ? total : -1 }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            total += Int64(n)
        }
    }

    /// `bytes START-END/TOTAL`.
    static func contentRange(_ text: String) -> (start: Int64, total: Int64?)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("bytes ") else { return nil }
        let rest = trimmed.dropFirst(6)
        let parts = rest.split(separator: "/")
        guard parts.count == 2, let dash = parts[0].firstIndex(of: "-"), let start = Int64(parts[0][..<dash]) else { return nil }
        return (start, Int64(parts[1]))
    }

    /// Whether retrying cannot help (the URL itself is wrong, a redirect is refused).
    static func isFatal(_ error: any Error) -> Bool {
        if error is Refused { return true }
        guard let error = error as? HTTPClientError else { return false }
        switch error {
        case .invalidURL, .emptyHost, .emptyScheme, .redirectLimitReached, .redirectCycleDetected: return true
        default: return false
        }
    }

    static func describe(_ error: any Error) -> String {
        if let refused = error as? Refused { return refused.description }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "timed out connecting"
            case .readTimeout: return "timed out waiting for data"
            case .deadlineExceeded: return "timed out"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: break
            }
        }
        if let error = error as? IOError { return "network error: \(String(cString: strerror(error.errnoCode)))" }
        return String(describing: error)
    }
}

/// A request not sent, or a redirect not followed, because the node's policy forbids it.
struct Refused: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
