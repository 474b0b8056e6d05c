import ArgumentParser
import Foundation
import HyphaArrow

/// `hypha arrow cat|schema FILE|-`: look inside Arrow IPC data (stream or file format).
struct ArrowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arrow", abstract: "Print Arrow IPC data (stream or file format) as JSON lines, or its schema.",
        subcommands: [Cat.self, Schema.self])

    struct Cat: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every row as one JSON object per line.",
            discussion: """
                Integers print as JSON numbers, except beyond ±2^53 where they print as strings (so \
                every consumer reads them exactly; --exact-integers prints them as numbers anyway). \
                Decimals print as strings with their exact digits, binary as base64, timestamps as \
                ISO 8601 (with Z when the column has a time zone), maps as [key, value] pairs.
                """)
        @Argument(help: "An Arrow IPC stream (.arrows) or file (.arrow); - reads standard input.") var file: String
        @Flag(help: "Print 64-bit integers as JSON numbers even beyond ±2^53.") var exactIntegers = false

        func run() async throws {
            let table = try ArrowCommand.read(file)
            let options = ArrowJSON.Options(bigIntegersAsStrings: !exactIntegers)
            var out: [UInt8] = []
            out.reserveCapacity(1 << 20)
            for batch in table.batches {
                for row in 0..<batch.rowCount {
                    ArrowJSON.appendLine(batch: batch, row: row, to: &out, options: options)
                    if out.count >= 1 << 20 {
                        FileHandle.standardOutput.write(Data(out))
                        out.removeAll(keepingCapacity: true)
                    }
                }
            }
            FileHandle.standardOutput.write(Data(out))
        }
    }

    struct Schema: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the schema: one field per line, or JSON.")
        @Argument(help: "An Arrow IPC stream (.arrows) or file (.arrow); - reads standard input.") var file: String
        @Flag(help: "Print the schema as JSON.") var json = false

        func run() async throws {
            let table = try ArrowCommand.read(file)
            Console.out(json ? ArrowJSON.schemaJSON(table.schema) : ArrowJSON.schemaText(table.schema))
            if !json {
                Console.out("-- \(table.format == .file ? "file" : "stream") format, \(table.batches.count) batches, \(table.rowCount) rows")
            }
        }
    }

    /// Reads and decodes `path` (or standard input for "-"); a bad file is a clear error, exit 1.
    static func read(_ path: String) throws -> ArrowTable {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                Console.error("hypha arrow: cannot read '\(path)': no such file or not readable")
                throw ExitCode(1)
            }
            data = contents
        }
        do {
            return try ArrowIPC.read([UInt8](data))
        } catch {
            Console.error("hypha arrow: \(path == "-" ? "standard input" : path): not valid Arrow IPC data: \(error)")
            throw ExitCode(1)
        }
    }
}
