import Engine
import Foundation

/// Where a URL to fetch came from, which decides the schemes it may have.
enum URLOrigin: Sendable {
    /// Written in the workflow itself (`urls`, `feed`): http, https or file.
    case workflow
    /// Line `line` of the feed at the URL: http or https only, so that whoever serves (or can
    /// write) a feed cannot make the node copy local files.
    case feed(URL, line: Int)
    /// A dead letter's row, retried: http or https, or a `file://` URL the workflow lists.
    case deadLetter
}

/// What one `http-download` node may fetch: the schemes each URL may have by where it came
/// from, where a redirect may lead, and (with `allowed_hosts`) the hosts it may ask.
struct DownloadPolicy: Sendable {
    /// Host patterns, as `HTTPAccess.hostName` gives them: a name or address (`example.org`,
    /// `10.0.0.5`, `::1`), or `*.example.org` for any name under example.org. Nil: every host.
    var allowedHosts: [String]?
    /// The `file://` URLs the workflow lists in `urls`, as written (absolute strings).
    var localFiles: Set<String> = []

    /// `allowedHosts` as the node's `allowed_hosts` gives them.
    init(allowedHosts: [String]?, localFiles: Set<String> = []) {
        self.allowedHosts = allowedHosts.map { $0.map(HTTPAccess.hostName) }
        self.localFiles = localFiles
    }

    /// Why `url` may not be fetched, or nil when it may.
    func refusal(of url: URL, from origin: URLOrigin) -> String? {
        let scheme = url.scheme?.lowercased() ?? ""
        let web = scheme == "http" || scheme == "https"
        switch origin {
        case .workflow:
            if scheme == "file" { return nil }
        case .feed(let feed, let line):
            if !web {
                return "line \(line) of the feed \(feed.absoluteString) lists it, but a feed may list only http:// and https:// URLs; "
                    + "it was not read" + (scheme == "file" ? " (a local file is copied only when the workflow's own 'urls' lists it)" : "")
            }
        case .deadLetter:
            if scheme == "file" {
                return localFiles.contains(url.absoluteString) ? nil
                    : "a dead letter may name a file:// URL only when the workflow's own 'urls' lists it; it was not read"
            }
        }
        guard web else { return "only http://, https:// and (in the workflow) file:// URLs are fetched; it was not read" }
        return hostRefusal(url).map { "its \($0); it was not asked (add the host to allowed_hosts if it is trusted)" }
    }

    /// Why a redirect from `from` to `target` may not be followed, or nil when it may: only to
    /// http or https, never from https to http (the rest of the way would be in clear and
    /// could be altered), and only to an allowed host.
    func refusal(ofRedirectTo target: URL, from: URL) -> String? {
        let scheme = target.scheme?.lowercased() ?? ""
        let secure = from.scheme?.lowercased() == "https"
        if !(scheme == "https" || (scheme == "http" && !secure)) {
            return "it redirects to \(target.absoluteString), and a redirect may lead only to an http:// or https:// URL, "
                + "and from https:// only to https://; refused (list the URL it redirects to instead if it is trusted)"
        }
        return hostRefusal(target).map {
            "it redirects to \(target.absoluteString), whose \($0); refused (add the host to allowed_hosts if it is trusted)"
        }
    }

    /// "host 'H' is not in allowed_hosts" when the http(s) URL's host is outside the list.
    func hostRefusal(_ url: URL) -> String? {
        guard let allowedHosts, ["http", "https"].contains(url.scheme?.lowercased() ?? "") else { return nil }
        let host = HTTPAccess.hostName(url.host ?? "")
        return allowedHosts.contains { Self.host(host, matches: $0) } ? nil : "host '\(host)' is not in allowed_hosts"
    }

    /// Whether `host` (normalized) matches `pattern`: equal, or under the domain a leading
    /// `*.` names (`*.example.org` matches a.example.org and a.b.example.org, not example.org).
    static func host(_ host: String, matches pattern: String) -> Bool {
        let pattern = HTTPAccess.hostName(pattern)
        if pattern.hasPrefix("*.") {
            let domain = pattern.dropFirst()  // ".example.org"
            return host.count > domain.count && host.hasSuffix(domain)
        }
        return host == pattern
    }

    /// Why `pattern` is not a host pattern `allowed_hosts` can hold, or nil.
    static func problem(withPattern pattern: String) -> String? {
        let body = pattern.hasPrefix("*.") ? String(pattern.dropFirst(2)) : pattern
        if body.isEmpty || body.contains(where: { $0 == "/" || $0 == "*" || $0 == "@" || $0.isWhitespace }) {
            return "'\(pattern)' is not a host name, an address or '*.' and a domain (like example.org or *.example.org)"
        }
        if body.filter({ $0 == ":" }).count == 1 {
            return "'\(pattern)' has a port; give the host alone (every port of an allowed host is allowed)"
        }
        return nil
    }
}

/// Byte counts and durations as messages show them.
enum Amount {
    /// `12345 bytes (12.1 KiB)`.
    static func bytes(_ count: Int64) -> String {
        count < 1024 ? "\(count) bytes" : "\(count) bytes (\(short(count)))"
    }

    /// `12.1 KiB`, `512 bytes`.
    static func short(_ count: Int64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(count)
        var unit = -1
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit < 0 ? "\(count) bytes" : "\(String(format: "%.1f", value)) \(units[unit])"
    }

    /// `1 h`, `5 min`, `1.5 s`.
    static func duration(_ duration: Duration) -> String {
        let seconds = duration.inSeconds
        if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600)) h" }
        if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60)) min" }
        return String(format: "%g s", seconds)
    }
}
