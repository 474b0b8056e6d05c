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
            if c.type != f.type || c.dictionaryEncoding != f.dictionary {
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
