import Engine
import Foundation
import Logging
@testable import Observe
import Synchronization
import Testing

@Suite struct EndpointSettingsTests {
    @Test func offUnlessAnAddressIsGiven() throws {
        #expect(try EndpointSettings.resolve(address: nil, token: nil, workflow: nil) == nil)
        #expect(try EndpointSettings.resolve(address: nil, token: "x", workflow: nil) == nil)
    }

    @Test func aPortAloneIsLoopback() throws {
        #expect(try EndpointSettings.resolve(address: "9464", token: nil, workflow: nil)
                == EndpointSettings(host: "127.0.0.1", port: 9464, token: nil))
        #expect(try EndpointSettings.resolve(address: ":0", token: nil, workflow: nil)
                == EndpointSettings(host: "127.0.0.1", port: 0, token: nil))
        #expect(try EndpointSettings.resolve(address: "[::1]:80", token: nil, workflow: nil)
                == EndpointSettings(host: "::1", port: 80, token: nil))
    }

    @Test func anOpenAddressNeedsAToken() throws {
        #expect(throws: ObserveError.self) { try EndpointSettings.resolve(address: "0.0.0.0:9464", token: nil, workflow: nil) }
        #expect(throws: ObserveError.self) { try EndpointSettings.resolve(address: "10.1.2.3:9464", token: "", workflow: nil) }
        #expect(try EndpointSettings.resolve(address: "0.0.0.0:9464", token: "t", workflow: nil)?.token == "t")
    }

    @Test func tokensFromTheEnvironment() throws {
        let env = ["TOKEN_A": "abc"]
        #expect(try EndpointSettings.resolve(address: "1", token: "env:TOKEN_A", workflow: nil, environment: env)?.token == "abc")
        do {
            _ = try EndpointSettings.resolve(address: "1", token: "env:TOKEN_B", workflow: nil, environment: env)
            Issue.record("an unset variable was accepted")
        } catch let error as ObserveError {
            #expect(error.description.contains("TOKEN_B"))
        }
    }

    @Test func theCommandLineWinsOverTheWorkflow() throws {
        let file = HTTPSettings(address: "0.0.0.0:1", token: "env:TOKEN_A")
        #expect(try EndpointSettings.resolve(address: nil, token: nil, workflow: file, environment: ["TOKEN_A": "z"])
                == EndpointSettings(host: "0.0.0.0", port: 1, token: "z"))
        #expect(try EndpointSettings.resolve(address: "2", token: nil, workflow: file, environment: ["TOKEN_A": "z"])
                == EndpointSettings(host: "127.0.0.1", port: 2, token: "z"))
    }

    @Test func malformedAddresses() {
        for bad in ["", "host", "host:", "host:70000", "a b:1", "::1:80", "[::1]80", "x/y:1", "-1"] {
            #expect(HTTPSettings.split(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct JSONLogHandlerTests {
    @Test func oneObjectPerLineWithNodeJobAndFields() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "t") { label in JSONLogHandler(label: label) { line in lines.withLock { $0.append(line) } } }
        logger[metadataKey: "node"] = "extract"
        logger.info("job \"a\"\nran", metadata: ["job": "a.zip", "exit_code": "0", "tags": ["x", "y"]])
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "info")
        #expect(object["node"] as? String == "extract")
        #expect(object["job"] as? String == "a.zip")
        #expect(object["message"] as? String == "job \"a\"\nran")
        #expect(object["exit_code"] as? String == "0")
        #expect(object["tags"] as? [String] == ["x", "y"])
        let time = try #require(object["time"] as? String)
        #expect(time.count == 24 && time.hasSuffix("Z"))
        #expect(line.hasPrefix("{\"time\":"))
    }

    @Test func controlCharactersAreEscaped() throws {
        let quoted = JSONLogHandler.quoted("a\u{1}b\u{7F}\\")
        #expect(quoted == "\"a\\u0001b\u{7F}\\\\\"", "control characters escaped; DEL needs no escape in JSON")
        let decoded = try JSONSerialization.jsonObject(with: Data("[\(quoted)]".utf8)) as? [String]
        #expect(decoded == ["a\u{1}b\u{7F}\\"])
    }
}
