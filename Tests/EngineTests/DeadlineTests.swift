import Engine
import Synchronization
import Testing

/// `withDeadline`: what http-download bounds a file (with its retries) by, and the bacalhau
/// plugin a poll of a job with a job_timeout.
@Suite(.timeLimit(.minutes(1))) struct DeadlineTests {
    /// The deadline gives up work that takes too long, and only that.
    @Test func withinGivesUpAtTheDeadline() async {
        let quick = await withDeadline(.now + .seconds(10)) { 1 }
        #expect(quick == 1)
        let slow = await withDeadline(.now + .milliseconds(50)) { () async -> Int in
            try? await Task.sleep(for: .seconds(60))
            return 2
        }
        #expect(slow == nil)
    }

    /// A poll of a job with a job_timeout ends at the deadline, cancelled, however long the
    /// request (or its retries) would take: a loaded orchestrator cannot hold a job past it.
    @Test func aPollIsCutShortAtTheJobsDeadline() async throws {
        let cancelled = Atomic<Bool>(false)
        let polled: Int? = try await withDeadline(.now + .milliseconds(100)) { () async throws -> Int in
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                cancelled.store(true, ordering: .releasing)
                throw error
            }
            return 1
        }
        #expect(polled == nil, "the deadline came first")
        let wasCancelled = cancelled.load(ordering: .acquiring)
        #expect(wasCancelled, "the poll was cancelled")
        let answered: Int? = try await withDeadline(.now + .seconds(60)) { () async throws -> Int in 7 }
        #expect(answered == 7)
    }
}
