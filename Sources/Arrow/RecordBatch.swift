/// A batch of rows: equal-length columns described by a schema.
public struct RecordBatch: Sendable {
    public let schema: ArrowSchema
    public let columns: [ArrowArray]
    public let rowCount: Int
    let nameIndex: [String: Int]

    /// A batch from already built columns. Each column must have at least `rowCount`
    /// values (default: the first column's length) and match its field's type.
    public init(schema: ArrowSchema, columns: [ArrowArray], rowCount: Int? = nil) throws(ArrowError) {
        guard columns.count == schema.fields.count else {
            throw ArrowError.mismatch("\(columns.count) columns for \(schema.fields.count) schema fields")
        }
        let n = rowCount ?? columns.first?.length ?? 0
        for (f, c) in zip(schema.fields, columns) {
            if c.length < n { throw ArrowError.mismatch("column '\(f.name)' has \(c.length) rows, expected \(n)") }
            if c.type != f.type || c.dictionaryEncoding?.indexType != f.dictionary?.indexType {
                throw ArrowError.mismatch("column '\(f.name)' has type \(c.type), the schema says \(f.type)")
            }
        }
        self.init(uncheckedSchema: schema, columns: columns, rowCount: n)
    }

    init(uncheckedSchema schema: ArrowSchema, columns: [ArrowArray], rowCount: Int) {
        self.schema = schema
        self.columns = columns
        self.rowCount = rowCount
        var idx: [String: Int] = [:]
        for (i, f) in schema.fields.enumerated() where idx[f.name] == nil { idx[f.name] = i }
        self.nameIndex = idx
    }

    /// Value at (row, column). Indices must be in range (like Array subscripts).
    public func value(row: Int, column: Int) -> ArrowValue {
        precondition(row >= 0 && row < rowCount && column >= 0 && column < columns.count,
                     "RecordBatch.value(row: \(row), column: \(column)) out of range")
        return columns[column].value(at: row)
    }

    /// Index of the first column with this name (O(1)).
    public func columnIndex(named name: String) -> Int? { nameIndex[name] }

    public func column(named name: String) -> ArrowArray? {
        nameIndex[name].map { columns[$0] }
    }

    /// A lightweight view of row `index` (no values are decoded until asked for).
    public func row(_ index: Int) -> ArrowRow {
        precondition(index >= 0 && index < rowCount, "RecordBatch.row(\(index)) out of range")
        return ArrowRow(batch: self, index: index)
    }

    /// All rows as views.
    public var rows: LazyMapSequence<Range<Int>, ArrowRow> {
        (0..<rowCount).lazy.map { ArrowRow(batch: self, index: $0) }
    }
}

/// One row of a batch. Values are decoded on access; name lookup uses the batch's
/// precomputed name index, so no per-row dictionary is built.
public struct ArrowRow: Sendable {
    public let batch: RecordBatch
    public let index: Int

    public var count: Int { batch.columns.count }

    public subscript(column: Int) -> ArrowValue {
        batch.columns[column].value(at: index)
    }

    /// Value of the named column, nil if there is no such column.
    public subscript(name: String) -> ArrowValue? {
        guard let c = batch.nameIndex[name] else { return nil }
        return batch.columns[c].value(at: index)
    }

    /// All values in column order.
    public var values: [ArrowValue] {
        batch.columns.map { $0.value(at: index) }
    }

    /// (name, value) pairs in column order.
    public var fields: [(name: String, value: ArrowValue)] {
        zip(batch.schema.fields, batch.columns).map { (name: $0.name, value: $1.value(at: index)) }
    }
}

public enum ArrowIPCFormat: Sendable, Hashable {
    case stream, file
}

/// Result of reading an IPC stream or file.
public struct ArrowTable: Sendable {
    public let schema: ArrowSchema
    public let batches: [RecordBatch]
    public let format: ArrowIPCFormat
    /// 4 = V4, 5 = V5 (of the first message; 0 if there was none).
    public let metadataVersion: Int
    /// Custom metadata of the file footer (file format only).
    public let footerMetadata: [ArrowKeyValue]

    public init(schema: ArrowSchema, batches: [RecordBatch], format: ArrowIPCFormat = .stream,
                metadataVersion: Int = 5, footerMetadata: [ArrowKeyValue] = []) {
        self.schema = schema
        self.batches = batches
        self.format = format
        self.metadataVersion = metadataVersion
        self.footerMetadata = footerMetadata
    }

    public var rowCount: Int { batches.reduce(0) { $0 + $1.rowCount } }
}

public struct ArrowReadOptions: Sendable {
    /// Full validation as pyarrow's `validate(full=True)`: UTF-8 of strings, null counts
    /// against bitmaps, view prefixes. Structural checks (sizes, offsets, indices) always run.
    public var validateFully: Bool
    /// Cap on the bytes produced by decompression per message (default 1 GiB): a few
    /// kilobytes of ZSTD can announce gigabytes.
    public var maxDecompressedBytes: Int
    /// Maximum nesting depth of types / arrays.
    public var maxNestingDepth: Int

    public init(validateFully: Bool = true, maxDecompressedBytes: Int = 1 << 30, maxNestingDepth: Int = 64) {
        self.validateFully = validateFully
        self.maxDecompressedBytes = maxDecompressedBytes
        self.maxNestingDepth = maxNestingDepth
    }
}
