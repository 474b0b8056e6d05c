#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Body compression codecs of Arrow IPC (BodyCompression.codec).
public enum ArrowCompression: Sendable, Hashable {
    case lz4Frame
    case zstd(level: Int32 = 1)

    var codecId: Int8 {
        switch self {
        case .lz4Frame: return 0
        case .zstd: return 1
        }
    }
    var name: String {
        switch self {
        case .lz4Frame: return "LZ4_FRAME"
        case .zstd: return "ZSTD"
        }
    }

    /// True when the shared library for this codec could be loaded (liblz4.so.1 /
    /// libzstd.so.1, loaded at run time with dlopen; no headers needed at build time).
    public var isAvailable: Bool {
        switch self {
        case .lz4Frame: return LZ4Library.shared != nil
        case .zstd: return ZstdLibrary.shared != nil
        }
    }
}

private func openLibrary(_ names: [String]) -> UnsafeMutableRawPointer? {
    for n in names {
        if let h = dlopen(n, RTLD_NOW | RTLD_LOCAL) { return h }
    }
    return nil
}

private func symbol<T>(_ handle: UnsafeMutableRawPointer, _ name: String, _: T.Type) -> T? {
    guard let p = dlsym(handle, name) else { return nil }
    return unsafeBitCast(p, to: T.self)
}

/// liblz4 frame API, resolved at run time.
struct LZ4Library: @unchecked Sendable {
    typealias CreateDctx = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UInt32) -> Int
    typealias FreeDctx = @convention(c) (OpaquePointer?) -> Int
    typealias Decompress = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?,
                                           UnsafeRawPointer?, UnsafeMutablePointer<Int>?, UnsafeRawPointer?) -> Int
    typealias IsError = @convention(c) (Int) -> UInt32
    typealias CompressFrame = @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int, UnsafeRawPointer?) -> Int
    typealias FrameBound = @convention(c) (Int, UnsafeRawPointer?) -> Int

    let createDctx: CreateDctx
    let freeDctx: FreeDctx
    let decompress: Decompress
    let isError: IsError
    let compressFrame: CompressFrame
    let frameBound: FrameBound

    static let shared: LZ4Library? = {
        guard let h = openLibrary(["liblz4.so.1", "liblz4.so", "liblz4.dylib", "liblz4.1.dylib",
                                   "/opt/homebrew/lib/liblz4.dylib", "/usr/local/lib/liblz4.dylib"]) else { return nil }
        guard let c = symbol(h, "LZ4F_createDecompressionContext", CreateDctx.self),
              let f = symbol(h, "LZ4F_freeDecompressionContext", FreeDctx.self),
              let d = symbol(h, "LZ4F_decompress", Decompress.self),
              let e = symbol(h, "LZ4F_isError", IsError.self),
              let cf = symbol(h, "LZ4F_compressFrame", CompressFrame.self),
              let b = symbol(h, "LZ4F_compressFrameBound", FrameBound.self) else { return nil }
        return LZ4Library(createDctx: c, freeDctx: f, decompress: d, isError: e, compressFrame: cf, frameBound: b)
    }()
}

/// libzstd simple API, resolved at run time.
struct ZstdLibrary: @unchecked Sendable {
    typealias Decompress = @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int) -> Int
    typealias Compress = @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int, Int32) -> Int
    typealias Bound = @convention(c) (Int) -> Int
    typealias IsError = @convention(c) (Int) -> UInt32

    let decompress: Decompress
    let compress: Compress
    let bound: Bound
    let isError: IsError

    static let shared: ZstdLibrary? = {
        guard let h = openLibrary(["libzstd.so.1", "libzstd.so", "libzstd.dylib", "libzstd.1.dylib",
                                   "/opt/homebrew/lib/libzstd.dylib", "/usr/local/lib/libzstd.dylib"]) else { return nil }
        guard let d = symbol(h, "ZSTD_decompress", Decompress.self),
              let c = symbol(h, "ZSTD_compress", Compress.self),
              let b = symbol(h, "ZSTD_compressBound", Bound.self),
              let e = symbol(h, "ZSTD_isError", IsError.self) else { return nil }
        return ZstdLibrary(decompress: d, compress: c, bound: b, isError: e)
    }()
}

enum Codec {
    /// Decompresses `src` into exactly `size` bytes.
    static func decompress(_ codec: ArrowCompression, _ src: UnsafeRawBufferPointer, size: Int) throws(ArrowError) -> [UInt8] {
        if size == 0 { return [] }
        switch codec {
        case .lz4Frame:
            return try lz4Decompress(src, size: size)
        case .zstd:
            guard let z = ZstdLibrary.shared else {
                throw ArrowError(.codecUnavailable, "ZSTD body compression needs libzstd.so.1, which could not be loaded")
            }
            // Decompress into uninitialised memory (no zero fill); only the bytes the
            // decoder produced count as initialised.
            var r = 0
            let out = [UInt8](unsafeUninitializedCapacity: size) { dst, count in
                r = z.decompress(dst.baseAddress, size, src.baseAddress, src.count)
                count = z.isError(r) == 0 && r <= size ? r : 0
            }
            if z.isError(r) != 0 { throw ArrowError.invalid("ZSTD buffer does not decompress") }
            if r != size { throw ArrowError.invalid("ZSTD buffer decompressed to \(r) bytes, expected \(size)") }
            return out
        }
    }

    static func lz4Decompress(_ src: UnsafeRawBufferPointer, size: Int) throws(ArrowError) -> [UInt8] {
        guard let lib = LZ4Library.shared else {
            // Pure-Swift fallback for machines without liblz4.
            return try LZ4FrameDecoder.decode(src, size: size)
        }
        var ctx: OpaquePointer?
        if lib.isError(lib.createDctx(&ctx, 100)) != 0 || ctx == nil {
            throw ArrowError(.codecUnavailable, "LZ4 decompression context could not be created")
        }
        defer { _ = lib.freeDctx(ctx) }
        var produced = 0
        var consumed = 0
        var failed = false
        var finished = false
        let out = [UInt8](unsafeUninitializedCapacity: size) { dst, count in
            defer { count = produced }
            guard let dbase = dst.baseAddress, let sbase = src.baseAddress else { failed = true; return }
            while consumed < src.count {
                var dstSize = size - produced
                var srcSize = src.count - consumed
                let r = lib.decompress(ctx, dbase + produced, &dstSize, sbase + consumed, &srcSize, nil)
                if lib.isError(r) != 0 { failed = true; return }
                produced += dstSize
                consumed += srcSize
                if r == 0 { finished = true; if consumed < src.count { continue } else { return } }
                finished = false
                if dstSize == 0 && srcSize == 0 { failed = true; return }  // no progress
            }
        }
        if failed || !finished { throw ArrowError.invalid("LZ4 frame does not decompress") }
        if produced != size { throw ArrowError.invalid("LZ4 buffer decompressed to \(produced) bytes, expected \(size)") }
        return out
    }

    /// Compresses `src`; nil when the result would not be smaller (caller stores raw).
    static func compress(_ codec: ArrowCompression, _ src: UnsafeRawBufferPointer) throws(ArrowError) -> [UInt8] {
        switch codec {
        case .lz4Frame:
            guard let lib = LZ4Library.shared else {
                throw ArrowError(.codecUnavailable, "LZ4_FRAME compression needs liblz4.so.1, which could not be loaded")
            }
            let bound = lib.frameBound(src.count, nil)
            var out = [UInt8](repeating: 0, count: bound)
            let r = out.withUnsafeMutableBytes { dst in lib.compressFrame(dst.baseAddress, bound, src.baseAddress, src.count, nil) }
            if lib.isError(r) != 0 { throw ArrowError(.io, "LZ4 compression failed") }
            out.removeSubrange(r...)
            return out
        case .zstd(let level):
            guard let z = ZstdLibrary.shared else {
                throw ArrowError(.codecUnavailable, "ZSTD compression needs libzstd.so.1, which could not be loaded")
            }
            let bound = z.bound(src.count)
            var out = [UInt8](repeating: 0, count: bound)
            let r = out.withUnsafeMutableBytes { dst in z.compress(dst.baseAddress, bound, src.baseAddress, src.count, level) }
            if z.isError(r) != 0 { throw ArrowError(.io, "ZSTD compression failed") }
            out.removeSubrange(r...)
            return out
        }
    }
}
