import Foundation
import Testing
import Engine
@testable import HTTPDownload

@Suite(.timeLimit(.minutes(1))) struct HTTPDownloadUnitTests {
    /// The FIPS 180-4 examples, and lengths around the block and padding boundaries.
    @Test func sha256MatchesTheStandardVectors() {
        #expect(DownloadDigest.hex(of: Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(DownloadDigest.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(DownloadDigest.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(DownloadDigest.hex(of: [UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Fed in pieces of every size, the digest is the one of the whole.
    @Test func sha256IsTheSameFedInPieces() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = DownloadDigest.hex(of: bytes)
        for piece in [1, 3, 63, 64, 65, 127, 500] {
            var hasher = DownloadDigest()
            var start = 0
            while start < bytes.count {
                hasher.update(bytes[start..<min(start + piece, bytes.count)])
                start += piece
            }
            #expect(hasher.hexDigest() == whole, "piece \(piece)")
        }
    }

    @Test func aFeedListsURLsWithOptionalDigests() throws {
        let base = try #require(URL(string: "http://127.0.0.1:8000/feed.txt"))
        let digest = String(repeating: "ab", count: 32)
        let entries = try FeedEntry.parse("# comment\n\nhttp://h/a.zip \(digest.uppercased())\n  b.zip\nfile:///tmp/c.zip\n", base: base)
        #expect(entries.map(\.url.absoluteString) == ["http://h/a.zip", "http://127.0.0.1:8000/b.zip", "file:///tmp/c.zip"])
        #expect(entries.map(\.sha256) == [digest, nil, nil])
        #expect(entries.map(\.line) == [3, 4, 5])
        #expect(throws: FeedFailure.self) { try FeedEntry.parse("http://h/a.zip nothex\n", base: base) }
        #expect(throws: FeedFailure.self) { try FeedEntry.parse("http:///a.zip\n", base: base) }
    }

    /// A feed line of any scheme but http(s) is refused naming the feed and its line; the same
    /// URLs written in the workflow are fetched; a dead letter may name only a listed file.
    @Test func aFeedMayListOnlyHTTPURLs() throws {
        let base = try #require(URL(string: "http://127.0.0.1:8000/feed.txt"))
        let entries = try FeedEntry.parse("ftp://h/a.zip\nfile:///etc/passwd\njavascript:alert(1)\nhttps://h/b.zip\n", base: base)
        let policy = DownloadPolicy(allowedHosts: nil, localFiles: ["file:///data/listed.zip"])
        let refusals = entries.map { policy.refusal(of: $0.url, from: .feed(base, line: $0.line ?? 0)) }
        #expect(refusals[0]?.hasPrefix("line 1 of the feed http://127.0.0.1:8000/feed.txt lists it, but a feed may list only http://") == true)
        #expect(refusals[1]?.hasPrefix("line 2 of the feed") == true)
        #expect(refusals[2]?.hasPrefix("line 3 of the feed") == true)
        #expect(refusals[3] == nil)
        // A file:// feed's relative lines are file:// URLs too: refused.
        let local = try #require(URL(string: "file:///srv/feed.txt"))
        let relative = try FeedEntry.parse("secret.zip\n", base: local)
        #expect(policy.refusal(of: relative[0].url, from: .feed(local, line: 1)) != nil)
        #expect(policy.refusal(of: try #require(URL(string: "file:///etc/passwd")), from: .workflow) == nil)
        #expect(policy.refusal(of: try #require(URL(string: "file:///etc/passwd")), from: .deadLetter) != nil)
        #expect(policy.refusal(of: try #require(URL(string: "file:///data/listed.zip")), from: .deadLetter) == nil)
    }

    /// A redirect leads only to http(s), never from https to http, and only to allowed hosts.
    @Test func aRedirectIsCheckedAtEveryHop() throws {
        func url(_ text: String) throws -> URL { try #require(URL(string: text)) }
        let open = DownloadPolicy(allowedHosts: nil)
        #expect(open.refusal(ofRedirectTo: try url("http://b/x"), from: try url("http://a/x")) == nil)
        #expect(open.refusal(ofRedirectTo: try url("https://b/x"), from: try url("http://a/x")) == nil)
        #expect(open.refusal(ofRedirectTo: try url("https://b/x"), from: try url("https://a/x")) == nil)
        #expect(open.refusal(ofRedirectTo: try url("http://b/x"), from: try url("https://a/x")) != nil)
        #expect(open.refusal(ofRedirectTo: try url("file:///etc/passwd"), from: try url("http://a/x"))?
            .hasPrefix("it redirects to file:///etc/passwd, and a redirect may lead only to") == true)
        #expect(open.refusal(ofRedirectTo: try url("ftp://b/x"), from: try url("http://a/x")) != nil)
        let listed = DownloadPolicy(allowedHosts: ["example.org", "*.cdn.example.net"])
        #expect(listed.refusal(ofRedirectTo: try url("https://a.cdn.example.net/x"), from: try url("https://example.org/x")) == nil)
        #expect(listed.refusal(ofRedirectTo: try url("https://evil.org/x"), from: try url("https://example.org/x"))
                == "it redirects to https://evil.org/x, whose host 'evil.org' is not in allowed_hosts; refused (add the host to allowed_hosts if it is trusted)")
    }

    @Test func allowedHostsMatchNamesAndDomains() throws {
        #expect(DownloadPolicy.host("example.org", matches: "Example.ORG"))
        #expect(DownloadPolicy.host("a.example.org", matches: "*.example.org"))
        #expect(DownloadPolicy.host("a.b.example.org", matches: "*.example.org"))
        #expect(!DownloadPolicy.host("example.org", matches: "*.example.org"))
        #expect(!DownloadPolicy.host("badexample.org", matches: "*.example.org"))
        #expect(!DownloadPolicy.host("example.org.evil", matches: "example.org"))
        #expect(DownloadPolicy.host(HTTPAccess.hostName("[::1]"), matches: "::1"))
        let policy = DownloadPolicy(allowedHosts: ["127.0.0.1"])
        #expect(policy.refusal(of: try #require(URL(string: "http://localhost:8000/a.zip")), from: .workflow)?
            .hasPrefix("its host 'localhost' is not in allowed_hosts") == true)
        #expect(policy.refusal(of: try #require(URL(string: "http://127.0.0.1:8000/a.zip")), from: .workflow) == nil)
        #expect(DownloadPolicy.problem(withPattern: "example.org") == nil)
        #expect(DownloadPolicy.problem(withPattern: "*.example.org") == nil)
        #expect(DownloadPolicy.problem(withPattern: "::1") == nil)
        #expect(DownloadPolicy.problem(withPattern: "example.org:8080") != nil)
        #expect(DownloadPolicy.problem(withPattern: "https://example.org") != nil)
        #expect(DownloadPolicy.problem(withPattern: "a.*.org") != nil)
        #expect(DownloadPolicy.problem(withPattern: "") != nil)
    }

    @Test func amountsReadAsWritten() {
        #expect(Amount.bytes(512) == "512 bytes")
        #expect(Amount.bytes(256 << 20) == "268435456 bytes (256.0 MiB)")
        #expect(Amount.duration(.seconds(3600)) == "1 h")
        #expect(Amount.duration(.seconds(90)) == "90 s")
        #expect(Amount.duration(.seconds(300)) == "5 min")
        #expect(Amount.duration(.milliseconds(1500)) == "1.5 s")
    }

    /// Files fetched at once are checked against the free space together: what one transfer
    /// still expects counts against the next, until it ends.
    @Test func transfersUnderWayShareTheFreeSpace() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-space-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let free = try #require(Fetcher.freeBytes(dir))
        // Leave 1 GiB above keep_free: one 600 MiB file fits, two do not.
        let settings = DownloadSettings(directory: dir, pattern: "*", maxParallel: 2, headers: [], authorization: nil, timeout: .seconds(1),
                                        retry: RetryPolicy(), maxBytes: 1 << 40, keepFree: free - (1 << 30), deadline: .seconds(10),
                                        policy: DownloadPolicy(allowedHosts: nil))
        let fetcher = Fetcher(settings: settings, logger: .init(label: "test"))
        let first = fetcher.newTicket(), second = fetcher.newTicket()
        #expect(fetcher.reserve(600 << 20, as: first) == nil)
        let refused = fetcher.reserve(600 << 20, as: second)
        #expect(refused?.contains("600.0 MiB other files under way still expect") == true, "\(refused ?? "fits")")
        fetcher.release(first)
        #expect(fetcher.reserve(600 << 20, as: second) == nil)
        try await fetcher.shutdown()
    }

    @Test func aFileNameIsTheLastPathComponentAndNeverHidden() throws {
        #expect(DownloadURL.fileName(of: try #require(URL(string: "http://h/x/sales%201.zip?x=1"))) == "sales 1.zip")
        #expect(DownloadURL.fileName(of: try #require(URL(string: "http://h/"))) == nil)
        #expect(DownloadURL.fileName(of: try #require(URL(string: "http://h/.hidden"))) == nil)
        let range = try #require(Fetcher.contentRange("bytes 100-199/200"))
        #expect(range.start == 100 && range.total == 200)
    }
}
