/// FNV-1a 64-bit as 16 hex digits: a hash that is the same in every run and on every machine,
/// for deterministic job names and spec fingerprints (Swift's `Hasher` is seeded per process).
/// Not a security hash. Fed in pieces, it gives the same hash as the pieces joined.
public struct StableHash: Sendable {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        for byte in bytes {
            state ^= UInt64(byte)
            state = state &* 0x100_0000_01b3
        }
    }

    /// The hash so far, as 16 lower-case hex digits.
    public var hex: String {
        let s = String(state, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    public static func hex(of text: String) -> String {
        var hash = StableHash()
        hash.add(text.utf8)
        return hash.hex
    }
}
