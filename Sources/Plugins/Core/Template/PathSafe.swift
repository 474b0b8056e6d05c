/// Makes text safe for job names and folder names.
enum PathSafe {
    /// Lower-case letters, digits and '-', at most 40 characters.
    static func slug(_ text: String) -> String {
        text.utf8.allSatisfy({ $0 < 0x80 }) ? asciiSlug(text.utf8) : unicodeSlug(text)
    }

    /// The rule itself, character by character (the path non-ASCII text takes).
    static func unicodeSlug(_ text: String) -> String {
        var out = ""
        var lastDash = false
        for c in text.lowercased() {
            if (c.isASCII && (c.isLetter || c.isNumber)) {
                out.append(c)
                lastDash = false
            } else if !lastDash && !out.isEmpty {
                out.append("-")
                lastDash = true
            }
            if out.count >= 40 { break }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out
    }

    /// `slug` for ASCII text (the usual case), byte by byte: the same result without
    /// Unicode case mapping or grapheme breaking.
    private static func asciiSlug(_ bytes: String.UTF8View) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(40)
        var lastDash = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.append(byte)
                lastDash = false
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                out.append(byte + 32)
                lastDash = false
            default:
                if !lastDash && !out.isEmpty {
                    out.append(UInt8(ascii: "-"))
                    lastDash = true
                }
            }
            if out.count >= 40 { break }
        }
        while out.last == UInt8(ascii: "-") { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }
}
