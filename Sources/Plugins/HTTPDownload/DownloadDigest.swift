import Crypto

/// The SHA-256 of a download as its bytes arrive, as lowercase hex: swift-crypto's, which is in
/// the build already (AsyncHTTPClient's certificate handling depends on it).
struct DownloadDigest {
    private var hash = Crypto.SHA256()

    init() {}

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hash.update(bufferPointer: bytes)
    }

    mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        Array(bytes).withUnsafeBytes { hash.update(bufferPointer: $0) }
    }

    /// The digest of everything so far.
    func hexDigest() -> String {
        Self.hex(hash.finalize())
    }

    /// The digest of `bytes`.
    static func hex<S: Sequence>(of bytes: S) -> String where S.Element == UInt8 {
        var digest = DownloadDigest()
        digest.update(bytes)
        return digest.hexDigest()
    }

    private static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
