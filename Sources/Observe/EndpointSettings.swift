import Engine
import Foundation

/// Where the endpoint listens and the token it asks for, from `--http`/`--http-token` (which
/// win) or the workflow's `http:`. Off unless one of them gives an address.
public struct EndpointSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var token: String?

    /// Nil when neither the command line nor the workflow asks for the endpoint. Throws when
    /// the address is malformed, a token's variable is unset, or a non-loopback address has
    /// no token.
    public static func resolve(address: String?, token: String?, workflow: HTTPSettings?,
                               environment: [String: String] = ProcessEnvironment.values) throws -> EndpointSettings? {
        let fromFile = address == nil ? workflow : nil
        guard let address = address ?? workflow?.address else { return nil }
        let at = fromFile?.location.map { "\($0): " } ?? ""
        guard let (host, port) = HTTPSettings.split(address) else {
            throw ObserveError("\(at)the --http address '\(address)' is not HOST:PORT; give one like 127.0.0.1:9464 "
                               + "(or :9464 for loopback, 0.0.0.0:9464 with --http-token for every interface)")
        }
        var resolved: String?
        if let spec = token ?? workflow?.token, !spec.isEmpty {
            do {
                resolved = try EnvironmentReference.resolve(spec, environment: environment)
            } catch {
                throw ObserveError("\(at)the endpoint's token is read from the environment variable \(error.name), which is "
                                   + "unset or empty; export \(error.name)=TOKEN, or give --http-token env:OTHER")
            }
        }
        if resolved == nil && !HTTPAccess.isLoopback(host) {
            throw ObserveError("\(at)the endpoint address \(address) is reachable from other machines, so it needs a token: "
                               + "give --http-token env:NAME (or token: in the workflow's http:), or listen on 127.0.0.1")
        }
        return EndpointSettings(host: host, port: port, token: resolved)
    }
}

/// What the endpoint allows its connections (`--http-allowed-hosts`, `--http-max-connections`,
/// `--http-idle-timeout`; docs/OBSERVE.md): the names it answers besides its own, how many
/// connections at once, and how long a connection may take to send a request head (since it
/// opened or its previous answer) and then its body.
public struct EndpointLimits: Sendable, Equatable {
    public var allowedHosts: [String]
    public var maxConnections: Int
    public var idleTimeout: Duration

    public static let defaultMaxConnections = 32
    public static let defaultIdleTimeout: Duration = .seconds(30)

    public init(allowedHosts: [String] = [], maxConnections: Int = defaultMaxConnections,
                idleTimeout: Duration = defaultIdleTimeout) {
        self.allowedHosts = allowedHosts
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
    }
}
