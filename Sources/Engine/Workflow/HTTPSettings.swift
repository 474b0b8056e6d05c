import Foundation
import Yams

/// The workflow file's `http: { address: 127.0.0.1:9464, token: env:NAME }`: serve the
/// observability endpoint (metrics, JSON API, web view; docs/OBSERVE.md) while the workflow
/// runs. `hypha run --http` and `--http-token` override it.
public struct HTTPSettings: Sendable, Equatable {
    /// `HOST:PORT`, `:PORT` or `PORT` (loopback).
    public var address: String
    /// `env:NAME` (read from the environment when the run starts) or the token itself.
    public var token: String?
    /// Where `http:` is in the workflow file, for errors found later (a token's variable unset).
    public var location: SourceLocation?

    public init(address: String, token: String? = nil, location: SourceLocation? = nil) {
        self.address = address
        self.token = token
        self.location = location
    }

    public static func == (a: HTTPSettings, b: HTTPSettings) -> Bool { a.address == b.address && a.token == b.token }

    /// A listening address split into host and port: `HOST:PORT`, `[V6]:PORT`, `:PORT` and
    /// `PORT` (both on 127.0.0.1). Nil when it is none of these, or the port is not 0–65535.
    public static func split(_ address: String) -> (host: String, port: Int)? {
        let text = address.trimmingCharacters(in: .whitespaces)
        if let port = Int(text) { return (0...65535).contains(port) ? ("127.0.0.1", port) : nil }
        let host: String, portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon].isEmpty ? "127.0.0.1" : String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }),
              let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (host, port)
    }

}

extension WorkflowParser {
    /// `http: { address: HOST:PORT, token: env:NAME }`, or just `http: HOST:PORT`.
    mutating func parseHTTP(_ node: Node) -> HTTPSettings? {
        guard let section = parseSection(node, WorkflowKeys.http) else { return nil }
        let settings = HTTPSettings(address: WorkflowKeys.address.read(section.values, sectionInfo),
                                    token: WorkflowKeys.token.read(section.values, sectionInfo), location: location(node))
        guard HTTPSettings.split(settings.address) != nil else {
            error("'http.address' must be HOST:PORT (like 127.0.0.1:9464, or 0.0.0.0:9464 with a token); got '\(settings.address)'",
                  section.places["address"] ?? node)
            return nil
        }
        if let token = settings.token, token.isEmpty || token == "env:" {
            error("'http.token' is empty; give env:NAME (a variable holding the token) or the token", section.places["token"] ?? node)
            return nil
        }
        if let host = HTTPSettings.split(settings.address)?.host, !HTTPAccess.isLoopback(host), settings.token == nil {
            error("'http.address' \(settings.address) is reachable from other machines, so 'http' needs a 'token' "
                  + "(env:NAME); or listen on 127.0.0.1", node)
            return nil
        }
        return settings
    }
}
