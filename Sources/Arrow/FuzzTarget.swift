/// Entry point shared by the libFuzzer harness (fuzz/) and the corpus tests: read the
/// bytes, then touch every value (bounded), render JSON lines, and re-encode what was
/// read. Returns the row count or the error.
public enum FuzzTarget {
    /// Cap on values visited per input, so huge (but legal) null/struct lengths don't hang.
    static let maxValues = 200_000

    public static func run(_ bytes: [UInt8]) -> Result<Int, ArrowError> {
        let options = ArrowReadOptions(maxDecompressedBytes: 64 << 20)
        let table: ArrowTable
        do {
            table = try ArrowIPC.read(bytes, options: options)
        } catch {
            return .failure(error)
        }
        var budget = maxValues
        for b in table.batches {
            for r in 0..<b.rowCount {
                if budget <= 0 { break }
                budget -= Swift.max(1, b.columns.count)
                _ = ArrowJSON.line(batch: b, row: r)
                for c in b.columns { _ = c.isNull(r) }
            }
        }
        // Whatever we accept we must be able to write back and read again.
        if table.rowCount <= maxValues {
            do {
                let again = try ArrowStreamWriter.encode(schema: table.schema, batches: table.batches)
                let back = try ArrowIPC.read(again, options: options)
                if back.rowCount != table.rowCount {
                    return .failure(ArrowError(.invalidData, "re-encoded table lost rows"))
                }
            } catch {
                // A table can be readable yet not re-encodable (e.g. changing dictionaries in a file); not a crash.
            }
        }
        return .success(table.rowCount)
    }
}
