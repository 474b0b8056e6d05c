/// Incremental decoder for the IPC stream format, for pipes and sockets: feed bytes as
/// they arrive (any chunking); each message is decoded as soon as it is complete.
///
/// ```swift
/// var decoder = ArrowStreamDecoder()
/// while let chunk = try source.read() {
///     for batch in try decoder.feed(chunk) { handle(batch) }
/// }
/// try decoder.finish()   // throws if the input stopped inside a message
/// ```
/// Each complete message is copied once out of the pending bytes; its arrays are views
/// into that copy.
public struct ArrowStreamDecoder: Sendable {
    public let options: ArrowReadOptions
    /// Known once the Schema message has arrived.
    public private(set) var schema: ArrowSchema?
    /// True after the end-of-stream marker.
    public private(set) var isFinished = false
    /// Metadata version of the first message (4 or 5), 0 before it.
    public private(set) var metadataVersion = 0
    private var pending: [UInt8] = []
    private var start = 0
    private var decoder: IPCDecoder

    public init(options: ArrowReadOptions = .init()) {
        self.options = options
        self.decoder = IPCDecoder(options: options, forbidReplacement: false)
    }

    /// Bytes received but not yet decoded (a partial message).
    public var bufferedByteCount: Int { pending.count - start }

    /// Consumes `bytes`; returns the record batches they completed (possibly none).
    public mutating func feed(_ bytes: [UInt8]) throws(ArrowError) -> [RecordBatch] {
        if isFinished { return [] }
        if start > 0 && start >= pending.count / 2 {
            pending.removeFirst(start)
            start = 0
        }
        pending += bytes
        var out: [RecordBatch] = []
        while let size = try nextMessageSize() {
            if size == 0 {  // end-of-stream marker
                isFinished = true
                pending = []
                start = 0
                break
            }
            let msgBytes: [UInt8]
            if start == 0 && size == pending.count {
                msgBytes = pending
                pending = []
            } else {
                msgBytes = Array(pending[start..<(start + size)])
                start += size
            }
            guard let m = try readMessage(msgBytes, at: 0, end: msgBytes.count) else { continue }
            if schema == nil {
                guard m.headerType == MessageHeader.schema, let h = m.header else {
                    throw ArrowError.invalid("stream does not start with a Schema message (header type \(m.headerType))")
                }
                decoder.version = m.version
                metadataVersion = Int(m.version) + 1
                try decoder.setSchema(h, metadataSize: m.metadataSize)
                schema = decoder.schema
                continue
            }
            try decoder.handle(m)
            out += decoder.batches
            decoder.batches.removeAll()
        }
        return out
    }

    /// Call at the end of the input: succeeds after an end-of-stream marker or between
    /// messages; throws if the input ended inside a message or before the schema.
    public func finish() throws(ArrowError) {
        if isFinished { return }
        if bufferedByteCount > 0 {
            throw ArrowError.invalid("stream ended inside a message (\(bufferedByteCount) bytes pending)")
        }
        if schema == nil { throw ArrowError.invalid("empty stream: no Schema message") }
    }

    /// Size of the complete message at `start` (0 = end-of-stream marker), or nil if more
    /// bytes are needed.
    private func nextMessageSize() throws(ArrowError) -> Int? {
        let avail = pending.count - start
        if avail < 4 { return nil }
        func i32(_ p: Int) -> Int32 {
            pending.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: start + p, as: Int32.self)) }
        }
        var prefix = 4
        var len = i32(0)
        if len == -1 {
            if avail < 8 { return nil }
            len = i32(4)
            prefix = 8
        }
        if len == 0 { return 0 }
        if len < 0 { throw ArrowError.invalid("negative message metadata length \(len)") }
        let metaSize = Int(len)
        if avail < prefix + metaSize { return nil }
        let msg = try FBReader(bytes: pending, base: start + prefix, size: metaSize).root()
        let body = try nonNegative(try msg.int(3, Int64.self, 0), "message body length")
        let total = try checkedAdd(prefix + metaSize, body, "message size")
        return avail >= total ? total : nil
    }
}
