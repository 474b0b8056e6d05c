import Engine
import Logging
import Synchronization

/// file-watch's part of the state store: every file it emits is recorded before it is handed
/// downstream, and how it ended once everything downstream is done with it (from the
/// message's acknowledgement). On the next start a file recorded as finished is skipped and one
/// only emitted is emitted again.
final class Checkpoints: Sendable {
    let state: any StateStore
    let node: String
    let logger: Logger
    /// Messages emitted whose end is not committed yet, and who waits for there to be none.
    private let outstanding = InFlightCount()

    init(state: any StateStore, node: String, logger: Logger) {
        self.state = state
        self.node = node
        self.logger = logger
    }

    func load() async throws -> [FileCheckpoint] {
        try await state.files(node: node)
    }

    /// Records the files of one message as handed downstream (queued: see `StateStore`).
    /// Throws once the store has failed, which stops the source.
    func emitted(_ files: [FileInfo]) async throws {
        if let failure = state.failure { throw failure }
        let records = files.map { file in
            FileCheckpoint(identity: file.identity, path: file.path, changed: file.changed, contentHash: "", state: .emitted)
        }
        try await state.filesEmitted(node: node, records)
        outstanding.begin()
    }

    /// Records how one message's files ended; an interrupted message leaves them recorded as
    /// emitted (they are emitted again on the next start).
    func finished(_ files: [FileInfo], _ delivery: Delivery) {
        let failure: String?
        switch delivery {
        case .delivered: failure = nil
        case .failed(let reason): failure = reason
        case .interrupted:
            outstanding.end()
            return
        }
        let identities = files.map(\.identity)
        let paths = files.map(\.path)
        let (state, node, logger) = (state, node, logger)
        outstanding.end(after: {
            // The content hash, which tells a renamed file on a later start, is taken here:
            // after the file's jobs, not on the way to them.
            try await state.filesFinished(node: node, identities, contentHashes: paths.map(ContentHash.of), failure: failure)
        }, onFailure: { logger.error("cannot record files as finished: \($0)") })
    }

    /// Waits until every message emitted so far has ended and its end is committed.
    func drain() async {
        await outstanding.drained()
    }
}
