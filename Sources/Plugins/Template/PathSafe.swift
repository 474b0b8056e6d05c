/// Makes text safe for job names and folder names.
enum PathSafe {
    /// Lower-case letters, digits and '-', at most 40 characters.
    static func slug(_ text: String) -> String {
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
}

enum PathParts {
    static func stemOf(_ path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return base }
        return String(base[..<dot])
    }
}
