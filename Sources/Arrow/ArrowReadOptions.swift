public struct ArrowReadOptions: Sendable {
    /// Full validation as pyarrow's `validate(full=True)`: UTF-8 of strings, null counts
    /// against bitmaps, view prefixes. Structural checks (sizes, offsets, indices) always run.
    public var validateFully: Bool
    /// Cap on the bytes produced by decompression per message (default 1 GiB): a few
    /// kilobytes of ZSTD can announce gigabytes.
    public var maxDecompressedBytes: Int
    /// Maximum nesting depth of types / arrays.
    public var maxNestingDepth: Int

    public init(validateFully: Bool = true, maxDecompressedBytes: Int = 1 << 30, maxNestingDepth: Int = 64) {
        self.validateFully = validateFully
        self.maxDecompressedBytes = maxDecompressedBytes
        self.maxNestingDepth = maxNestingDepth
    }
}
