/// A short, stable fingerprint of a job spec: FNV-1a (64-bit) over its JSON with map keys
/// sorted. It tells "the same job again" from "this job with another spec" (a changed template
/// or variables): the job journal uses it to decide whether a recorded result still stands,
/// the bacalhau plugin to tell a job to adopt from one to update. Not a security hash.
public enum SpecFingerprint {
    public static func of(_ value: Value) -> String {
        var hash = StableHash()
        var bytes: [UInt8] = []
        writeCanonical(value, into: &bytes)
        hash.add(bytes)
        return hash.hex
    }

    /// The JSON of `value` with every map's keys sorted.
    static func writeCanonical(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .map(let record):
            out.append(UInt8(ascii: "{"))
            for (index, (key, item)) in record.fields.sorted(by: { $0.0 < $1.0 }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Value.string(key).writeJSON(into: &out)
                out.append(UInt8(ascii: ":"))
                writeCanonical(item, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .list(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeCanonical(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        default:
            value.writeJSON(into: &out)
        }
    }
}
