import Foundation

/// Bacalhau Auth v2 (API.md §7) as the emulator checks it: API keys as `Bearer`, users as
/// `Basic`; `read:job` for GET and `write:job` for PUT, POST and DELETE under
/// `/api/v1/orchestrator/jobs`.
public enum EmulatorAuth {
    public struct Credential: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case token(String)
            case basic(user: String, password: String)
        }

        public var kind: Kind
        /// False for a read-only credential (`read:job` only).
        public var canWrite: Bool

        public init(kind: Kind, canWrite: Bool = true) {
            self.kind = kind
            self.canWrite = canWrite
        }

        /// `token:KEY`, `readonly-token:KEY`, `basic:USER:PASS`, `readonly-basic:USER:PASS`.
        public static func parse(_ text: String) throws(EmulatorUsageError) -> Credential {
            let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            switch parts.first {
            case "token", "readonly-token":
                guard parts.count >= 2 else { throw EmulatorUsageError("--auth token:KEY needs a key") }
                let key = parts.dropFirst().joined(separator: ":")
                guard !key.isEmpty else { throw EmulatorUsageError("--auth token:KEY needs a key") }
                return Credential(kind: .token(key), canWrite: parts[0] == "token")
            case "basic", "readonly-basic":
                guard parts.count == 3, !parts[1].isEmpty else {
                    throw EmulatorUsageError("--auth basic:USER:PASS needs a user and a password")
                }
                return Credential(kind: .basic(user: parts[1], password: parts[2]), canWrite: parts[0] == "basic")
            default:
                throw EmulatorUsageError("--auth takes token:KEY, basic:USER:PASS, readonly-token:KEY or readonly-basic:USER:PASS")
            }
        }
    }

    public enum Decision: Equatable, Sendable {
        case allowed
        case unauthorized(String)
        case forbidden(String)
    }

    /// Checks a request's `Authorization` header for a method on a protected path.
    static func check(_ header: String?, method: String, credentials: [Credential]) -> Decision {
        guard !credentials.isEmpty else { return .allowed }
        guard let header, !header.isEmpty else {
            return .unauthorized("missing authorization header; send Authorization: Bearer <api key> or Basic")
        }
        var matched: Credential?
        if header.hasPrefix("Bearer ") {
            let token = String(header.dropFirst(7))
            matched = credentials.first { $0.kind == .token(token) }
        } else if header.hasPrefix("Basic ") {
            if let data = Data(base64Encoded: String(header.dropFirst(6))),
               let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
            {
                let user = String(text[..<colon]), password = String(text[text.index(after: colon)...])
                matched = credentials.first { $0.kind == .basic(user: user, password: password) }
            }
        } else {
            return .unauthorized("unsupported authorization scheme")
        }
        guard let credential = matched else { return .unauthorized("invalid credentials") }
        let needsWrite = method != "GET" && method != "HEAD"
        if needsWrite, !credential.canWrite {
            return .forbidden("user does not have permission write:job")
        }
        return .allowed
    }

    static func mode(of credentials: [Credential]) -> String {
        credentials.isEmpty ? "none" : "v2"
    }
}
