/// A read-only window into shared bytes: an Arrow buffer. Buffers read from IPC input are
/// views into the caller's byte array (no copy); only decompression and big-endian
/// byte-swapping allocate new storage.
public struct ArrowBuffer: Sendable {
    @usableFromInline let storage: [UInt8]
    @usableFromInline let start: Int
    public let count: Int

    public static let empty = ArrowBuffer(storage: [], start: 0, count: 0)

    /// A buffer that owns `bytes`.
    public init(_ bytes: [UInt8]) {
        self.storage = bytes
        self.start = 0
        self.count = bytes.count
    }

    /// Caller guarantees `0 <= start`, `start + count <= storage.count`.
    @usableFromInline init(storage: [UInt8], start: Int, count: Int) {
        self.storage = storage
        self.start = start
        self.count = count
    }

    /// Little-endian scalar number `index` (element-sized steps). Caller has validated the
    /// buffer size against the array length, so this is never out of range.
    @inlinable @inline(__always)
    func load<T: FixedWidthInteger>(_ index: Int, as _: T.Type) -> T {
        storage.withUnsafeBytes { raw in
            T(littleEndian: raw.loadUnaligned(fromByteOffset: start &+ index &* MemoryLayout<T>.size, as: T.self))
        }
    }

    /// Little-endian scalar at a byte offset.
    @inlinable @inline(__always)
    func load<T: FixedWidthInteger>(byteOffset: Int, as _: T.Type) -> T {
        storage.withUnsafeBytes { raw in
            T(littleEndian: raw.loadUnaligned(fromByteOffset: start &+ byteOffset, as: T.self))
        }
    }

    @inlinable @inline(__always)
    func byte(_ index: Int) -> UInt8 {
        storage.withUnsafeBytes { raw in raw[start &+ index] }
    }

    /// Bit `index` of an LSB-first bitmap.
    @inlinable @inline(__always)
    func bit(_ index: Int) -> Bool {
        storage.withUnsafeBytes { raw in (raw[start &+ (index >> 3)] >> UInt8(index & 7)) & 1 == 1 }
    }

    /// Copy of bytes `[offset, offset+length)` of this buffer.
    @inlinable
    func bytes(_ offset: Int, _ length: Int) -> [UInt8] {
        if length <= 0 { return [] }
        return storage.withUnsafeBytes { raw in
            Array(UnsafeRawBufferPointer(rebasing: raw[(start + offset)..<(start + offset + length)]))
        }
    }

    /// String from UTF-8 bytes `[offset, offset+length)` (validated at load time).
    @inlinable
    func string(_ offset: Int, _ length: Int) -> String {
        if length <= 0 { return "" }
        return storage.withUnsafeBytes { raw in
            String(decoding: UnsafeRawBufferPointer(rebasing: raw[(start + offset)..<(start + offset + length)]),
                   as: UTF8.self)
        }
    }

    /// All bytes of the buffer as an array (copies unless the view covers its storage).
    public var array: [UInt8] {
        if start == 0 && count == storage.count { return storage }
        return bytes(0, count)
    }

    /// Calls `body` with the raw bytes of this buffer.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[start..<(start + count)]))
        }
    }

    /// Prefix view (caller guarantees `length <= count`).
    func prefix(_ length: Int) -> ArrowBuffer {
        ArrowBuffer(storage: storage, start: start, count: Swift.min(length, count))
    }
}
