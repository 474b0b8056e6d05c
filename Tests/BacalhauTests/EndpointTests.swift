import Engine
import Foundation
import Bacalhau
import Testing

@Suite(.timeLimit(.minutes(5))) struct EndpointTests {
    @Test(arguments: [
        (nil as String?, [:] as [String: String], "http://127.0.0.1:1234"),
        ("http://orchestrator:1234", [:], "http://orchestrator:1234"),
        ("https://bacalhau.example.org", [:], "https://bacalhau.example.org"),
        ("https://bacalhau.example.org/prefix/", [:], "https://bacalhau.example.org/prefix"),
        ("10.0.0.5:4321", [:], "http://10.0.0.5:4321"),
        ("orchestrator", [:], "http://orchestrator:1234"),
        (nil, ["BACALHAU_API_HOST": "bacalhau.internal"], "http://bacalhau.internal:1234"),
        (nil, ["BACALHAU_API_HOST": "bacalhau.internal", "BACALHAU_API_PORT": "443", "BACALHAU_API_TLS_USETLS": "true"],
         "https://bacalhau.internal:443"),
        (nil, ["BACALHAU_API_PORT": "9999"], "http://127.0.0.1:9999"),
        (nil, ["BACALHAU_API_HOST": "0.0.0.0"], "http://127.0.0.1:1234"),
        (nil, ["BACALHAU_API_HOST": "https://b.example.org"], "https://b.example.org"),
        ("http://explicit:1", ["BACALHAU_API_HOST": "ignored"], "http://explicit:1"),
    ])
    func resolution(option: String?, environment: [String: String], expected: String) throws {
        let (endpoint, _) = try BacalhauEndpoint.resolve(option: option, environment: environment)
        #expect(endpoint.base == expected)
    }

    @Test(arguments: ["ftp://x", "http://", "", "http://h:1/?q=1", "http://h:notaport"])
    func badEndpointsAreRefused(text: String) {
        #expect(throws: BacalhauError.self) { try BacalhauEndpoint.parse(text) }
    }

    @Test func userInfoBecomesBasicCredentialsAndLeavesTheURL() throws {
        let (endpoint, credentials) = try BacalhauEndpoint.parse("http://alice:s3cret-pass@host:1234")
        #expect(endpoint.base == "http://host:1234")
        #expect(credentials == .basic(user: "alice", password: "s3cret-pass"))
        #expect(!endpoint.description.contains("s3cret"))
    }

    @Test func badEndpointErrorsHideThePassword() {
        do {
            _ = try BacalhauEndpoint.parse("ftp://alice:s3cret-pass@host")
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains("s3cret"))
            #expect(error.description.contains("<redacted>"))
        }
    }

    @Test func credentialPrecedence() throws {
        let env = ["BACALHAU_API_KEY": "key-from-env-0123456789", "BACALHAU_API_USERNAME": "u",
                   "BACALHAU_API_PASSWORD": "p", "MY_KEY": "key-from-my-var-0123456789"]
        #expect(try BacalhauCredentials.resolve(apiKey: "literal-key-0123456789", environment: env, fromEndpoint: .none)
                == .bearer("literal-key-0123456789"))
        #expect(try BacalhauCredentials.resolve(apiKey: "env:MY_KEY", environment: env, fromEndpoint: .none)
                == .bearer("key-from-my-var-0123456789"))
        #expect(try BacalhauCredentials.resolve(apiKey: nil, environment: env, fromEndpoint: .none)
                == .bearer("key-from-env-0123456789"))
        #expect(try BacalhauCredentials.resolve(apiKey: nil, environment: ["BACALHAU_API_USERNAME": "u", "BACALHAU_API_PASSWORD": "p"],
                                                fromEndpoint: .none) == .basic(user: "u", password: "p"))
        #expect(try BacalhauCredentials.resolve(apiKey: nil, environment: [:], fromEndpoint: .none) == .none)
        #expect(throws: BacalhauError.self) {
            try BacalhauCredentials.resolve(apiKey: "env:UNSET_VARIABLE", environment: [:], fromEndpoint: .none)
        }
    }

    @Test func credentialsNeverPrint() throws {
        let secret = "super-secret-api-key-0123456789"
        for credentials in [BacalhauCredentials.bearer(secret), .basic(user: "bob", password: secret)] {
            var dumped = ""
            dump(credentials, to: &dumped)
            for text in ["\(credentials)", String(reflecting: credentials), dumped] {
                #expect(!text.contains(secret), "\(text)")
            }
        }
        let (endpoint, _) = try BacalhauEndpoint.parse("http://h:1")
        let client = BacalhauClient(endpoint: endpoint, credentials: .bearer(secret))
        var dumped = ""
        dump(client, to: &dumped)
        #expect(!dumped.contains(secret))
        #expect(!"\(client)".contains(secret))
    }

    @Test func retryDelaysGrowAndStayBounded() {
        let policy = RetryPolicy(maxAttempts: 10, initialDelay: 0.1, maxDelay: 2)
        let highest = (1...9).map { policy.delay(beforeRetry: $0, random: { $0.upperBound }) }
        let lowest = (1...9).map { policy.delay(beforeRetry: $0, random: { $0.lowerBound }) }
        #expect(highest == [0.1, 0.2, 0.4, 0.8, 1.6, 2, 2, 2, 2])
        #expect(lowest == highest.map { $0 / 2 })
        #expect(policy.delay(beforeRetry: 1, retryAfter: 3, random: { $0.upperBound }) == 3)
        #expect(policy.worstCaseWait < 15)
    }
}
