import ArgumentParser
import ArrowHTTP
import Engine
import Foundation

/// The HTTP client side the commands that talk to a running Hypha share (`send`, `top`, `tap`):
/// one check of the URL given and one rule for the token.
enum HTTPClientArguments {
    /// Throws a `ValidationError` unless `url` is an http(s) URL with a host; `example` says
    /// what to give instead.
    static func checkURL(_ url: String, example: String) throws {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
              parsed.host != nil else {
            throw ValidationError("'\(url)' is not an http(s) URL; give \(example)")
        }
    }

    /// The token given, else the `HYPHA_TOKEN` environment variable.
    static func token(_ given: String?) -> String? { given ?? ProcessEnvironment.values["HYPHA_TOKEN"] }
}

/// A running Hypha's observability endpoint (`hypha run --http`), as `hypha top` and `hypha tap`
/// take it: its URL and its token.
struct EndpointArguments: ParsableArguments {
    @Argument(help: "The running Hypha's observability endpoint (hypha run --http), like http://127.0.0.1:9464.")
    var url: String

    @Option(help: "The endpoint's bearer token (the run's --http-token; default: the HYPHA_TOKEN environment variable).")
    var token: String?

    func validate() throws {
        try HTTPClientArguments.checkURL(url, example: "the endpoint's URL, like http://127.0.0.1:9464")
    }

    /// The endpoint's root, without a trailing slash.
    var base: String {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    /// A client to talk to the endpoint with (shut it down when done); exits 1 saying why when
    /// none can be made.
    func makeClient() throws -> ArrowHTTPClient {
        do {
            return try ArrowHTTPClient()
        } catch {
            Console.error("hypha: \(error)")
            throw ExitCode(1)
        }
    }

    /// GETs `path` (under the endpoint's root) with the token.
    func get(_ path: String, with client: ArrowHTTPClient, timeout: Duration = .seconds(10)) async throws -> ArrowHTTPClient.Reading {
        try await client.get(base + path, token: HTTPClientArguments.token(token), timeout: timeout)
    }

    /// What a refusal from the endpoint means, and what to do: the JSON `error` of the answer,
    /// or advice for a status that comes without one.
    func refusal(_ status: Int, _ body: String) -> String {
        switch status {
        case 401: return "\(url) wants a bearer token: pass the run's --http-token with --token (or HYPHA_TOKEN)"
        case 421: return "\(url) does not answer to that host name: use the address it listens on, or start it with --http-allowed-hosts"
        default:
            if let value = try? Value(json: Data(body.utf8)), let error = value["error"]?.stringValue { return error }
            if status == 404 { return "\(url) answered 404: is it a Hypha's observability endpoint (hypha run --http)?" }
            return "\(url) answered HTTP \(status): \(SendCommand.reason(body))"
        }
    }
}
