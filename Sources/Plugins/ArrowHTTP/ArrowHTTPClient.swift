import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOSSL
import Synchronization

/// Posts Arrow IPC streams to an `arrow-http` source: the one client `arrow-http-sink` and
/// `hypha send` share (AsyncHTTPClient, as the bacalhau plugin uses). HTTPS servers are
/// verified against the system's CAs, or only against `ca` (a PEM file) for a private CA.
public final class ArrowHTTPClient: Sendable {
    /// The client, made at the first post (so one never used needs no shutdown).
    private let made = Mutex<HTTPClient?>(nil)
    private let configuration: HTTPClient.Configuration
    /// The private CA file, when one is given (named in verification errors).
    public let ca: String?

    /// A client that trusts the system's CAs, or only the certificates in the PEM file `ca`.
    /// Throws an `ArrowHTTPClientError` naming the file when it cannot be read. A connection
    /// that cannot be made fails the post at once (refused, certificate not verified), rather
    /// than being tried again until the timeout: callers retry as they see fit.
    public init(ca: String? = nil) throws {
        self.ca = ca
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        if let ca {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try Self.certificates(ca, what: "CA certificate"))
            configuration.tlsConfiguration = tls
        }
        self.configuration = configuration
    }

    var client: HTTPClient {
        made.withLock { client in
            if let client { return client }
            let new = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            client = new
            return new
        }
    }

    /// Releases the client's connections; the next post makes a new client.
    public func shutdown() async {
        let client = made.withLock { client in
            defer { client = nil }
            return client
        }
        try? await client?.shutdown()
    }

    deinit {
        // A client still open (its user did not call shutdown) is closed in the background.
        made.withLock { $0 }?.shutdown { _ in }
    }

    /// What the server answered.
    public struct Answer: Sendable {
        public var status: Int
        /// The body as text (at most 64 KiB).
        public var body: String
        /// `Retry-After` in seconds, when given.
        public var retryAfter: Double?
        public var succeeded: Bool { (200..<300).contains(status) }
    }

    /// POSTs `body` (an Arrow IPC stream) to `url`, with `Authorization: Bearer token` when a
    /// token is given. Throws an `ArrowHTTPClientError` saying what went wrong for a connection
    /// that could not be made (refused, TLS verification failed, timed out).
    public func post(_ body: [UInt8], to url: String, token: String?, timeout: Duration) async throws -> Answer {
        try await post(ByteBuffer(bytes: body), to: url, token: token, timeout: timeout)
    }

    /// The same with the body in a buffer, which a sender that retries builds once (a buffer is
    /// shared, not copied, by every request that sends it).
    public func post(_ body: ByteBuffer, to url: String, token: String?, timeout: Duration) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: ArrowHTTPSourcePlugin.contentType)
        if let token, !token.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(body)
        do {
            let response = try await client.execute(request, timeout: TimeAmount(timeout))
            let answer = try await response.body.collect(upTo: 64 * 1024)
            return Answer(status: Int(response.status.code), body: String(buffer: answer),
                          retryAfter: RetryPolicy.retryAfter(response.headers.first(name: "Retry-After")))
        } catch let error as CancellationError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw ArrowHTTPClientError(describing: error, url: url, ca: ca)
        }
    }

    /// The certificates in a PEM file; an error naming the file and `what` it should be.
    static func certificates(_ path: String, what: String) throws -> [NIOSSLCertificate] {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ArrowHTTPClientError("cannot read the \(what) '\(path)': no such file or not readable; give a PEM file")
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw ArrowHTTPClientError("the \(what) '\(path)' is not a PEM certificate (\(error)); give a file with "
                                       + "'-----BEGIN CERTIFICATE-----' blocks")
        }
        guard !certificates.isEmpty else {
            throw ArrowHTTPClientError("the \(what) '\(path)' holds no certificate; give a file with '-----BEGIN CERTIFICATE-----' blocks")
        }
        return certificates
    }

    /// The private key in a PEM file; an error naming the file.
    static func privateKey(_ path: String) throws -> NIOSSLPrivateKey {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ArrowHTTPClientError("cannot read the TLS key '\(path)': no such file or not readable; give a PEM private key file")
        }
        do {
            return try NIOSSLPrivateKey(file: path, format: .pem)
        } catch {
            throw ArrowHTTPClientError("the TLS key '\(path)' is not a PEM private key (\(error)); give an unencrypted "
                                       + "'-----BEGIN PRIVATE KEY-----' file")
        }
    }
}

/// Why a post could not be made, in words that say what to do.
public struct ArrowHTTPClientError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// The server's certificate did not verify.
    public var verification = false

    init(_ description: String) { self.description = description }

    /// `error` of a request to `url` in words: `verb` says what was asked ("post to"), and
    /// `whenRefused` what to check when the connection was refused.
    init(describing error: any Error, url: String, ca: String?, verb: String = "post to",
         whenRefused: String = "is the Hypha with the arrow-http source running, on that host and port?") {
        let text = String(describing: error)
        let lower = text.lowercased()
        if lower.contains("certificate_verify_failed") || lower.contains("certificate verify failed")
            || lower.contains("failedtovalidatehostname") || lower.contains("unable to get local issuer")
            || lower.contains("self signed") || lower.contains("self-signed")
        {
            verification = true
            description = "TLS verification of \(url) failed: the server's certificate is not signed by "
                + (ca.map { "the CA in '\($0)'" } ?? "a CA this machine trusts")
                + " or does not name that host (\(text)); pass the CA that signed it with `ca` (hypha send: --ca FILE)"
        } else if lower.contains("connection refused") || lower.contains("econnrefused") || lower.contains("errno: 111") {
            description = "cannot connect to \(url): connection refused; \(whenRefused)"
        } else if lower.contains("remoteconnectionclosed") && url.lowercased().hasPrefix("http://") {
            description = "\(url) closed the connection without answering; if that node serves HTTPS (tls_cert), "
                + "use an https:// URL"
        } else if lower.contains("timeout") || lower.contains("timedout") || lower.contains("deadline") {
            description = "no answer from \(url) in time (\(text)); is the server up and reachable?"
        } else if lower.contains("ssl") || lower.contains("tls") || lower.contains("handshake") {
            verification = true
            description = "TLS with \(url) failed (\(text)); an https:// URL needs a server with TLS (tls_cert, tls_key), "
                + "and a private CA needs `ca` (hypha send: --ca FILE)"
        } else {
            description = "cannot \(verb) \(url): \(text)"
        }
    }
}
