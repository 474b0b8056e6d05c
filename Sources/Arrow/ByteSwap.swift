/// How to convert a big-endian body buffer to little endian.
enum SwapKind: Equatable {
    case none
    /// Reverse every `n`-byte element (integers, floats, offsets, decimals).
    case width(Int)
    /// Interval month-day-nano: i32, i32, i64 per 16-byte element.
    case monthDayNano
    /// 16-byte views: i32 length; if > 12, i32 buffer index and i32 offset (prefix as is).
    case view

    static func forFixed(_ t: ArrowType) -> SwapKind {
        switch t {
        case .int8, .uint8, .fixedSizeBinary, .bool: return .none
        case .interval(.monthDayNano): return .monthDayNano
        case .interval(.dayTime): return .width(4)
        default:
            guard let w = t.byteWidth, w > 1 else { return .none }
            return .width(w)
        }
    }
}

/// A little-endian copy of big-endian buffer `b` (whole elements only).
func byteSwapped(_ b: ArrowBuffer, _ kind: SwapKind) -> ArrowBuffer {
    var out = b.array
    let n = out.count
    func rev(_ start: Int, _ w: Int) {
        var i = start, j = start + w - 1
        while i < j {
            out.swapAt(i, j)
            i += 1
            j -= 1
        }
    }
    switch kind {
    case .none:
        break
    case .width(let w):
        guard w > 1 else { break }
        var p = 0
        while p + w <= n { rev(p, w); p += w }
    case .monthDayNano:
        var p = 0
        while p + 16 <= n { rev(p, 4); rev(p + 4, 4); rev(p + 8, 8); p += 16 }
    case .view:
        var p = 0
        while p + 16 <= n {
            rev(p, 4)
            let len = Int32(out[p]) | Int32(out[p + 1]) << 8 | Int32(out[p + 2]) << 16 | Int32(out[p + 3]) << 24
            if len > 12 { rev(p + 8, 4); rev(p + 12, 4) }
            p += 16
        }
    }
    return ArrowBuffer(out)
}
