import Engine
import Testing

@Suite(.timeLimit(.minutes(5))) struct HTTPAccessTests {
    @Test func loopbackIsAnAddressOrNameOfThisMachineOnly() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "a.localhost", "::1", "[::1]", "::ffff:127.0.0.1"] {
            #expect(HTTPAccess.isLoopback(host), "\(host)")
        }
        for host in ["0.0.0.0", "10.0.0.1", "::", "127.evil.example", "localhost.example", "example.org", ""] {
            #expect(!HTTPAccess.isLoopback(host), "\(host)")
        }
    }

    @Test func theBearerTokenMustMatchWhole() {
        #expect(HTTPAccess.bearerMatches("Bearer s3cret", token: "s3cret"))
        #expect(!HTTPAccess.bearerMatches("Bearer s3cre", token: "s3cret"))
        #expect(!HTTPAccess.bearerMatches("Bearer s3cret!", token: "s3cret"))
        #expect(!HTTPAccess.bearerMatches("s3cret", token: "s3cret"))
        #expect(!HTTPAccess.bearerMatches(nil, token: "s3cret"))
    }
}
