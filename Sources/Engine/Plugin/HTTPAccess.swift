import Foundation

/// Who may reach an HTTP server of Hypha's (the arrow-http source, the observability endpoint):
/// the loopback rule and the bearer-token check they share.
public enum HTTPAccess {
    /// Whether `host` is a loopback address or name (only this machine can connect):
    /// `localhost` (and `*.localhost`), 127.0.0.0/8, `::1`, and `::ffff:127.x.x.x`.
    public static func isLoopback(_ host: String) -> Bool {
        let name = hostName(host)
        if name == "localhost" || name.hasSuffix(".localhost") || name == "::1" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
        }
        return false
    }

    /// A host as compared (the `Host` a server answers, the hosts a download may ask): lower
    /// case, without surrounding spaces, the brackets of an IPv6 address or a final dot.
    public static func hostName(_ host: String) -> String {
        var name = host.trimmingCharacters(in: .whitespaces).lowercased()
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name.hasSuffix(".") { name.removeLast() }
        return name
    }

    /// Whether an `Authorization` header carries `Bearer TOKEN`, compared in constant time (a
    /// wrong guess takes as long however much of it is right).
    public static func bearerMatches(_ header: String?, token: String) -> Bool {
        guard let header else { return false }
        let given = Array(header.utf8), expected = Array(("Bearer " + token).utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<min(given.count, expected.count) { difference |= given[i] ^ expected[i] }
        return difference == 0
    }
}
