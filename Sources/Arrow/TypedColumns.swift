/// Columns built straight from Swift arrays, with no nulls: the fast path for producers
/// that know their column types (the row-oriented `ArrowArray.build` goes through
/// `ArrowValue` and checks every value's case).
extension ArrowArray {
    /// A `utf8` column of `strings`.
    public static func utf8(_ strings: [String]) throws(ArrowError) -> ArrowArray {
        var offsets: [UInt8] = []
        offsets.reserveCapacity(4 * (strings.count + 1))
        var data: [UInt8] = []
        data.reserveCapacity(strings.reduce(0) { $0 + $1.utf8.count })
        offsets.appendLE(Int32(0))
        for s in strings {
            data.append(contentsOf: s.utf8)
            guard data.count <= Int(Int32.max) else {
                throw ArrowError(.limitExceeded, "a utf8 column holds at most 2 GiB; use largeUtf8")
            }
            offsets.appendLE(Int32(data.count))
        }
        return ArrowArray(type: .utf8, length: strings.count, nullCount: 0, validity: nil,
                          values: ArrowBuffer(offsets), data: ArrowBuffer(data))
    }

    /// A column of a type stored as 64-bit integers (`int64`, `timestamp`, `date64`,
    /// `time64`, `duration`) holding `values` as they are (no unit conversion).
    public static func int64(_ values: [Int64], type: ArrowType = .int64) throws(ArrowError) -> ArrowArray {
        switch type {
        case .int64, .timestamp, .date64, .time64, .duration: break
        default: throw ArrowError.mismatch("\(type) is not stored as 64-bit integers")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 * values.count)
        for v in values { bytes.appendLE(v) }
        return ArrowArray(type: type, length: values.count, nullCount: 0, validity: nil, values: ArrowBuffer(bytes))
    }
}
