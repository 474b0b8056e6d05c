/// One encapsulated message located in the input.
struct RawMessage {
    /// The bytes the offsets below refer to.
    let input: [UInt8]
    let version: Int16
    let headerType: UInt8
    let header: FBTable?
    let bodyStart: Int
    let bodyLength: Int
    let metadataSize: Int
    /// Position right after the body.
    let end: Int
    let customMetadata: [ArrowKeyValue]
}

enum MessageHeader {
    static let schema: UInt8 = 1
    static let dictionaryBatch: UInt8 = 2
    static let recordBatch: UInt8 = 3
}

/// Reads the message starting at `pos` (encapsulated or legacy framing).
/// Returns nil at end of input or at an end-of-stream marker.
func readMessage(_ input: [UInt8], at pos: Int, end: Int) throws(ArrowError) -> RawMessage? {
    if pos >= end { return nil }
    if end - pos < 4 { throw ArrowError.invalid("truncated message length at byte \(pos)") }
    func i32(_ p: Int) -> Int32 {
        input.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: p, as: Int32.self)) }
    }
    var prefix = 4
    var len = i32(pos)
    if len == -1 {
        if end - pos < 8 {
            if end - pos == 4 { return nil }  // marker alone at the very end
            throw ArrowError.invalid("truncated message length at byte \(pos)")
        }
        len = i32(pos + 4)
        prefix = 8
    }
    if len == 0 { return nil }
    if len < 0 { throw ArrowError.invalid("negative message metadata length \(len) at byte \(pos)") }
    let metaStart = pos + prefix
    let metaSize = Int(len)
    if metaSize > end - metaStart {
        throw ArrowError.invalid("message metadata of \(metaSize) bytes at byte \(pos) runs past the end of the input (\(end - metaStart) bytes left)")
    }
    let r = FBReader(bytes: input, base: metaStart, size: metaSize)
    let msg = try r.root()
    let version = try msg.int(0, Int16.self, 0)
    if version < 3 { throw ArrowError.unsupported("old metadata version V\(version + 1) (only V4 and V5 are supported)") }
    if version > 4 { throw ArrowError.unsupported("future metadata version \(version) (only V4 and V5 are supported)") }
    let headerType = try msg.int(1, UInt8.self, 0)
    let header = try msg.table(2)
    let bodyLength = try nonNegative(try msg.int(3, Int64.self, 0), "message body length")
    let bodyStart = metaStart + metaSize
    if bodyLength > end - bodyStart {
        throw ArrowError.invalid("message body of \(bodyLength) bytes at byte \(bodyStart) runs past the end of the input (\(end - bodyStart) bytes left)")
    }
    return RawMessage(input: input, version: version, headerType: headerType, header: header, bodyStart: bodyStart,
                      bodyLength: bodyLength, metadataSize: prefix + metaSize, end: bodyStart + bodyLength,
                      customMetadata: try msg.keyValues(4))
}
