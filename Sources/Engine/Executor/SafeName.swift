/// Names made from free text (job names, file names, run ids) for places with rules of their
/// own. Every executor uses these, so a job's log file and its labels are named alike wherever
/// it runs.
public enum SafeName {
    /// A slug for generated job names: lower-case ASCII letters and digits, other runs of
    /// characters as one `-`, at most 40 characters, no `-` at either end.
    public static func slug(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(40)
        var lastDash = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.append(byte)
                lastDash = false
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                out.append(byte + 32)
                lastDash = false
            default:
                // Every byte of a non-ASCII character is a separator, like any other punctuation.
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

    /// A file name: ASCII letters, digits, `-`, `_` and `.` kept, anything else `_`; at most
    /// 120 characters; never empty, `.` or `..` (then `job`).
    public static func file(_ text: String) -> String {
        let name = String(decoding: mapped(text, replacement: UInt8(ascii: "_"), limit: 120), as: UTF8.self)
        return name.isEmpty || name == "." || name == ".." ? "job" : name
    }

    /// A label value as Kubernetes-style selectors (and Bacalhau's) accept it: ASCII letters,
    /// digits, `-`, `_` and `.`, anything else `-`; at most 63 characters, starting and ending
    /// with a letter or digit (`x` when nothing is left).
    public static func label(_ text: String) -> String {
        var bytes = mapped(text, replacement: UInt8(ascii: "-"), limit: 63)
        let isAlphanumeric = { (b: UInt8) in isKept(b) && b != UInt8(ascii: "-") && b != UInt8(ascii: "_") && b != UInt8(ascii: ".") }
        while let last = bytes.last, !isAlphanumeric(last) { bytes.removeLast() }
        while let first = bytes.first, !isAlphanumeric(first) { bytes.removeFirst() }
        return bytes.isEmpty ? "x" : String(decoding: bytes, as: UTF8.self)
    }

    /// The characters both files and labels keep.
    static func isKept(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): true
        default: false
        }
    }

    /// `text` with each character outside `isKept` as one `replacement`, cut at `limit`.
    static func mapped(_ text: String, replacement: UInt8, limit: Int) -> [UInt8] {
        var out: [UInt8] = []
        for scalar in text.unicodeScalars {
            if out.count >= limit { break }
            out.append(scalar.isASCII && isKept(UInt8(scalar.value)) ? UInt8(scalar.value) : replacement)
        }
        return out
    }
}
