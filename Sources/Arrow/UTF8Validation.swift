/// Fast UTF-8 validation: 8 bytes at a time while ASCII, a strict scalar decoder otherwise
/// (rejects overlong forms, surrogates and code points above U+10FFFF).
enum UTF8Check {
    /// Returns (valid, sawNonASCII).
    static func validate(_ buf: UnsafeRawBufferPointer) -> (Bool, Bool) {
        guard let base = buf.baseAddress else { return (true, false) }
        let n = buf.count
        var i = 0
        var nonASCII = false
        while i < n {
            // ASCII fast path: 32 bytes per step, then 8
            while i &+ 32 <= n {
                let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    | base.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
                    | base.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self)
                    | base.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self)
                if w & 0x8080_8080_8080_8080 != 0 { break }
                i &+= 32
            }
            while i &+ 8 <= n {
                let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if w & 0x8080_8080_8080_8080 != 0 { break }
                i &+= 8
            }
            if i >= n { break }
            let b0 = base.load(fromByteOffset: i, as: UInt8.self)
            if b0 < 0x80 { i &+= 1; continue }
            nonASCII = true
            @inline(__always) func cont(_ k: Int) -> UInt8? {
                guard i &+ k < n else { return nil }
                let c = base.load(fromByteOffset: i &+ k, as: UInt8.self)
                return c & 0xC0 == 0x80 ? c : nil
            }
            if b0 >= 0xC2 && b0 <= 0xDF {
                guard cont(1) != nil else { return (false, true) }
                i &+= 2
            } else if b0 >= 0xE0 && b0 <= 0xEF {
                guard let c1 = cont(1), cont(2) != nil else { return (false, true) }
                if b0 == 0xE0 && c1 < 0xA0 { return (false, true) }      // overlong
                if b0 == 0xED && c1 > 0x9F { return (false, true) }      // surrogates
                i &+= 3
            } else if b0 >= 0xF0 && b0 <= 0xF4 {
                guard let c1 = cont(1), cont(2) != nil, cont(3) != nil else { return (false, true) }
                if b0 == 0xF0 && c1 < 0x90 { return (false, true) }      // overlong
                if b0 == 0xF4 && c1 > 0x8F { return (false, true) }      // > U+10FFFF
                i &+= 4
            } else {
                return (false, true)
            }
        }
        return (true, nonASCII)
    }

    static func isValid(_ buf: UnsafeRawBufferPointer) -> Bool { validate(buf).0 }
}
