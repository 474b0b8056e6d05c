/// Time resolution of time, timestamp and duration types.
public enum TimeUnit: Int16, Sendable, Hashable, CaseIterable {
    case second = 0, millisecond = 1, microsecond = 2, nanosecond = 3

    /// Short name: s, ms, us, ns.
    public var symbol: String {
        switch self {
        case .second: return "s"
        case .millisecond: return "ms"
        case .microsecond: return "us"
        case .nanosecond: return "ns"
        }
    }
    /// Ticks per second.
    public var ticksPerSecond: Int64 {
        switch self {
        case .second: return 1
        case .millisecond: return 1_000
        case .microsecond: return 1_000_000
        case .nanosecond: return 1_000_000_000
        }
    }
}

/// Unit of a date: date32 counts days, date64 counts milliseconds since the UNIX epoch.
public enum DateUnit: Int16, Sendable, Hashable {
    case day = 0, millisecond = 1
}

public enum IntervalUnit: Int16, Sendable, Hashable, CaseIterable {
    case yearMonth = 0, dayTime = 1, monthDayNano = 2
}

public enum UnionMode: Int16, Sendable, Hashable {
    case sparse = 0, dense = 1
}
