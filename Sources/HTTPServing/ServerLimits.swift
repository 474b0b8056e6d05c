import Engine
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// What every HTTP server of Hypha's (the arrow-http source, the observability endpoint) allows
/// one connection and all of them together, so that clients that connect and stall, drip a
/// request or drip a body nobody will read cannot hold the process's descriptors:
///
/// - a connection must send a whole request head within `idleTimeout` of opening or of its
///   previous answer (this bounds both the idle time and the time to send a head);
/// - a request's body must end within `bodyTimeout` of its head;
/// - a request answered before its body was read whole (a refusal: 401, 403, 413, 503, ...)
///   is answered with `Connection: close`, and the connection is closed after the answer: its
///   output at once, the whole of it once the client closes or after `linger`, and the rest of
///   the body is dropped unread;
/// - at most `maxConnections` connections are open at once; past that, new ones wait in the
///   kernel's queue (holding no descriptor of Hypha's) until one closes, and a line says so;
/// - a request whose `Host` is not a name of this server is answered 421 (``HostCheck``).
public struct ServerLimits: Sendable {
    public var idleTimeout: Duration
    public var bodyTimeout: Duration
    public var maxConnections: Int
    /// Where the connection limit is set, for the warning: "max_connections".
    public var maxConnectionsSetting: String
    public var hosts: HostCheck
    /// Who is speaking in log lines and answers, like "arrow-http node 'incoming'".
    public var server: String
    /// How long a connection closed after a refusal drains what the client still sends,
    /// so the client reads the answer before the socket is reset.
    public var linger: Duration
    let logger: Logger

    public init(server: String, idleTimeout: Duration, bodyTimeout: Duration, maxConnections: Int, maxConnectionsSetting: String,
                hosts: HostCheck, logger: Logger, linger: Duration = .seconds(1)) {
        self.server = server
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsSetting = maxConnectionsSetting
        self.hosts = hosts
        self.logger = logger
        self.linger = linger
    }

    /// The HTTP/1 server with these limits on every connection (wrap it with
    /// `HTTPServerBuilder.tls` for HTTPS).
    public func http1() -> HTTPServerBuilder {
        let limits = self
        // Hummingbird's own idle timeout starts again at every body part, so a dripping body
        // would keep it from firing: the guard's timers replace it.
        return .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuard(limits)], idleTimeout: nil))
    }

    /// The application's configuration: the address and the connection limit.
    public func configuration(host: String, port: Int) -> ApplicationConfiguration {
        ApplicationConfiguration(address: .hostname(host, port: port), serverName: "hypha",
                                 availableConnectionsDelegate: ConnectionLimit(self))
    }
}

/// The connection limit: Hummingbird stops accepting while it is reached, and a line says so,
/// at most once a minute.
struct ConnectionLimit: AvailableConnectionsDelegate {
    let limit: Int
    var open = 0
    let notice: RateLimitedNotice

    init(_ limits: ServerLimits) {
        limit = limits.maxConnections
        notice = RateLimitedNotice(
            logger: limits.logger, every: .seconds(60),
            "\(limits.server) has \(limits.maxConnections) connections open, its limit: new connections wait until one "
                + "closes (said at most once a minute). If these are real clients, raise \(limits.maxConnectionsSetting)")
    }

    mutating func connectionOpened() { open += 1 }
    mutating func connectionClosed() { open -= 1 }

    func isAcceptingNewConnections() -> Bool {
        guard open >= limit else { return true }
        notice.say()
        return false
    }
}

/// A warning logged at most once per interval, however often it is due.
final class RateLimitedNotice: Sendable {
    let logger: Logger
    let interval: Duration
    let message: String
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    init(logger: Logger, every interval: Duration, _ message: String) {
        self.logger = logger
        self.interval = interval
        self.message = message
    }

    func say() {
        let now = ContinuousClock.now
        let due = last.withLock { last in
            if let previous = last, now - previous < interval { return false }
            last = now
            return true
        }
        if due { logger.warning("\(message)") }
    }
}
