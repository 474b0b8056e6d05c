import Engine
import Foundation
import HyphaArrow

/// `arrow-decode` (arrow → record): decodes Arrow IPC data into one record per row, every row,
/// with typed values. A malformed message fails that message, never the run.
public struct ArrowDecodePlugin: ProcessorPlugin {
    public static let spec = PluginSpec(
        name: "arrow-decode",
        summary: "Decodes Arrow IPC data (stream or file format) into one record per row.",
        output: .record, options: [], forwardsFields: true)

    public init(node: NodeConfig, context: RunContext) throws {}

    public func process(_ data: ArrowData, _ output: Output) async throws {
        let table: ArrowTable
        do {
            table = try data.table()
        } catch {
            let size = (try? data.ipcBytes().count).map { " (\($0) bytes)" } ?? ""
            throw MessageFailure("malformed Arrow data\(size): \(error)")
        }
        let names = table.schema.fields.map(\.name)
        for batch in table.batches {
            for row in 0..<batch.rowCount {
                try await output.emit(.record(Self.record(batch, row: row, names: names)))
            }
        }
    }

    /// Row `row` of `batch` as the record this plugin emits for it (`names`: the schema's
    /// field names, in order).
    public static func record(_ batch: RecordBatch, row: Int, names: [String]) -> Record {
        var values: [(String, Value)] = []
        values.reserveCapacity(names.count)
        for (column, name) in names.enumerated() {
            values.append((name, ArrowValueConversion.value(batch.value(row: row, column: column))))
        }
        return Record(values)
    }

    /// Every row of `table` as a record, in order.
    public static func records(_ table: ArrowTable) -> [Record] {
        let names = table.schema.fields.map(\.name)
        return table.batches.flatMap { batch in (0..<batch.rowCount).map { record(batch, row: $0, names: names) } }
    }
}

/// Maps Arrow values onto the engine's `Value`s.
enum ArrowValueConversion {
    static func value(_ v: ArrowValue) -> Value {
        switch v {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return u <= UInt64(Int64.max) ? .int(Int64(u)) : .float(Double(u))
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        case .binary(let b): return .bytes(b)
        case .decimal(let s): return .string(s)
        case .date(let n, let unit):
            return .timestamp(unit == .day ? n &* 86_400_000_000 : n &* 1000)
        case .time(let n, let unit): return .int(micros(n, unit))
        case .timestamp(let n, let unit, _): return .timestamp(micros(n, unit))
        case .duration(let n, let unit): return .float(Double(micros(n, unit)) / 1e6)
        case .interval(let i): return .string("\(i)")
        case .list(let items): return .list(items.map(value))
        case .struct(let fields): return .map(Record(fields.map { ($0.name, value($0.value)) }))
        case .map(let pairs):
            return .map(Record(pairs.map { (value($0.key).text, value($0.value)) }))
        case .union(_, let inner): return value(inner)
        }
    }

    static func micros(_ n: Int64, _ unit: TimeUnit) -> Int64 {
        switch unit {
        case .second: return n &* 1_000_000
        case .millisecond: return n &* 1000
        case .microsecond: return n
        case .nanosecond: return n / 1000
        }
    }
}
