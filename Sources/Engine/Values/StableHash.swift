/// FNV-1a 64-bit as 16 hex digits: a hash that is the same in every run and on every machine,
/// for deterministic job names and spec fingerprints (Swift's `Hasher` is seeded per process).
/// Not a security hash.
public enum StableHash {
    public static func hex(of text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let s = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
