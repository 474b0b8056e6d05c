import Foundation
import Synchronization

/// Decides, per request, which fault to inject. Seeded, so a run can be repeated.
final class FaultInjector: Sendable {
    enum Fault: Equatable, Sendable {
        case none
        /// Answer with this status without handling the request.
        case fail(Int)
        /// Close the connection before handling the request.
        case dropBefore
        /// Handle the request, then close the connection without answering.
        case dropAfter
    }

    private let failRate: Double
    private let dropRate: Double
    private let rng: Mutex<SplitMix64>

    init(failRate: Double, dropRate: Double, seed: UInt64) {
        self.failRate = failRate
        self.dropRate = dropRate
        rng = Mutex(SplitMix64(seed: seed))
    }

    var isActive: Bool { failRate > 0 || dropRate > 0 }

    func next() -> Fault {
        guard isActive else { return .none }
        return rng.withLock { rng in
            let roll = rng.nextDouble()
            if roll < failRate {
                let statuses = [500, 503, 429]
                return .fail(statuses[Int(rng.next() % UInt64(statuses.count))])
            }
            if roll < failRate + dropRate {
                return rng.next() % 2 == 0 ? .dropBefore : .dropAfter
            }
            return .none
        }
    }
}

/// A small, fast, seedable generator.
struct SplitMix64: Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// Bacalhau's 1000 requests/s limit (echo's rate limiter), as a token bucket.
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var last: ContinuousClock.Instant
    }

    private let rate: Double
    private let bucket: Mutex<Bucket>

    init(perSecond: Int) {
        rate = Double(perSecond)
        bucket = Mutex(Bucket(tokens: Double(perSecond), last: .now))
    }

    func allow() -> Bool {
        guard rate > 0 else { return true }
        return bucket.withLock { b in
            let now = ContinuousClock.now
            let elapsed = b.last.duration(to: now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            b.tokens = min(rate, b.tokens + seconds * rate)
            b.last = now
            guard b.tokens >= 1 else { return false }
            b.tokens -= 1
            return true
        }
    }
}
