// Hypha's Arrow IPC codec — hand-written in pure Swift by design.
//
// No Swift Arrow library is used (apache/arrow-swift lacks dictionaries, compression,
// most types and input validation; see docs/ARROW.md). Everything here — the FlatBuffers
// reader/writer, the IPC framing, the columnar loader and the encoder — is our own code,
// written from the Arrow format specification (Schema.fbs, Message.fbs, File.fbs,
// Columnar.rst).

/// Every failure of the Arrow codec. Malformed input always surfaces as one of these,
/// never as a crash.
public struct ArrowError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The bytes are not valid Arrow IPC (bad framing, FlatBuffers, layout, ...).
        case invalidData
        /// Valid Arrow, but something this codec does not implement.
        case unsupported
        /// A value handed to the builder does not fit the column's type.
        case typeMismatch
        /// Compression codec not available on this machine (library missing).
        case codecUnavailable
        /// A configured limit (decompressed size, nesting, ...) was exceeded.
        case limitExceeded
        /// Reading or writing a file failed.
        case io
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String {
        switch kind {
        case .invalidData: return "invalid Arrow IPC data: \(message)"
        case .unsupported: return "unsupported Arrow feature: \(message)"
        case .typeMismatch: return "Arrow type mismatch: \(message)"
        case .codecUnavailable: return "Arrow compression codec unavailable: \(message)"
        case .limitExceeded: return "Arrow limit exceeded: \(message)"
        case .io: return "Arrow I/O error: \(message)"
        }
    }

    static func invalid(_ message: String) -> ArrowError { ArrowError(.invalidData, message) }
    static func unsupported(_ message: String) -> ArrowError { ArrowError(.unsupported, message) }
    static func mismatch(_ message: String) -> ArrowError { ArrowError(.typeMismatch, message) }
}

// MARK: - checked arithmetic helpers (input-derived numbers never overflow silently)

@inline(__always)
func checkedAdd(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws(ArrowError) -> Int {
    let (r, o) = a.addingReportingOverflow(b)
    if o { throw ArrowError.invalid("integer overflow computing \(what())") }
    return r
}

@inline(__always)
func checkedMul(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws(ArrowError) -> Int {
    let (r, o) = a.multipliedReportingOverflow(by: b)
    if o { throw ArrowError.invalid("integer overflow computing \(what())") }
    return r
}

/// Converts an input-derived Int64 to Int, rejecting negatives.
@inline(__always)
func nonNegative(_ v: Int64, _ what: @autoclosure () -> String) throws(ArrowError) -> Int {
    if v < 0 { throw ArrowError.invalid("\(what()) is negative (\(v))") }
    guard let r = Int(exactly: v) else { throw ArrowError.invalid("\(what()) too large (\(v))") }
    return r
}
