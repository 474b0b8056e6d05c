/// Runs `work` until `deadline`: its result, or nil when the deadline comes first (`work` is
/// then cancelled, and waited for). When the caller itself is cancelled (a shutdown), `work` is
/// cancelled too and what it returns is the result: it decides how an interrupted run ends.
///
/// For limits on a whole piece of work that a per-request timeout cannot give: a download with
/// its retries, a poll whose request is retried.
public func withDeadline<T: Sendable>(_ deadline: ContinuousClock.Instant,
                                      _ work: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await work() }
        group.addTask {
            try? await Task.sleep(until: deadline, clock: .continuous)
            return nil
        }
        var expired = false
        while let next = await group.next() {
            if let value = next {
                group.cancelAll()
                return expired ? nil : value
            }
            // The timer ended: the deadline passed, unless the caller is being cancelled, when
            // `work` ends on its own.
            if !Task.isCancelled {
                expired = true
                group.cancelAll()
            }
        }
        return nil
    }
}

/// `withDeadline` for work that throws: nil when the deadline comes first, else what `work`
/// returns or throws.
public func withDeadline<T: Sendable>(_ deadline: ContinuousClock.Instant,
                                      _ work: @escaping @Sendable () async throws -> T) async throws -> T? {
    let outcome: Result<T, any Error>? = await withDeadline(deadline) {
        do {
            return .success(try await work())
        } catch {
            return .failure(error)
        }
    }
    return try outcome?.get()
}
