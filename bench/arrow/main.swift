// HyphaArrow benchmark (release build, see run.sh):
//   swiftc -O -module-name ArrowBench ../../Sources/Arrow/*.swift main.swift -o .build/arrow-bench
//   arrow-bench FILE.arrows [FILE-lz4.arrows FILE-zstd.arrows]
// Times (best of N) reading with full validation, materialising every row, typed column
// access, JSON lines, and encoding, on the 1,000,000-row table of arrow_baseline.py.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func best(_ n: Int = 5, _ body: () throws -> Void) rethrows -> Double {
    var b = Double.infinity
    for _ in 0..<n {
        let t0 = now()
        try body()
        b = min(b, now() - t0)
    }
    return b
}

func report(_ label: String, _ sec: Double, bytes: Int, rows: Int) {
    let mbs = Double(bytes) / 1e6 / sec
    let rps = Double(rows) / sec
    let padded = label.count >= 52 ? label : label + String(repeating: " ", count: 52 - label.count)
    print(padded
          + " best \(fmt(sec, 6)) s  \(fmt(mbs, 1)) MB/s  \(fmt(rps / 1e6, 2)) M rows/s")
}

func fmt(_ x: Double, _ digits: Int) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}

do {
    let args = Array(CommandLine.arguments.dropFirst())
    guard let path = args.first else {
        print("usage: arrow-bench FILE.arrows [compressed.arrows ...]")
        exit(2)
    }
    let bytes = try ArrowIPC.readAllBytes(path)
    let table0 = try ArrowIPC.read(bytes)
    let rows = table0.rowCount
    print("HyphaArrow bench: \(path), \(bytes.count) bytes, \(rows) rows, \(table0.batches.count) batch(es)")
    print(table0.schema)

    var t = try best { blackHole(try ArrowIPC.read(contentsOfFile: path)) }
    report("read file from disk (page cache) + full validation", t, bytes: bytes.count, rows: rows)
    t = try best { blackHole(try ArrowIPC.read(bytes)) }
    report("read, full validation (offsets + UTF-8 + nulls)", t, bytes: bytes.count, rows: rows)
    t = try best { blackHole(try ArrowIPC.read(bytes, options: .init(validateFully: false))) }
    report("read, structural checks only", t, bytes: bytes.count, rows: rows)
    t = try best {
        var copy = bytes
        copy[0] = copy[0]  // force a copy of the input, like reading from a socket
        blackHole(try ArrowIPC.read(copy))
    }
    report("copy input + read with full validation", t, bytes: bytes.count, rows: rows)

    // Materialise every row as ArrowValues (two Strings, Int64, timestamp).
    t = try best(3) {
        let table = try ArrowIPC.read(bytes)
        var n = 0
        for b in table.batches {
            let cols = b.columns.count
            for r in 0..<b.rowCount {
                for c in 0..<cols {
                    if case .string(let s) = b.value(row: r, column: c) { n &+= s.utf8.count }
                }
            }
        }
        blackHole(n)
    }
    report("read + value(row:column:) for every cell", t, bytes: bytes.count, rows: rows)

    t = try best(3) {
        let table = try ArrowIPC.read(bytes)
        var n = 0
        for b in table.batches {
            for row in b.rows {
                if case .string(let s) = row["path"] ?? .null { n &+= s.utf8.count }
                if case .int(let v) = row["size"] ?? .null { n &+= Int(truncatingIfNeeded: v) }
            }
        }
        blackHole(n)
    }
    report("read + row view by name (path, size)", t, bytes: bytes.count, rows: rows)

    struct FileRow { let path: String; let size: Int64; let mtime: Int64; let sha: String }
    t = try best(3) {
        let table = try ArrowIPC.read(bytes)
        var out: [FileRow] = []
        out.reserveCapacity(rows)
        for b in table.batches {
            let (p, s, m, h) = (b.columns[0], b.columns[1], b.columns[2], b.columns[3])
            for r in 0..<b.rowCount {
                out.append(FileRow(path: p.string(at: r), size: s.int64(at: r), mtime: m.int64(at: r), sha: h.string(at: r)))
            }
        }
        blackHole(out)
    }
    report("read + typed accessors into a Swift struct", t, bytes: bytes.count, rows: rows)

    t = best(3) {
        var n = 0
        for b in table0.batches {
            for r in 0..<b.rowCount { n &+= ArrowJSON.line(batch: b, row: r).utf8.count }
        }
        blackHole(n)
    }
    report("JSON line per row (ArrowJSON.line)", t, bytes: bytes.count, rows: rows)

    var out: [UInt8] = []
    t = try best { out = try ArrowStreamWriter.encode(schema: table0.schema, batches: table0.batches) }
    report("encode stream (columns → new [UInt8])", t, bytes: out.count, rows: rows)
    var reused: [UInt8] = []
    reused.reserveCapacity(out.count + 4096)
    t = try best {
        reused.removeAll(keepingCapacity: true)
        var enc = ArrowStreamEncoder(schema: table0.schema)
        reused += enc.start()
        for b in table0.batches { try enc.encode(b, into: &reused) }
        reused += enc.finish()
    }
    report("encode stream into a reused buffer", t, bytes: reused.count, rows: rows)
    t = try best { blackHole(try ArrowFileWriter.encode(schema: table0.schema, batches: table0.batches)) }
    report("encode file", t, bytes: out.count, rows: rows)

    // Row-oriented builder on 200,000 rows (materialised first, not timed).
    let sample = min(rows, 200_000)
    if let b0 = table0.batches.first, b0.rowCount >= sample {
        let rowValues = (0..<sample).map { b0.row($0).values }
        t = try best(3) { blackHole(try RecordBatch(schema: table0.schema, rows: rowValues)) }
        report("RecordBatch(rows:) builder, \(sample) rows", t, bytes: bytes.count * sample / rows, rows: sample)
    }

    for extra in args.dropFirst() {
        let cb = try ArrowIPC.readAllBytes(extra)
        t = try best { blackHole(try ArrowIPC.read(cb)) }
        report("read \(extra.split(separator: "/").last ?? "") (\(cb.count) B)", t, bytes: bytes.count, rows: rows)
    }
    for (name, codec) in [("lz4", ArrowCompression.lz4Frame), ("zstd", .zstd(level: 1))] where codec.isAvailable {
        var cb: [UInt8] = []
        t = try best(3) { cb = try ArrowStreamWriter.encode(schema: table0.schema, batches: table0.batches, options: .init(compression: codec)) }
        report("encode stream, \(name) (\(cb.count) B)", t, bytes: bytes.count, rows: rows)
    }
} catch {
    print("error: \(error)")
    exit(1)
}
