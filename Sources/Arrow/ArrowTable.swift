public enum ArrowIPCFormat: Sendable, Hashable {
    case stream, file
}

/// Result of reading an IPC stream or file.
public struct ArrowTable: Sendable {
    public let schema: ArrowSchema
    public let batches: [RecordBatch]
    public let format: ArrowIPCFormat
    /// 4 = V4, 5 = V5 (of the first message; 0 if there was none).
    public let metadataVersion: Int
    /// Custom metadata of the file footer (file format only).
    public let footerMetadata: [ArrowKeyValue]

    public init(schema: ArrowSchema, batches: [RecordBatch], format: ArrowIPCFormat = .stream,
                metadataVersion: Int = 5, footerMetadata: [ArrowKeyValue] = []) {
        self.schema = schema
        self.batches = batches
        self.format = format
        self.metadataVersion = metadataVersion
        self.footerMetadata = footerMetadata
    }

    public var rowCount: Int { batches.reduce(0) { $0 + $1.rowCount } }
}
