import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

/// Header names the emulator reads or writes.
enum Header {
    static let requestID = HTTPField.Name("X-Request-Id")
    static let gitVersion = HTTPField.Name("X-Bacalhau-Git-Version")
}

/// Everything Bacalhau's middleware chain does before a handler (API.md §1), plus the
/// injected faults: request IDs, the client-version check, the rate limit, faults, auth,
/// and error bodies in Bacalhau's shape for every failure (unknown routes included).
struct EmulatorMiddleware: RouterMiddleware {
    typealias Context = EmulatorContext
    let emulator: BacalhauEmulator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        emulator.counters.update { $0.requests += 1 }
        let clientRequestID = Header.requestID.flatMap { request.headers[$0] }
        let requestID = clientRequestID ?? UUID().uuidString.lowercased()
        let path = request.uri.path
        let isAPI = path.hasPrefix("/api/v1/orchestrator")
        var fault = FaultInjector.Fault.none
        var response: Response
        do {
            try checkClientVersion(request)
            if !emulator.limiter.allow() {
                emulator.counters.update { $0.rateLimited += 1 }
                throw APIError.rateLimited
            }
            if isAPI {
                fault = emulator.faults.next()
                switch fault {
                case .fail(let status):
                    emulator.counters.update { $0.injectedFailures += 1 }
                    throw status == 429 ? APIError.rateLimited : status == 503 ? APIError.unavailable : APIError.internalServerError
                case .dropBefore:
                    emulator.counters.update { $0.droppedBefore += 1 }
                    return drop(context)
                case .dropAfter, .none:
                    break
                }
                try authorize(request)
            }
            response = try await next(request, context)
        } catch let error as APIError {
            response = EmulatorResponses.error(error, clientRequestID: clientRequestID)
        } catch let error as HTTPError where error.status == .notFound {
            response = EmulatorResponses.error(.unknownRoute(request.method.rawValue, path), clientRequestID: clientRequestID)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            response = EmulatorResponses.error(.tooLarge(context.maxUploadSize), clientRequestID: clientRequestID)
        } catch {
            response = EmulatorResponses.error(.internalServerError, clientRequestID: clientRequestID)
        }
        if isAPI, emulator.configuration.delayMilliseconds > 0 {
            try? await Task.sleep(for: .milliseconds(emulator.configuration.delayMilliseconds))
        }
        if fault == .dropAfter {
            emulator.counters.update { $0.droppedAfter += 1 }
            return drop(context)
        }
        if let name = Header.requestID { response.headers[name] = requestID }
        return response
    }

    /// Closes the connection; the response returned is never written.
    func drop(_ context: Context) -> Response {
        context.channel.close(mode: .all, promise: nil)
        return Response(status: .internalServerError)
    }

    /// `X-Bacalhau-Git-Version`: absent is fine; unparsable is 400; older than v1.4.0 is 403.
    func checkClientVersion(_ request: Request) throws(APIError) {
        guard let name = Header.gitVersion, let text = request.headers[name] else { return }
        guard let version = Semver(text) else {
            var error = APIError(status: 400, message: "", code: "")
            error.customBody = .obj(("Error", .str("failed to parse client version \(text)")))
            throw error
        }
        if version < Semver(major: 1, minor: 4, patch: 0) {
            var error = APIError(status: 403, message: "", code: "")
            error.customBody = .obj(("Error", .str("client version is outdated; update your client")),
                                    ("MinVersion", .str("v1.4.0")), ("ClientVersion", .str(text)),
                                    ("ServerVersion", .str(EmulatorResponses.serverVersion)))
            throw error
        }
    }

    func authorize(_ request: Request) throws(APIError) {
        let credentials = emulator.configuration.auth
        guard !credentials.isEmpty else { return }
        switch EmulatorAuth.check(request.headers[.authorization], method: request.method.rawValue, credentials: credentials) {
        case .allowed:
            return
        case .unauthorized(let message):
            emulator.counters.update { $0.unauthorized += 1 }
            throw APIError.unauthorized(message)
        case .forbidden(let message):
            emulator.counters.update { $0.forbidden += 1 }
            throw APIError.forbidden(message)
        }
    }
}

/// A semantic version as Bacalhau parses client versions (`v1.9.3`, `1.4.0-rc1`).
struct Semver: Comparable {
    var major: Int, minor: Int, patch: Int

    init(major: Int, minor: Int, patch: Int) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    init?(_ text: String) {
        var core = Substring(text.trimmingCharacters(in: .whitespaces))
        if core.hasPrefix("v") { core = core.dropFirst() }
        core = core.prefix { $0 != "-" && $0 != "+" }
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let a = Int(parts[0]), let b = Int(parts[1]), let c = Int(parts[2]),
              a >= 0, b >= 0, c >= 0
        else { return nil }
        major = a
        minor = b
        patch = c
    }

    static func < (l: Semver, r: Semver) -> Bool {
        (l.major, l.minor, l.patch) < (r.major, r.minor, r.patch)
    }
}

/// Building JSON answers.
enum EmulatorResponses {
    static let serverVersion = "v1.9.3"

    static func json(_ value: JSON, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: value.serialized())))
    }

    static func error(_ error: APIError, clientRequestID: String?) -> Response {
        json(error.body(clientRequestID: clientRequestID), status: HTTPResponse.Status(code: error.status))
    }
}
