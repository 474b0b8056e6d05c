import Glibc

/// A file name as the kernel gives it: bytes. Hypha's messages carry names as UTF-8 text
/// (Arrow `utf8` columns, job arguments), so a name that is not valid UTF-8 cannot be passed on
/// faithfully: file-watch skips such a file with a warning naming it, its bytes escaped
/// (`\xff`) so the log line shows which file it is. Renaming it to UTF-8 makes it visible.
enum FileName: Equatable {
    case utf8(String)
    case notUTF8(escaped: String)

    init<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        if let text = String(validating: bytes, as: UTF8.self) {
            self = .utf8(text)
            return
        }
        var escaped = ""
        for byte in bytes {
            if byte >= 0x20 && byte < 0x7f && byte != UInt8(ascii: "\\") {
                escaped.append(Character(Unicode.Scalar(byte)))
            } else {
                escaped += "\\x" + String(byte, radix: 16).leftPadded(to: 2)
            }
        }
        self = .notUTF8(escaped: escaped)
    }

    /// The entries of `folder` (without `.` and `..`) as the kernel lists them.
    static func entries(of folder: String) -> [FileName]? {
        guard let dir = opendir(folder) else { return nil }
        defer { closedir(dir) }
        var names: [FileName] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in FileName(raw.prefix { $0 != 0 }) }
            if name != .utf8("."), name != .utf8("..") { names.append(name) }
        }
        return names
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
