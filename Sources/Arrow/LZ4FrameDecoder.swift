/// Pure-Swift LZ4 frame decoder, used when liblz4 is not installed. Decodes into one
/// contiguous output of the announced size, so linked blocks resolve naturally; checksums
/// are skipped (the IPC length prefix and size check guard the result).
enum LZ4FrameDecoder {
    static func decode(_ src: UnsafeRawBufferPointer, size: Int) throws(ArrowError) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(size)
        var p = 0
        let n = src.count
        func need(_ k: Int) throws(ArrowError) {
            if k < 0 || p > n - k { throw ArrowError.invalid("LZ4 frame truncated") }
        }
        func u32() throws(ArrowError) -> UInt32 {
            try need(4)
            let v = UInt32(src[p]) | UInt32(src[p + 1]) << 8 | UInt32(src[p + 2]) << 16 | UInt32(src[p + 3]) << 24
            p += 4
            return v
        }
        while p < n {
            let magic = try u32()
            if magic & 0xFFFF_FFF0 == 0x184D_2A50 {  // skippable frame
                let len = Int(try u32())
                try need(len)
                p += len
                continue
            }
            if magic != 0x184D_2204 { throw ArrowError.invalid("not an LZ4 frame (magic \(magic))") }
            try need(2)
            let flg = src[p], bd = src[p + 1]
            p += 2
            if flg >> 6 != 1 { throw ArrowError.invalid("unsupported LZ4 frame version") }
            _ = bd
            let blockChecksum = flg & 0x10 != 0
            let contentSize = flg & 0x08 != 0
            let contentChecksum = flg & 0x04 != 0
            let dictId = flg & 0x01 != 0
            if contentSize { try need(8); p += 8 }
            if dictId { try need(4); p += 4 }
            try need(1); p += 1  // header checksum
            while true {
                let bsize = try u32()
                if bsize == 0 { break }
                let stored = bsize & 0x8000_0000 != 0
                let len = Int(bsize & 0x7FFF_FFFF)
                try need(len)
                if stored {
                    if out.count + len > size { throw ArrowError.invalid("LZ4 frame larger than announced") }
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: src[p..<(p + len)]))
                } else {
                    try decodeBlock(UnsafeRawBufferPointer(rebasing: src[p..<(p + len)]), into: &out, limit: size)
                }
                p += len
                if blockChecksum { try need(4); p += 4 }
            }
            if contentChecksum { try need(4); p += 4 }
        }
        if out.count != size { throw ArrowError.invalid("LZ4 buffer decompressed to \(out.count) bytes, expected \(size)") }
        return out
    }

    static func decodeBlock(_ b: UnsafeRawBufferPointer, into out: inout [UInt8], limit: Int) throws(ArrowError) {
        var p = 0
        let n = b.count
        while p < n {
            let token = b[p]
            p += 1
            var lit = Int(token >> 4)
            if lit == 15 {
                while true {
                    guard p < n else { throw ArrowError.invalid("LZ4 block truncated") }
                    let x = b[p]; p += 1
                    lit += Int(x)
                    if x != 255 { break }
                }
            }
            if lit > n - p { throw ArrowError.invalid("LZ4 literal run past block end") }
            if out.count + lit > limit { throw ArrowError.invalid("LZ4 frame larger than announced") }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[p..<(p + lit)]))
            p += lit
            if p >= n { break }  // last sequence has literals only
            guard p + 2 <= n else { throw ArrowError.invalid("LZ4 block truncated") }
            let offset = Int(b[p]) | Int(b[p + 1]) << 8
            p += 2
            if offset == 0 || offset > out.count { throw ArrowError.invalid("LZ4 match offset out of range") }
            var mlen = Int(token & 15)
            if mlen == 15 {
                while true {
                    guard p < n else { throw ArrowError.invalid("LZ4 block truncated") }
                    let x = b[p]; p += 1
                    mlen += Int(x)
                    if x != 255 { break }
                }
            }
            mlen += 4
            if out.count + mlen > limit { throw ArrowError.invalid("LZ4 frame larger than announced") }
            let start = out.count - offset
            for k in 0..<mlen { out.append(out[start + k]) }
        }
    }
}
