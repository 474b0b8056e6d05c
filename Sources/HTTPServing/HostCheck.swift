import Engine
import Foundation

/// Which `Host` a server answers, against DNS rebinding: a web page of another site whose
/// name the attacker points at 127.0.0.1 sends requests to a loopback server with the
/// attacker's name as `Host` (and the browser treats the answers as that site's own).
///
/// - Bound to a loopback address: loopback names (`localhost`, `*.localhost`, `127.x.x.x`,
///   `::1`) and the names configured.
/// - Bound to another address: that address and the names configured.
/// - Bound to every interface (`0.0.0.0`, `::`) with no names configured: any `Host` (such a
///   server needs a token, which a page of another site does not have); with names: those and
///   the loopback names.
/// - A configured `*` allows any `Host`.
///
/// The name is compared, not the port (a browser sends the port of the URL it was given,
/// which is this server's either way). A request without `Host` (HTTP/1.0, not a browser)
/// passes.
public struct HostCheck: Sendable {
    /// Nil: any host.
    let names: Set<String>?
    let loopback: Bool
    /// How to allow another name, for the refusal: "add it to allowed_hosts".
    let hint: String

    /// - Parameters:
    ///   - host: the address the server is bound to.
    ///   - allowed: names configured (host names or addresses, without port).
    public init(boundTo host: String, allowed: [String], hint: String) {
        let bound = HTTPAccess.hostName(host)
        let configured = Set(allowed.map(HTTPAccess.hostName).filter { !$0.isEmpty })
        self.hint = hint
        let wildcard = ["", "0.0.0.0", "::", "*"].contains(bound)
        if configured.contains("*") || (wildcard && configured.isEmpty) {
            names = nil
            loopback = true
        } else {
            loopback = wildcard || HTTPAccess.isLoopback(bound)
            names = wildcard ? configured : configured.union([bound])
        }
    }

    /// Nil when `authority` (the request's `Host`) is one this server answers; otherwise why not,
    /// naming the value and what to do.
    public func refusal(_ authority: String?, server: String) -> String? {
        guard let names, let authority else { return nil }
        let name = HTTPAccess.hostName(Self.hostPart(authority))
        if names.contains(name) || (loopback && HTTPAccess.isLoopback(name)) { return nil }
        var answered = names.sorted()
        if loopback { answered.insert("loopback names (localhost, 127.0.0.1, ::1)", at: 0) }
        return "\(server) answers requests for \(answered.joined(separator: ", ")), not Host '\(authority)' (a web page of "
            + "another site could reach a local server through a name of its own); call it by one of those names, or \(hint)"
    }

    /// The host of `name:port`, `[v6]:port` or `name`.
    static func hostPart(_ authority: String) -> String {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        if let colon = authority.lastIndex(of: ":"), !authority[..<colon].contains(":") {
            return String(authority[..<colon])
        }
        return authority
    }

}
