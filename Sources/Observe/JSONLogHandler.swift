import Engine
import Foundation
import Glibc
import Logging
import Synchronization

/// `--log-format json`: one JSON object per line on stderr, for log collectors. Each has
/// `time` (UTC, ISO 8601 with milliseconds), `level`, `node` and `job` (when the line is about
/// one), `message`, then the line's other metadata as fields of their own.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .trace
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let write: @Sendable (String) -> Void

    /// A handler writing to stderr.
    public static func standardError(label: String) -> JSONLogHandler {
        JSONLogHandler(label: label, write: StandardError.write)
    }

    /// A handler giving each line (with its newline) to `write`.
    public init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }
        write(Self.line(time: Date(), level: event.level, message: "\(event.message)", metadata: merged))
    }

    /// One line: fixed fields first, then the metadata by name.
    static func line(time: Date, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var out = "{\"time\":\"\(Self.timestamp(time))\",\"level\":\"\(level.rawValue)\""
        for key in ["node", "job"] {
            if let value = metadata[key] { out += ",\"\(key)\":" + Self.json(value) }
        }
        out += ",\"message\":" + Self.quoted(message)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where key != "node" && key != "job" {
            guard !["time", "level", "message"].contains(key) else { continue }
            out += "," + Self.quoted(key) + ":" + Self.json(value)
        }
        return out + "}\n"
    }

    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return quoted(s)
        case .stringConvertible(let c): return quoted(c.description)
        case .array(let items): return "[" + items.map(json).joined(separator: ",") + "]"
        case .dictionary(let d):
            return "{" + d.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal (the Engine's JSON writer escapes it).
    static func quoted(_ s: String) -> String { Value.string(s).json }

    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        let millis = Int((date.timeIntervalSince1970 - Double(seconds)) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), min(999, max(0, millis)))
    }
}

/// Whole lines to stderr, one writer at a time (lines of concurrent tasks never interleave).
enum StandardError {
    private static let lock = Mutex(())

    @Sendable static func write(_ line: String) {
        lock.withLock { _ in
            let bytes = Array(line.utf8)
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(2, buffer.baseAddress?.advanced(by: offset), buffer.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }
}
