/// Entry point shared by the libFuzzer harness (fuzz/) and the corpus tests: read the
/// bytes, then touch every value (bounded), render JSON lines, re-encode what was read,
/// and decode the same bytes incrementally. Returns the row count or the error.
public enum FuzzTarget {
    /// Cap on logical elements visited per batch, so huge (but legal) lengths of arrays
    /// without buffers (null, fixed-size lists of nulls, ...) don't turn into hangs.
    static let maxElements = 200_000

    public static func run(_ bytes: [UInt8]) -> Result<Int, ArrowError> {
        let options = ArrowReadOptions(maxDecompressedBytes: 64 << 20)
        let table: ArrowTable
        do {
            table = try ArrowIPC.read(bytes, options: options)
        } catch {
            if !ArrowIPC.isFileFormat(bytes) { incremental(bytes, options, expectFailure: true) }
            return .failure(error)
        }
        var total = 0
        for b in table.batches {
            // Rows count too: a batch without columns can still declare billions of rows.
            let elements = b.columns.reduce(b.rowCount) { min(Int.max / 2, $0 + elementCount($1, depth: 0)) }
            total += elements
            if elements > maxElements || total > 4 * maxElements { continue }
            for r in 0..<b.rowCount {
                _ = ArrowJSON.line(batch: b, row: r)
                for c in b.columns { _ = c.isNull(r) }
            }
        }
        if total <= 4 * maxElements {
            // Whatever we accept we must be able to write back and read again.
            do {
                let again = try ArrowStreamWriter.encode(schema: table.schema, batches: table.batches)
                let back = try ArrowIPC.read(again, options: options)
                if back.rowCount != table.rowCount {
                    return .failure(ArrowError(.invalidData, "re-encoded table lost rows"))
                }
            } catch {
                // Readable yet not re-encodable (e.g. changing dictionaries in a file) is not a crash.
            }
        }
        if !ArrowIPC.isFileFormat(bytes) { incremental(bytes, options, expectFailure: false) }
        return .success(table.rowCount)
    }

    /// Decodes the same bytes with ArrowStreamDecoder in small chunks.
    static func incremental(_ bytes: [UInt8], _ options: ArrowReadOptions, expectFailure: Bool) {
        var dec = ArrowStreamDecoder(options: options)
        var i = 0
        while i < bytes.count {
            let end = Swift.min(bytes.count, i + 61)
            do {
                _ = try dec.feed(Array(bytes[i..<end]))
            } catch {
                return
            }
            i = end
        }
        _ = try? dec.finish()
    }

    /// Logical elements in the array tree (saturating), including dictionary values.
    static func elementCount(_ a: ArrowArray, depth: Int) -> Int {
        if depth > 80 { return Int.max / 4 }
        var n = a.length
        for c in a.children { n = Swift.min(Int.max / 4, n + elementCount(c, depth: depth + 1)) }
        if let d = a.dictionary {
            for c in d.chunks { n = Swift.min(Int.max / 4, n + elementCount(c, depth: depth + 1)) }
        }
        return n
    }
}
