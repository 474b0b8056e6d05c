import Foundation

/// Where a Bacalhau orchestrator listens: a base URL with no credentials in it.
///
/// Resolved like Bacalhau's own CLI: an explicit endpoint first, then `BACALHAU_API_HOST`
/// and `BACALHAU_API_PORT` (with `BACALHAU_API_TLS_USETLS=true` for https), else
/// `http://127.0.0.1:1234`. User info in a URL (`http://user:pass@host`) is taken out of
/// the URL and returned as Basic credentials, so the URL itself never carries a secret.
public struct BacalhauEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// scheme://host:port plus any path prefix, without a trailing slash.
    public let base: String

    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 1234

    public var description: String { base }

    /// The URL of an orchestrator API path (`/jobs`, `/jobs/ID`), with a query.
    func url(_ path: String, query: [(String, String)] = []) -> URL? {
        url(api: "/api/v1/orchestrator" + path, query: query)
    }

    /// The URL of any API path (`/api/v1/agent/alive`).
    func url(api path: String, query: [(String, String)] = []) -> URL? {
        guard var components = URLComponents(string: base) else { return nil }
        components.percentEncodedPath = components.percentEncodedPath + path
        if !query.isEmpty {
            components.percentEncodedQuery = query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }
                .joined(separator: "&")
        }
        return components.url
    }

    /// Percent-encodes one path segment or query item (job names are free text).
    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    init(base: String) {
        self.base = base
    }

    /// Parses an endpoint: `http(s)://host[:port][/prefix]` or `host[:port]` (http).
    /// Returns the endpoint and the user info it carried, if any.
    public static func parse(_ text: String) throws(BacalhauError) -> (BacalhauEndpoint, BacalhauCredentials) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw .configuration("the endpoint is empty; give a URL such as http://127.0.0.1:1234")
        }
        let withScheme = trimmed.contains("://") ? trimmed : "http://" + trimmed
        guard var components = URLComponents(string: withScheme), let scheme = components.scheme?.lowercased() else {
            throw .configuration("endpoint '\(redactedForDisplay(trimmed))' is not a URL; give one such as http://127.0.0.1:1234")
        }
        guard scheme == "http" || scheme == "https" else {
            throw .configuration("endpoint '\(redactedForDisplay(trimmed))' uses '\(scheme)'; use http or https")
        }
        guard let host = components.host, !host.isEmpty else {
            throw .configuration("endpoint '\(redactedForDisplay(trimmed))' has no host; give one such as http://127.0.0.1:1234")
        }
        if components.query != nil || components.fragment != nil {
            throw .configuration("endpoint '\(redactedForDisplay(trimmed))' must not have a query or fragment")
        }
        var credentials = BacalhauCredentials.none
        if let user = components.user {
            credentials = .basic(user: user.removingPercentEncoding ?? user,
                                 password: (components.password ?? "").removingPercentEncoding ?? "")
        }
        components.user = nil
        components.password = nil
        components.scheme = scheme
        if components.port == nil, !trimmed.contains("://") { components.port = defaultPort }
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        components.percentEncodedPath = path
        guard let base = components.string else {
            throw .configuration("endpoint '\(redactedForDisplay(trimmed))' is not a valid URL")
        }
        return (BacalhauEndpoint(base: base), credentials)
    }

    /// The endpoint from an option, else from the environment as Bacalhau's CLI reads it.
    public static func resolve(option: String?, environment: [String: String])
        throws(BacalhauError) -> (BacalhauEndpoint, BacalhauCredentials)
    {
        if let option, !option.trimmingCharacters(in: .whitespaces).isEmpty {
            return try parse(option)
        }
        let host = environment["BACALHAU_API_HOST"].flatMap { $0.isEmpty ? nil : $0 }
        let port = environment["BACALHAU_API_PORT"].flatMap { $0.isEmpty ? nil : $0 }
        guard host != nil || port != nil else {
            return try parse("http://\(defaultHost):\(defaultPort)")
        }
        var hostText = host ?? defaultHost
        if hostText.contains("://") {
            // A host given as a URL keeps its scheme; a separate port still applies.
            let (endpoint, credentials) = try parse(hostText)
            guard let port else { return (endpoint, credentials) }
            guard var components = URLComponents(string: endpoint.base), let number = Int(port) else {
                throw .configuration("BACALHAU_API_PORT '\(port)' is not a port number")
            }
            components.port = number
            return (BacalhauEndpoint(base: components.string ?? endpoint.base), credentials)
        }
        if hostText == "0.0.0.0" { hostText = defaultHost }  // the server's listen-anywhere default
        let tls = ["1", "true", "yes"].contains((environment["BACALHAU_API_TLS_USETLS"] ?? "").lowercased())
        let portText = port ?? String(defaultPort)
        guard let number = Int(portText), (1...65535).contains(number) else {
            throw .configuration("BACALHAU_API_PORT '\(portText)' is not a port number")
        }
        let bracketed = hostText.contains(":") && !hostText.hasPrefix("[") ? "[\(hostText)]" : hostText
        return try parse("\(tls ? "https" : "http")://\(bracketed):\(number)")
    }

    /// An endpoint as typed, with any password in it hidden, for error messages.
    static func redactedForDisplay(_ text: String) -> String {
        guard let at = text.firstIndex(of: "@"), let schemeEnd = text.range(of: "://")?.upperBound,
              schemeEnd <= at
        else { return text }
        return String(text[..<schemeEnd]) + "<redacted>" + String(text[at...])
    }
}
