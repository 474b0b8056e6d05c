import Foundation

/// How an emulator runs: where it listens, what it checks, and which faults it injects.
public struct EmulatorConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (printed at start).
    public var port = 1234
    /// Fraction of orchestrator requests answered with an injected 429, 500 or 503, without
    /// doing anything.
    public var failRate = 0.0
    /// Fraction of orchestrator requests whose connection is closed with no answer; half
    /// before the request is handled, half after (the answer to work that was done is lost).
    public var dropRate = 0.0
    /// Milliseconds added before every orchestrator answer.
    public var delayMilliseconds = 0
    /// A JSON-lines journal of jobs: a restarted emulator keeps them.
    public var stateFile: String?
    /// Accepted credentials; empty means no auth (Bacalhau's default).
    public var auth: [EmulatorAuth.Credential] = []
    /// Requests per second before 429 (Bacalhau: 1000); 0 turns the limit off.
    public var rateLimit = 1000
    /// Seed for the fault injector, so a run's faults can be repeated.
    public var seed: UInt64 = 0x5eed
    /// How many `process` jobs run at once.
    public var slots = 4
    /// How a `process` job whose program exits non-zero ends: `failed` (like Bacalhau's
    /// process-executor branch) or `completed` (like stock docker/wasm, exit code in RunOutput).
    public var nonZeroExit: NonZeroExit = .failed
    /// Log each request to stderr.
    public var verbose = false

    public enum NonZeroExit: String, Sendable { case failed, completed }

    public init() {}

    public static let usage = """
        usage: bacalhau-emulator [--port P] [--host H] [--fail-rate R] [--drop-rate R] [--delay-ms MS]
                                 [--state FILE] [--auth token:KEY|basic:USER:PASS|readonly-token:KEY ...]
                                 [--rate-limit N] [--seed N] [--slots N] [--nonzero-exit failed|completed] [--verbose]

        A Bacalhau v1.x orchestrator emulator (API.md): /api/v1/orchestrator/jobs and friends, name
        upserts, auth, and jobs whose engine is `process` (run locally) or `noop`. For tests only.

          --port P           port to listen on (default 1234; 0 picks a free one)
          --host H           address to listen on (default 127.0.0.1)
          --fail-rate R      answer this fraction of API requests 429/500/503 without handling them
          --drop-rate R      close this fraction of API connections with no answer (half after handling)
          --delay-ms MS      delay every API answer by MS milliseconds
          --state FILE       keep jobs in FILE (JSON lines) so a restart keeps them
          --auth SPEC        require credentials: token:KEY (Bearer), basic:USER:PASS, readonly-token:KEY
                             (read:job only: writes get 403); repeat for several
          --rate-limit N     requests per second before 429 (default 1000, like Bacalhau; 0: off)
          --seed N           seed for the injected faults (default fixed)
          --slots N          process jobs run at once (default 4)
          --nonzero-exit M   failed (default) or completed: how a job whose program exits non-zero ends
          --verbose          log each request on stderr

        Prints "listening on HOST:PORT" on stdout once it accepts connections.
        """

    /// Parses command-line arguments (without the program name).
    public static func parse(_ arguments: [String]) throws(EmulatorUsageError) -> EmulatorConfiguration {
        var config = EmulatorConfiguration()
        var index = 0
        func next(_ flag: String) throws(EmulatorUsageError) -> String {
            index += 1
            guard index < arguments.count else { throw EmulatorUsageError("\(flag) needs a value") }
            return arguments[index]
        }
        func rate(_ flag: String) throws(EmulatorUsageError) -> Double {
            let text = try next(flag)
            guard let value = Double(text), (0...1).contains(value) else {
                throw EmulatorUsageError("\(flag) takes a fraction between 0 and 1, got '\(text)'")
            }
            return value
        }
        func int(_ flag: String, range: ClosedRange<Int>) throws(EmulatorUsageError) -> Int {
            let text = try next(flag)
            guard let value = Int(text), range.contains(value) else {
                throw EmulatorUsageError("\(flag) takes a whole number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            }
            return value
        }
        while index < arguments.count {
            var argument = arguments[index]
            var inline: String?
            if argument.hasPrefix("--"), let eq = argument.firstIndex(of: "=") {
                inline = String(argument[argument.index(after: eq)...])
                argument = String(argument[..<eq])
            }
            if let inline {
                var rest = Array(arguments)
                rest[index] = argument
                rest.insert(inline, at: index + 1)
                return try parse(rest)
            }
            switch argument {
            case "--port", "-p": config.port = try int(argument, range: 0...65535)
            case "--host": config.host = try next(argument)
            case "--fail-rate": config.failRate = try rate(argument)
            case "--drop-rate": config.dropRate = try rate(argument)
            case "--delay-ms": config.delayMilliseconds = try int(argument, range: 0...600_000)
            case "--state": config.stateFile = try next(argument)
            case "--auth": config.auth.append(try EmulatorAuth.Credential.parse(try next(argument)))
            case "--rate-limit": config.rateLimit = try int(argument, range: 0...10_000_000)
            case "--seed":
                let text = try next(argument)
                guard let seed = UInt64(text) else { throw EmulatorUsageError("--seed takes a whole number, got '\(text)'") }
                config.seed = seed
            case "--slots": config.slots = try int(argument, range: 1...1024)
            case "--nonzero-exit":
                let text = try next(argument)
                guard let mode = NonZeroExit(rawValue: text) else {
                    throw EmulatorUsageError("--nonzero-exit takes failed or completed, got '\(text)'")
                }
                config.nonZeroExit = mode
            case "--verbose", "-v": config.verbose = true
            case "--help", "-h": throw EmulatorUsageError(nil)
            default: throw EmulatorUsageError("unknown argument '\(argument)'")
            }
            index += 1
        }
        return config
    }
}

/// A bad command line; a nil message asks for the usage text alone.
public struct EmulatorUsageError: Error, Sendable, CustomStringConvertible {
    public var message: String?
    init(_ message: String?) { self.message = message }
    public var description: String { message ?? "" }
}
