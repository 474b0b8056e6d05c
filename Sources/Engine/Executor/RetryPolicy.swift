import Foundation
import Synchronization

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

    /// A `Retry-After` header's wait in seconds: a number of seconds, or an HTTP date.
    public static func retryAfter(_ header: String?, now: Date = Date()) -> Double? {
        guard let text = header?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Double(text) { return max(0, seconds) }
        return httpDate.withLock { $0.date(from: text) }.map { max(0, $0.timeIntervalSince(now)) }
    }

    /// The HTTP date format (RFC 9110's IMF-fixdate); a formatter is costly to make.
    private static let httpDate: Mutex<DateFormatter> = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return Mutex(formatter)
    }()

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
