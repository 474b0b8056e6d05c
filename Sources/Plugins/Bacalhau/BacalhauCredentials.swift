import Engine
import Foundation

/// How requests authenticate (Bacalhau Auth v2): an API key as `Authorization: Bearer`, or a
/// user and password as `Authorization: Basic`.
///
/// The secret never leaves this type except as the header value: `description`, string
/// interpolation, `dump` and `Mirror` all show it redacted.
public enum BacalhauCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    case none
    case bearer(String)
    case basic(user: String, password: String)

    /// The `Authorization` header value, or nil.
    var authorizationHeader: String? {
        switch self {
        case .none: return nil
        case .bearer(let token): return "Bearer " + token
        case .basic(let user, let password): return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        }
    }

    /// The secret text itself, so error messages can be checked never to contain it.
    var secrets: [String] {
        switch self {
        case .none: return []
        case .bearer(let token): return [token]
        case .basic(let user, let password):
            return [password, Data("\(user):\(password)".utf8).base64EncodedString()].filter { !$0.isEmpty }
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .bearer: return "API key (redacted)"
        case .basic: return "user and password (redacted)"
        }
    }

    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .enum) }

    /// Credentials from the `api_key` option (a literal key, or `env:NAME` to read it from the
    /// environment), else `BACALHAU_API_KEY`, else `BACALHAU_API_USERNAME` and
    /// `BACALHAU_API_PASSWORD`, else what the endpoint URL carried.
    public static func resolve(apiKey option: String?, environment: [String: String],
                               fromEndpoint: BacalhauCredentials) throws(BacalhauError) -> BacalhauCredentials
    {
        if let option, !option.isEmpty {
            do {
                return .bearer(try EnvironmentReference.resolve(option, environment: environment))
            } catch {
                throw .configuration("option 'api_key' reads the environment variable '\(error.name)', which is not set")
            }
        }
        if let key = environment["BACALHAU_API_KEY"], !key.isEmpty { return .bearer(key) }
        if let user = environment["BACALHAU_API_USERNAME"], !user.isEmpty {
            return .basic(user: user, password: environment["BACALHAU_API_PASSWORD"] ?? "")
        }
        return fromEndpoint
    }
}
