import Foundation
import HyphaArrow
import Synchronization

/// The `arrow` port type: Arrow data as it travels between nodes.
///
/// Between machines (and into files) Arrow travels as IPC stream bytes; inside one process it
/// need not be serialised at all. So an `ArrowData` holds whichever form it was made from and
/// makes the other on first use: a source that builds record batches (`file-watch`) hands over
/// the table, and the IPC bytes are encoded only if a node needs the wire format (the HTTP
/// sink); data that arrived as bytes is parsed and validated once, by the first node that asks
/// for the table, and a node that has already parsed it (the HTTP source, to answer 400 for
/// bad Arrow) passes the table along so nobody parses it again.
///
/// Why: so a batch is never encoded only for the next node to parse it again.
public struct ArrowData: Sendable, Equatable {
    private let storage: Storage

    /// Data that arrived as IPC bytes (stream or file format); `table`, when the caller has
    /// already parsed and validated exactly these bytes.
    public init(bytes: Data, table: ArrowTable? = nil) {
        storage = Storage(table.map { .both(bytes, $0) } ?? .bytes(bytes))
    }

    /// Data built in this process; its IPC bytes are encoded when first asked for.
    public init(table: ArrowTable) {
        storage = Storage(.table(table))
    }

    /// The data as an IPC stream (or the file-format bytes it arrived as).
    public func ipcBytes() throws(ArrowError) -> Data {
        try storage.bytes()
    }

    /// The decoded table, every buffer validated.
    public func table() throws(ArrowError) -> ArrowTable {
        try storage.table()
    }

    /// Rows in all batches, when the table is at hand or can be decoded.
    public var rowCount: Int? { try? table().rowCount }

    public static func == (lhs: ArrowData, rhs: ArrowData) -> Bool {
        lhs.storage === rhs.storage || (try? lhs.ipcBytes() == rhs.ipcBytes()) == true
    }

    /// The forms at hand, each made at most once; shared by every copy of the message (fan-out).
    private final class Storage: Sendable {
        enum Forms {
            case bytes(Data)
            case table(ArrowTable)
            case both(Data, ArrowTable)
        }
        private let forms: Mutex<Forms>

        init(_ forms: Forms) {
            self.forms = Mutex(forms)
        }

        func bytes() throws(ArrowError) -> Data {
            let table: ArrowTable
            switch forms.withLock({ $0 }) {
            case .bytes(let bytes), .both(let bytes, _): return bytes
            case .table(let t): table = t
            }
            let encoded = Data(try ArrowStreamWriter.encode(schema: table.schema, batches: table.batches))
            forms.withLock { $0 = .both(encoded, table) }
            return encoded
        }

        func table() throws(ArrowError) -> ArrowTable {
            let bytes: Data
            switch forms.withLock({ $0 }) {
            case .table(let table), .both(_, let table): return table
            case .bytes(let b): bytes = b
            }
            let decoded = try ArrowIPC.read([UInt8](bytes))
            forms.withLock { $0 = .both(bytes, decoded) }
            return decoded
        }
    }
}
