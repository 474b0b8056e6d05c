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
