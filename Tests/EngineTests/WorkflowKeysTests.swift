import Engine
import Testing

/// The workflow's own keys (`retry`, `retention`, `http` and the top of the file) are read
/// through their declarations in `WorkflowKeys`: defaults, checks and errors come from there.
@Suite(.timeLimit(.minutes(2))) struct WorkflowKeysTests {
    let loader = WorkflowLoader(registry: testRegistry)
    let nodes = "nodes:\n  src: { plugin: numbers, count: 1 }\n"

    func load(_ yaml: String) -> Result<WorkflowPlan, Diagnostics> {
        do { return .success(try loader.load(text: yaml, path: "w.yml")) } catch { return .failure(error) }
    }

    func errors(_ yaml: String) -> [String] {
        guard case .failure(let diagnostics) = load(yaml) else { return [] }
        return diagnostics.all.map(\.description)
    }

    @Test func everyDeclaredTopLevelKeyIsReadByTheParser() {
        let samples: [String: String] = [
            "name": "name: w\n", "description": "description: d\n", "jobstore": "jobstore: js\n", "state_dir": "state_dir: s\n",
            "retention": "retention: { runs: 3 }\n", "http": "http: 127.0.0.1:1\n", "vars": "vars: { a: 1 }\n",
            "nodes": "", "profiles": "profiles: { p: { src: { count: 2 } } }\n",
        ]
        #expect(Set(samples.keys) == Set(WorkflowKeys.topLevelNames))
        for key in WorkflowKeys.topLevelNames {
            #expect(errors((samples[key] ?? "") + nodes) == [], "\(key)")
        }
        let unknown = errors("nmae: x\n" + nodes)
        #expect(unknown.count == 1)
        #expect(unknown.first?.contains("w.yml:1:1: error: unknown key 'nmae' (did you mean 'name'?)") == true, "\(unknown)")
    }

    @Test func defaultsComeFromTheDeclarations() throws {
        let plan = try loader.load(text: "retention: { days: 2 }\nhttp: { token: t }\n"
                                   + "nodes:\n  src: { plugin: numbers, count: 1, retry: 5 }\n", path: "w.yml")
        #expect(plan.info.retention == Retention(runs: 20, days: 2))
        #expect(plan.info.http == HTTPSettings(address: "127.0.0.1:9464", token: "t"))
        let retry = try #require(plan.node("src")?.config.retry)
        #expect(retry == RetrySettings(attempts: 5, backoff: 2, maxBackoff: 60))
        let full = try loader.load(text: "nodes:\n  src: { plugin: numbers, count: 1, retry: { backoff: 500ms, max_backoff: 10s } }\n",
                                   path: "w.yml")
        #expect(full.node("src")?.config.retry == RetrySettings(attempts: 3, backoff: 0.5, maxBackoff: 10))
    }

    @Test func valuesAreCheckedAgainstTheirDeclarationWithTheirPlace() {
        let attempts = errors("nodes:\n  src: { plugin: numbers, count: 1, retry: { attempts: 0 } }\n")
        #expect(attempts == ["w.yml:2:56: error: 'retry.attempts' of node 'src' must be at least 1, got 0"], "\(attempts)")
        let backoff = errors("nodes:\n  src: { plugin: numbers, count: 1, retry: { backoff: soon } }\n")
        #expect(backoff.first?.contains("'retry.backoff' of node 'src' must be a duration") == true, "\(backoff)")
        let days = errors("retention:\n  days: 0\n" + nodes)
        #expect(days == ["w.yml:2:9: error: 'retention.days' must be more than 0, got 0"], "\(days)")
        let typo = errors("retention: { rnus: 3 }\n" + nodes)
        #expect(typo.first?.contains("unknown key 'rnus' in 'retention' (did you mean 'runs'?); it takes runs, days") == true, "\(typo)")
        let shape = errors("retention: [1]\n" + nodes)
        #expect(shape.first?.contains("'retention' must be a mapping like { runs: 20, days: 30 }") == true, "\(shape)")
        let address = errors("http:\n  address: nowhere\n" + nodes)
        #expect(address.first?.hasPrefix("w.yml:2:12: error: 'http.address' must be HOST:PORT") == true, "\(address)")
    }
}
