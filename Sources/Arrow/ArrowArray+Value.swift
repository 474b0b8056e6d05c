extension ArrowArray {
    /// The value in slot `i` (0 ..< length) as an `ArrowValue`.
    public func value(at i: Int) -> ArrowValue {
        precondition(i >= 0 && i < length, "ArrowArray index \(i) out of range 0..<\(length)")
        switch kind {
        case .null:
            return .null
        case .sparseUnion, .denseUnion:
            guard let (child, j) = unionChild(i) else { return .null }
            return .union(typeId: values.load(i, as: Int8.self), value: child.value(at: j))
        case .runEndEncoded:
            guard children.count == 2, let j = runIndex(i) else { return .null }
            return children[1].value(at: j)
        default:
            break
        }
        if let v = validity, !v.bit(i) { return .null }
        switch kind {
        case .bool: return .bool(values.bit(i))
        case .int8: return .int(Int64(values.load(i, as: Int8.self)))
        case .int16: return .int(Int64(values.load(i, as: Int16.self)))
        case .int32: return .int(Int64(values.load(i, as: Int32.self)))
        case .int64: return .int(values.load(i, as: Int64.self))
        case .uint8: return .uint(UInt64(values.load(i, as: UInt8.self)))
        case .uint16: return .uint(UInt64(values.load(i, as: UInt16.self)))
        case .uint32: return .uint(UInt64(values.load(i, as: UInt32.self)))
        case .uint64: return .uint(values.load(i, as: UInt64.self))
        case .float16: return .float(halfToDouble(values.load(i, as: UInt16.self)))
        case .float32: return .float(Double(Float(bitPattern: values.load(i, as: UInt32.self))))
        case .float64: return .float(Double(bitPattern: values.load(i, as: UInt64.self)))
        case .decimal:
            let w = width
            let s = values.withUnsafeBytes { raw in
                decimalString(UnsafeRawBufferPointer(rebasing: raw[(i * w)..<(i * w + w)]), scale: scale)
            }
            return .decimal(s)
        case .date32: return .date(Int64(values.load(i, as: Int32.self)), .day)
        case .date64: return .date(values.load(i, as: Int64.self), .millisecond)
        case .time32: return .time(Int64(values.load(i, as: Int32.self)), unit)
        case .time64: return .time(values.load(i, as: Int64.self), unit)
        case .timestamp: return .timestamp(values.load(i, as: Int64.self), unit, timezone: timezone)
        case .duration: return .duration(values.load(i, as: Int64.self), unit)
        case .intervalYM:
            return .interval(.yearMonth(months: values.load(i, as: Int32.self)))
        case .intervalDT:
            return .interval(.dayTime(days: values.load(2 * i, as: Int32.self),
                                      milliseconds: values.load(2 * i + 1, as: Int32.self)))
        case .intervalMDN:
            return .interval(.monthDayNano(months: values.load(byteOffset: 16 * i, as: Int32.self),
                                           days: values.load(byteOffset: 16 * i + 4, as: Int32.self),
                                           nanoseconds: values.load(byteOffset: 16 * i + 8, as: Int64.self)))
        case .utf8, .largeUtf8, .utf8View:
            return .string(string(at: i))
        case .binary, .largeBinary, .binaryView, .fixedSizeBinary:
            return .binary(bytes(at: i))
        case .list, .largeList, .listView, .largeListView, .fixedSizeList:
            guard let child = children.first else { return .list([]) }
            let (a, b) = listRange(i)
            if b <= a { return .list([]) }
            var out: [ArrowValue] = []
            out.reserveCapacity(b - a)
            for j in a..<b { out.append(child.value(at: j)) }
            return .list(out)
        case .map:
            guard let entries = children.first, entries.children.count >= 2 else { return .map([]) }
            let keys = entries.children[0], vals = entries.children[1]
            let (a, b) = listRange(i)
            if b <= a { return .map([]) }
            var out: [(key: ArrowValue, value: ArrowValue)] = []
            out.reserveCapacity(b - a)
            for j in a..<b { out.append((key: keys.value(at: j), value: vals.value(at: j))) }
            return .map(out)
        case .structure:
            var out: [(name: String, value: ArrowValue)] = []
            out.reserveCapacity(children.count)
            for (name, c) in zip(fieldNames, children) { out.append((name: name, value: c.value(at: i))) }
            return .struct(out)
        case .dictionary:
            guard let d = dictionary else { return .null }
            return d.value(at: dictionaryIndex(i))
        case .null, .sparseUnion, .denseUnion, .runEndEncoded:
            return .null
        }
    }

    /// All values of the array (convenience; allocates one ArrowValue per slot).
    public var allValues: [ArrowValue] {
        (0..<length).map { value(at: $0) }
    }
}

/// IEEE 754 half-precision bits to Double.
func halfToDouble(_ h: UInt16) -> Double {
    let sign: Double = (h & 0x8000) != 0 ? -1 : 1
    let exp = Int((h >> 10) & 0x1F)
    let mant = Double(h & 0x3FF)
    if exp == 0 { return sign * mant * 0x1p-24 }
    if exp == 31 { return mant == 0 ? sign * .infinity : .nan }
    return sign * (1 + mant / 1024) * Double(sign: .plus, exponent: exp - 15, significand: 1)
}

/// Double to IEEE 754 half-precision bits (round to nearest, ties to even).
func doubleToHalf(_ d: Double) -> UInt16 {
    let bits = d.bitPattern
    let sign = UInt16(truncatingIfNeeded: (bits >> 48) & 0x8000)
    if d.isNaN { return sign | 0x7E00 }
    if d.isInfinite { return sign | 0x7C00 }
    if d == 0 { return sign }
    let exp = Int((bits >> 52) & 0x7FF) - 1023
    let mant = bits & ((1 << 52) - 1)
    if exp >= -14 {
        if exp > 15 { return sign | 0x7C00 }
        var m = mant >> 42
        let rest = mant & ((1 << 42) - 1)
        let halfway: UInt64 = 1 << 41
        if rest > halfway || (rest == halfway && m & 1 == 1) { m += 1 }
        let r = (UInt64(exp + 15) << 10) + m
        return r >= 0x7C00 ? sign | 0x7C00 : sign | UInt16(truncatingIfNeeded: r)
    }
    let full = (UInt64(1) << 52) | mant
    let shift = 28 - exp
    if shift >= 64 { return sign }
    var m = full >> UInt64(shift)
    let rest = full & ((UInt64(1) << UInt64(shift)) - 1)
    let halfway = UInt64(1) << UInt64(shift - 1)
    if rest > halfway || (rest == halfway && m & 1 == 1) { m += 1 }
    return sign | UInt16(truncatingIfNeeded: m)
}

/// Decimal text of a little-endian two's-complement integer of 4, 8, 16 or 32 bytes,
/// with `scale` digits after the point (negative scale appends zeros).
func decimalString(_ raw: UnsafeRawBufferPointer, scale: Int) -> String {
    var limbs: [UInt64] = []
    let n = raw.count
    var k = 0
    while k < n {
        var limb: UInt64 = 0
        let take = Swift.min(8, n - k)
        for b in 0..<take { limb |= UInt64(raw[k + b]) << UInt64(8 * b) }
        if take < 8, raw[k + take - 1] & 0x80 != 0 {  // sign-extend a short top limb
            limb |= ~UInt64(0) << UInt64(8 * take)
        }
        limbs.append(limb)
        k += 8
    }
    let negative = (limbs.last ?? 0) >> 63 == 1
    if negative {  // two's complement negate
        var carry: UInt64 = 1
        for j in limbs.indices {
            let (s, o) = (~limbs[j]).addingReportingOverflow(carry)
            limbs[j] = s
            carry = o ? 1 : 0
        }
    }
    var digits = magnitudeDigits(limbs)
    if scale > 0 {
        if digits.count <= scale {
            digits = String(repeating: "0", count: scale - digits.count + 1) + digits
        }
        let cut = digits.index(digits.endIndex, offsetBy: -scale)
        digits = digits[..<cut] + "." + digits[cut...]
    } else if scale < 0, digits != "0" {
        digits += String(repeating: "0", count: -scale)
    }
    return negative ? "-" + digits : digits
}

/// Decimal digits of an unsigned little-endian multi-limb integer.
func magnitudeDigits(_ input: [UInt64]) -> String {
    var limbs = input
    while let l = limbs.last, l == 0 { limbs.removeLast() }
    if limbs.isEmpty { return "0" }
    if limbs.count == 1 { return String(limbs[0]) }
    let base: UInt64 = 10_000_000_000_000_000_000  // 10^19
    var parts: [UInt64] = []
    while !limbs.isEmpty {
        var rem: UInt64 = 0
        for j in stride(from: limbs.count - 1, through: 0, by: -1) {
            let (q, r) = base.dividingFullWidth((high: rem, low: limbs[j]))
            limbs[j] = q
            rem = r
        }
        parts.append(rem)
        while let l = limbs.last, l == 0 { limbs.removeLast() }
    }
    var s = String(parts.last ?? 0)
    for p in parts.dropLast().reversed() {
        let t = String(p)
        s += String(repeating: "0", count: 19 - t.count) + t
    }
    return s
}
