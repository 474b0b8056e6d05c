import Engine
import Logging
import Synchronization

/// What one `http-download` node knows of its URLs: in memory for the run (so a later poll
/// asks only for changes even with `--no-state`), and in the state store when there is one
/// (so a restart does too). Each file's record says `emitted` before it is handed downstream
/// and `done` once everything downstream has finished with it; a file emitted and not
/// finished is emitted again on the next start.
final class DownloadLedger: Sendable {
    let state: (any StateStore)?
    let node: String
    let logger: Logger
    private let records = Mutex<[String: DownloadRecord]>([:])
    /// Messages emitted whose end is not recorded yet, and who waits for there to be none.
    private let outstanding = InFlightCount()

    init(state: (any StateStore)?, node: String, logger: Logger) {
        self.state = state
        self.node = node
        self.logger = logger
    }

    func load() async throws {
        guard let state else { return }
        let known = try await state.downloads(node: node)
        records.withLock { records in
            for record in known { records[record.url] = record }
        }
    }

    func record(_ url: String) -> DownloadRecord? {
        records.withLock { $0[url] }
    }

    /// Remembers `record` (committed to the store before this returns, when there is one).
    func record(_ record: DownloadRecord) async throws {
        records.withLock { $0[record.url] = record }
        if let failure = state?.failure { throw failure }
        try await state?.downloadRecorded(node: node, record)
    }

    func willEmit() {
        outstanding.begin()
    }

    /// Records how everything downstream ended with a file. A failure downstream (a job that
    /// failed: a dead letter) is not a reason to fetch the file again, so it is `done` too,
    /// with the reason; an interruption leaves it `emitted`, to be emitted on the next start.
    func finished(_ record: DownloadRecord, _ delivery: Delivery) {
        var ended = record
        switch delivery {
        case .delivered:
            ended.state = .done
        case .failed(let reason):
            ended.state = .done
            ended.reason = "downstream: \(reason)"
        case .interrupted:
            outstanding.end()
            return
        }
        records.withLock { records in
            // A later fetch of the same URL (a watch poll) may have replaced it meanwhile.
            if records[ended.url]?.path == ended.path, records[ended.url]?.sha256 == ended.sha256 { records[ended.url] = ended }
        }
        guard let state else {
            outstanding.end()
            return
        }
        let (node, logger, record) = (node, logger, ended)
        outstanding.end(after: { try await state.downloadRecorded(node: node, record) },
                        onFailure: { logger.error("cannot record \(record.url) as finished: \($0)") })
    }

    /// Waits until every file emitted so far has ended and its end is recorded.
    func drain() async {
        await outstanding.drained()
    }
}
