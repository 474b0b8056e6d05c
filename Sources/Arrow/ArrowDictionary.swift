/// The values of a dictionary id: the initial batch plus any delta batches, as chunks.
public final class ArrowDictionary: Sendable {
    public let chunks: [ArrowArray]
    let ends: [Int]
    public let count: Int

    init(chunks: [ArrowArray]) {
        self.chunks = chunks
        var e: [Int] = []
        var total = 0
        for c in chunks {
            total += c.length
            e.append(total)
        }
        self.ends = e
        self.count = total
    }

    func appending(_ chunk: ArrowArray) -> ArrowDictionary {
        ArrowDictionary(chunks: chunks + [chunk])
    }

    @inline(__always)
    func locate(_ i: Int) -> (ArrowArray, Int)? {
        guard i >= 0, i < count else { return nil }
        if chunks.count == 1 { return (chunks[0], i) }
        var k = 0
        while k < ends.count, ends[k] <= i { k += 1 }
        guard k < chunks.count else { return nil }
        return (chunks[k], i - (k == 0 ? 0 : ends[k - 1]))
    }

    func isNull(_ i: Int) -> Bool {
        guard let (c, j) = locate(i) else { return true }
        return c.isNull(j)
    }

    public func value(at i: Int) -> ArrowValue {
        guard let (c, j) = locate(i) else { return .null }
        return c.value(at: j)
    }
}
