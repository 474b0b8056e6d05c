import BacalhauClient
import Engine
import Foundation
import Synchronization

/// `bacalhau-bench --endpoint URL --jobs N --concurrency C --mode put|ensure|ensure-lookup --run NAME`
///
/// Submits N distinct noop jobs named NAME-0 … NAME-(N-1), labelled `hypha-bench=NAME`,
/// through the `bacalhau` plugin's client (C workers sharing one client with C connections)
/// and prints one JSON line: submissions per second and errors. `run.sh` checks on the
/// server afterwards that each name was created exactly once (verify.py).
/// Counters shared by the workers.
final class Shared: Sendable {
    let next = Atomic<Int>(0)
    let errors = Mutex<[String]>([])
}

/// A distinct noop job per index, labelled with the run.
func spec(_ run: String, _ index: Int) -> Record {
    Record([("Name", .string("\(run)-\(index)")), ("Type", "batch"), ("Count", 1),
            ("Labels", .map(Record([("hypha-bench", .string(run))]))),
            ("Tasks", [.map(Record([("Name", "main"), ("Engine", .map(Record([("Type", "noop")])))]))])])
}

@main
struct BenchMain {
    static func main() async {
        var endpoint = "http://127.0.0.1:1234"
        var jobs = 5000
        var concurrency = 16
        var mode = "put"
        var run = "bench-\(UInt32.random(in: 0...UInt32.max))"
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--endpoint": endpoint = arguments.next() ?? endpoint
            case "--jobs": jobs = arguments.next().flatMap(Int.init) ?? jobs
            case "--concurrency": concurrency = arguments.next().flatMap(Int.init) ?? concurrency
            case "--mode": mode = arguments.next() ?? mode
            case "--run": run = arguments.next() ?? run
            default:
                FileHandle.standardError.write(Data("usage: bacalhau-bench --endpoint URL --jobs N --concurrency C --mode put|ensure|ensure-lookup --run NAME\n".utf8))
                exit(2)
            }
        }
        guard ["put", "ensure", "ensure-lookup"].contains(mode) else {
            FileHandle.standardError.write(Data("--mode is put, ensure or ensure-lookup\n".utf8))
            exit(2)
        }
        let parsed: BacalhauEndpoint
        do {
            (parsed, _) = try BacalhauEndpoint.parse(endpoint)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(2)
        }
        let client = BacalhauClient(endpoint: parsed, maxConnections: concurrency)
        let shared = Shared()
        let (total, workers, submitMode, runName) = (jobs, concurrency, mode, run)

        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    while true {
                        let index = shared.next.add(1, ordering: .relaxed).oldValue
                        guard index < total else { return }
                        do {
                            if submitMode == "put" {
                                if case .unknown(let problem) = try await client.put(spec(runName, index)) {
                                    shared.errors.withLock { $0.append(problem) }
                                }
                            } else {
                                // ensure: a node with no earlier jobs (PUT first); ensure-lookup:
                                // one that has some, e.g. after a restart (a lookup before each PUT).
                                _ = try await client.ensureSubmitted(spec(runName, index),
                                                                     lookUpFirst: submitMode == "ensure-lookup")
                            }
                        } catch {
                            shared.errors.withLock { $0.append("\(error)") }
                        }
                    }
                }
            }
        }
        let elapsed = started.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18

        let failures = shared.errors.withLock { $0 }
        let line = "{\"client\":\"swift-ahc\",\"mode\":\"\(mode)\",\"run\":\"\(run)\","
            + "\"jobs\":\(jobs),\"concurrency\":\(concurrency),\"seconds\":\(String(format: "%.3f", seconds)),"
            + "\"per_second\":\(Int(Double(jobs) / seconds)),\"errors\":\(failures.count)}"
        print(line)
        if let first = failures.first { FileHandle.standardError.write(Data("first error: \(first)\n".utf8)) }
        exit(failures.isEmpty ? 0 : 1)
    }
}
