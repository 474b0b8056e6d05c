/// Options for encoding IPC streams and files.
public struct ArrowWriteOptions: Sendable {
    /// Body compression (LZ4 frame or ZSTD; needs liblz4 / libzstd at run time).
    public var compression: ArrowCompression?
    /// Write metadata version V4 instead of V5 (for very old readers).
    public var metadataV4: Bool
    /// Pre-0.15 stream framing: 4-byte length prefix without the 0xFFFFFFFF marker.
    public var legacyFraming: Bool
    /// Custom metadata stored in the file footer (file format only).
    public var footerMetadata: [ArrowKeyValue]

    public init(compression: ArrowCompression? = nil, metadataV4: Bool = false, legacyFraming: Bool = false,
                footerMetadata: [ArrowKeyValue] = []) {
        self.compression = compression
        self.metadataV4 = metadataV4
        self.legacyFraming = legacyFraming
        self.footerMetadata = footerMetadata
    }
}
