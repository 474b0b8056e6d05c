import BacalhauEmulatorKit
import Engine
import Foundation
import Bacalhau
import Testing

/// The HTTP transport under BacalhauClient: timeouts and TLS failures.
@Suite(.timeLimit(.minutes(2))) struct TransportTests {
    /// A PUT that outlives `requestTimeout` is an unclear answer (`.unknown`), never an error
    /// or a hang: `ensureSubmitted` then looks the job up before any second PUT.
    @Test func aRequestPastItsTimeoutIsAnUnclearAnswer() async throws {
        try await withEmulator({ $0.delayMilliseconds = 2000 }) { running in
            let (endpoint, _) = try BacalhauEndpoint.parse(running.endpoint)
            let api = BacalhauClient(endpoint: endpoint, retry: fastRetry, requestTimeout: 0.1)
            let outcome = try await api.put(noopSpec(name: "slow"))
            guard case .unknown(let problem) = outcome else {
                Issue.record("expected an unclear answer, got \(outcome)")
                return
            }
            #expect(problem.contains("timed out"), "\(problem)")
        }
    }

    /// https goes through TLS: a server whose certificate is not trusted fails at once (not
    /// retried), saying so, without the key in the message.
    @Test(.enabled(if: TLSServer.openssl != nil, "no openssl to make a certificate and serve TLS (apt-get install openssl)"))
    func anUntrustedCertificateFailsAtOnce() async throws {
        // Retries are allowed: a TLS failure taken for a transient one would end as "did not
        // answer usefully after 3 attempts", not as the TLS failure itself.
        let server = try #require(try await TLSServer.start())
        defer { server.stop() }
        let key = "tls-secret-key-0123456789"
        let (endpoint, _) = try BacalhauEndpoint.parse("https://127.0.0.1:\(server.port)")
        let retry = RetryPolicy(maxAttempts: 3, initialDelay: 0.01, maxDelay: 0.01)
        let api = BacalhauClient(endpoint: endpoint, credentials: .bearer(key), retry: retry, requestTimeout: 2)
        do {
            _ = try await api.job("x")
            Issue.record("expected a TLS failure")
        } catch let error as BacalhauError {
            guard case .transport(_, let message) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(message.contains("TLS failed"), "\(message)")
            #expect(!error.description.contains(key))
        }
    }
}

/// `openssl s_server` with a fresh self-signed certificate on a free port.
struct TLSServer {
    let process: Process
    let folder: URL
    let port: Int

    static let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func start() async throws -> TLSServer? {
        guard let openssl else { return nil }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hypha-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let make = Process()
        make.executableURL = URL(fileURLWithPath: openssl)
        make.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                          "-keyout", folder.appendingPathComponent("key.pem").path,
                          "-out", folder.appendingPathComponent("cert.pem").path]
        make.standardError = FileHandle.nullDevice
        make.standardOutput = FileHandle.nullDevice
        try make.run()
        while make.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        guard make.terminationStatus == 0 else { return nil }
        // A free port: bind one, release it, hand it to openssl.
        let held = try BoundPort()
        let port = held.port
        held.release()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: openssl)
        server.arguments = ["s_server", "-quiet", "-www", "-accept", "127.0.0.1:\(port)",
                            "-cert", folder.appendingPathComponent("cert.pem").path,
                            "-key", folder.appendingPathComponent("key.pem").path]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        // Wait until it accepts connections (it prints nothing with -quiet).
        for _ in 0..<200 where !canConnect(port) { try await Task.sleep(for: .milliseconds(10)) }
        return TLSServer(process: server, folder: folder, port: port)
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)  // s_server outlives SIGTERM while it waits in accept
        try? FileManager.default.removeItem(at: folder)
    }

    static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// A loopback port bound but not listening: connecting to it is refused until `release()`.
struct BoundPort {
    let fd: Int32
    let port: Int

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { [fd] in
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard fd >= 0, bound else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func release() { close(fd) }
}
