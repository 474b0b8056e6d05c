import Engine

/// A short, stable fingerprint of a job spec: FNV-1a (64-bit) over its JSON with map keys
/// sorted. It tells "the same job again" (adopt it) from "this job with another spec" (a
/// changed template or variables: update it). Not a security hash.
enum SpecFingerprint {
    static func of(_ value: Value) -> String {
        StableHash.hex(of: canonical(value))
    }

    static func canonical(_ value: Value) -> String {
        switch value {
        case .map(let record):
            let pairs = record.fields.sorted { $0.0 < $1.0 }
            return "{" + pairs.map { Value.string($0.0).json + ":" + canonical($0.1) }.joined(separator: ",") + "}"
        case .list(let items):
            return "[" + items.map(canonical).joined(separator: ",") + "]"
        default:
            return value.json
        }
    }
}
