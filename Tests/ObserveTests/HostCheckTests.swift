@testable import HTTPServing
import Testing

/// Which `Host` the HTTP servers answer (DNS rebinding; docs/OBSERVE.md, "Host").
@Suite(.timeLimit(.minutes(1))) struct HostCheckTests {
    func allows(_ check: HostCheck, _ authority: String?) -> Bool { check.refusal(authority, server: "s") == nil }

    @Test func aLoopbackServerAnswersLoopbackNamesAndTheConfiguredOnes() {
        let check = HostCheck(boundTo: "127.0.0.1", allowed: ["Hypha.Example."], hint: "add it")
        for good in ["127.0.0.1:8787", "localhost:8787", "LOCALHOST", "[::1]:8787", "127.0.0.2", "app.localhost:1",
                     "hypha.example:443", "hypha.example", nil] {
            #expect(allows(check, good), "\(good ?? "no Host")")
        }
        for bad in ["attacker.example:8787", "127.0.0.1.attacker.example", "localhost.attacker.example", "10.0.0.1:8787", ""] {
            #expect(!allows(check, bad), "\(bad)")
        }
        let why = check.refusal("attacker.example:8787", server: "arrow-http node 'in'") ?? ""
        #expect(why.contains("arrow-http node 'in'") && why.contains("'attacker.example:8787'") && why.contains("add it"), "\(why)")
    }

    @Test func anotherAddressAnswersItselfAndEveryInterfaceAnswersAnyHostUnlessNamesAreGiven() {
        let lan = HostCheck(boundTo: "192.168.1.5", allowed: [], hint: "")
        #expect(allows(lan, "192.168.1.5:8787"))
        #expect(!allows(lan, "localhost:8787") && !allows(lan, "attacker.example"))
        #expect(allows(HostCheck(boundTo: "0.0.0.0", allowed: [], hint: ""), "anything.example"))
        #expect(allows(HostCheck(boundTo: "::", allowed: [], hint: ""), "anything.example"))
        let named = HostCheck(boundTo: "0.0.0.0", allowed: ["hypha.example"], hint: "")
        #expect(allows(named, "hypha.example:8787") && allows(named, "localhost:8787"))
        #expect(!allows(named, "attacker.example"))
        #expect(allows(HostCheck(boundTo: "127.0.0.1", allowed: ["*"], hint: ""), "attacker.example"))
        let v6 = HostCheck(boundTo: "::1", allowed: [], hint: "")
        #expect(allows(v6, "[::1]:8787") && allows(v6, "localhost"))
    }
}
