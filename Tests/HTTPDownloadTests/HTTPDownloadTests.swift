import Foundation
import Testing
@testable import HTTPDownload

@Suite struct HTTPDownloadUnitTests {
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
        #expect(throws: FeedFailure.self) { try FeedEntry.parse("http://h/a.zip nothex\n", base: base) }
        #expect(throws: FeedFailure.self) { try FeedEntry.parse("ftp://h/a.zip\n", base: base) }
    }

    @Test func aFileNameIsTheLastPathComponentAndNeverHidden() throws {
        #expect(DownloadURL.fileName(of: try #require(URL(string: "http://h/x/sales%201.zip?x=1"))) == "sales 1.zip")
        #expect(DownloadURL.fileName(of: try #require(URL(string: "http://h/"))) == nil)
        #expect(DownloadURL.fileName(of: try #require(URL(string: "http://h/.hidden"))) == nil)
        let range = try #require(Fetcher.contentRange("bytes 100-199/200"))
        #expect(range.start == 100 && range.total == 200)
    }
}
