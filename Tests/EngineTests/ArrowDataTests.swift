import Engine
import Foundation
import HyphaArrow
import Testing

@Suite(.timeLimit(.minutes(5))) struct ArrowDataTests {
    let schema = ArrowSchema(fields: [ArrowField(name: "path", type: .utf8, nullable: false),
                                      ArrowField(name: "size", type: .int64, nullable: false)])

    func table() throws -> ArrowTable {
        ArrowTable(schema: schema, batches: [try RecordBatch(schema: schema, rows: [[.string("a b.zip"), .int(3)],
                                                                                     [.string("ü.zip"), .int(-1)]])])
    }

    @Test func dataBuiltInProcessEncodesToAStreamThatDecodesToTheSameRows() throws {
        let data = ArrowData(table: try table())
        #expect(data.rowCount == 2)
        let bytes = try data.ipcBytes()
        // Encoded as a stream a reader in another process can parse: same schema, same values.
        let decoded = try ArrowIPC.read([UInt8](bytes))
        #expect(decoded.format == .stream)
        #expect(decoded.schema.fields.map(\.name) == ["path", "size"])
        #expect(decoded.batches[0].value(row: 1, column: 0) == .string("ü.zip"))
        #expect(decoded.batches[0].value(row: 0, column: 1) == .int(3))
        // Asked again, the same bytes.
        #expect(try data.ipcBytes() == bytes)
    }

    @Test func bytesAreParsedAndValidatedOnFirstUse() throws {
        let bytes = Data(try ArrowStreamWriter.encode(schema: schema, batches: try table().batches))
        let data = ArrowData(bytes: bytes)
        #expect(try data.table().rowCount == 2)
        #expect(try data.ipcBytes() == bytes)
        let broken = ArrowData(bytes: Data([0xFF, 0xFF, 0xFF, 0xFF, 0x10, 0, 0, 0, 1, 2]))
        #expect(throws: ArrowError.self) { try broken.table() }
        #expect(broken.rowCount == nil)
    }

    @Test func aTableGivenWithTheBytesIsUsedWithoutParsingAgain() throws {
        // The HTTP source parses a body to validate it and hands the table along: consumers use it
        // as given (here the bytes are deliberately unparseable, so a second parse would throw).
        let given = try table()
        let data = ArrowData(bytes: Data([1, 2, 3]), table: given)
        #expect(try data.table().rowCount == 2)
        #expect(try data.ipcBytes() == Data([1, 2, 3]))
    }

    @Test func equalityComparesTheWireForm() throws {
        let built = ArrowData(table: try table())
        let received = ArrowData(bytes: try built.ipcBytes())
        #expect(built == received)
        #expect(built != ArrowData(bytes: Data([0])))
    }
}
