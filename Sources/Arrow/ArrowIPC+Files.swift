#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ArrowIPC {
    /// Reads a stream or file from `Data` (copies the bytes once into an array).
    public static func read(_ data: Data, options: ArrowReadOptions = .init()) throws(ArrowError) -> ArrowTable {
        try read([UInt8](data), options: options)
    }

    /// Reads a stream or file from disk.
    public static func read(contentsOfFile path: String, options: ArrowReadOptions = .init()) throws(ArrowError) -> ArrowTable {
        try read(try readAllBytes(path), options: options)
    }

    /// Whole contents of a file as bytes.
    public static func readAllBytes(_ path: String) throws(ArrowError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw ArrowError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw ArrowError(.io, "cannot stat \(path)") }
        let expected = Swift.max(Int(st.st_size), 0)
        // Read straight into the array (one copy from the page cache).
        var failed: Int32 = 0
        var out = [UInt8](unsafeUninitializedCapacity: expected) { buf, count in
            count = 0
            while count < expected {
                let n = posixRead(fd, buf.baseAddress.map { $0 + count }, expected - count)
                if n < 0 {
                    if errno == EINTR { continue }
                    failed = errno
                    return
                }
                if n == 0 { break }
                count += n
            }
        }
        if failed != 0 { throw ArrowError(.io, "cannot read \(path): \(String(cString: strerror(failed)))") }
        // The file may have grown (or be a pipe with st_size 0): read the rest in chunks.
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ArrowError(.io, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Writes bytes to a file (created or truncated).
    public static func writeAllBytes(_ bytes: [UInt8], to path: String) throws(ArrowError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 { throw ArrowError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + done }, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ArrowError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}


extension ArrowStreamWriter {
    /// `encode` returning `Data`.
    public static func encodeData(schema: ArrowSchema, batches: [RecordBatch],
                                  options: ArrowWriteOptions = .init()) throws(ArrowError) -> Data {
        Data(try encode(schema: schema, batches: batches, options: options))
    }
}

@inline(__always)
private func posixRead(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int {
    read(fd, p, n)
}
