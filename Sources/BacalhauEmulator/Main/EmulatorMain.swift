import BacalhauEmulatorKit
import Dispatch
import Foundation

/// `bacalhau-emulator`: a thin main over BacalhauEmulatorKit. Prints
/// `listening on HOST:PORT` once it accepts connections; SIGINT or SIGTERM stop it.
@main
struct EmulatorMain {
    static func main() async {
        let configuration: EmulatorConfiguration
        do {
            configuration = try EmulatorConfiguration.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            if let message = error.message {
                FileHandle.standardError.write(Data("bacalhau-emulator: \(message)\n\n\(EmulatorConfiguration.usage)\n".utf8))
                exit(2)
            }
            print(EmulatorConfiguration.usage)
            exit(0)
        }
        let emulator: BacalhauEmulator
        do {
            emulator = try await BacalhauEmulator(configuration: configuration)
        } catch {
            FileHandle.standardError.write(Data("bacalhau-emulator: cannot start: \(error)\n".utf8))
            exit(1)
        }
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let server = Task {
            do {
                try await emulator.run { port in
                    FileHandle.standardOutput.write(Data("listening on \(configuration.host):\(port)\n".utf8))
                }
            } catch {
                FileHandle.standardError.write(Data("bacalhau-emulator: \(error)\n".utf8))
                exit(1)
            }
        }
        await waitForTermination()
        server.cancel()
        await server.value
    }

    /// Returns on SIGINT or SIGTERM (their default actions are ignored so this can stop the
    /// server cleanly). Nonisolated: the handlers run on a Dispatch queue, not the main actor.
    nonisolated static func waitForTermination() async {
        let stop = AsyncStream<Void> { continuation in
            nonisolated(unsafe) let sources = [SIGINT, SIGTERM].map { signal -> any DispatchSourceSignal in
                let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
                source.setEventHandler { @Sendable in continuation.yield() }
                source.resume()
                return source
            }
            continuation.onTermination = { @Sendable _ in sources.forEach { $0.cancel() } }
        }
        for await _ in stop { return }
    }
}
