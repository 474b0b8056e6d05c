/// How transient failures are retried: exponential backoff with jitter, bounded in attempts.
///
/// The delay before retry `n` (1-based) is drawn uniformly from
/// `[cap/2, cap]`, where `cap = min(maxDelay, initialDelay * 2^(n-1))` ("equal jitter"): it
/// spreads clients apart but never retries at once. A server's `Retry-After` raises the delay.
public struct RetryPolicy: Sendable, Equatable {
    /// Total attempts, the first one included.
    public var maxAttempts: Int
    public var initialDelay: Double
    public var maxDelay: Double

    public init(maxAttempts: Int = 10, initialDelay: Double = 0.05, maxDelay: Double = 5) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = max(0, initialDelay)
        self.maxDelay = max(self.initialDelay, maxDelay)
    }

    /// Seconds to wait before retry number `retry` (1 for the first retry).
    public func delay(beforeRetry retry: Int, retryAfter: Double? = nil,
                      random: (ClosedRange<Double>) -> Double = { Double.random(in: $0) }) -> Double
    {
        let exponent = Double(min(max(retry - 1, 0), 30))
        let cap = min(maxDelay, initialDelay * pow2(exponent))
        let jittered = cap > 0 ? random((cap / 2)...cap) : 0
        if let retryAfter, retryAfter > jittered { return min(retryAfter, max(maxDelay, 30)) }
        return jittered
    }

    private func pow2(_ e: Double) -> Double {
        var v = 1.0
        for _ in 0..<Int(e) { v *= 2 }
        return v
    }

    /// The longest the retries of one request can wait in total (without Retry-After).
    public var worstCaseWait: Double {
        (1..<maxAttempts).reduce(0) { $0 + min(maxDelay, initialDelay * pow2(Double(min($1 - 1, 30)))) }
    }
}
