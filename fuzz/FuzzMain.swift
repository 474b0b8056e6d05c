// libFuzzer entry point for the HyphaArrow IPC reader.
// Built by fuzz/run.sh with:
//   swiftc -sanitize=fuzzer,address -parse-as-library -O ../Sources/Arrow/*.swift FuzzMain.swift
// Every input is read as an IPC stream or file; accepted tables are fully walked, rendered
// as JSON lines and re-encoded (FuzzTarget.run). Errors are fine; traps are bugs.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArrowIPC(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = FuzzTarget.run(bytes)
    // Also force each framing explicitly (auto-detection picks one).
    _ = try? ArrowIPC.readStream(bytes, options: ArrowReadOptions(maxDecompressedBytes: 64 << 20))
    _ = try? ArrowIPC.readFile(bytes, options: ArrowReadOptions(maxDecompressedBytes: 64 << 20))
    return 0
}
