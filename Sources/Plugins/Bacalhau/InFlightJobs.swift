import Synchronization

/// The jobs this node is submitting or following right now, so shutdown can stop them.
/// A job is known by name from before its submission (its ID may never come back if the
/// run is interrupted mid-request; Bacalhau also finds a job by name).
final class InFlightJobs: Sendable {
    struct Ticket: Sendable, Hashable { let serial: Int }

    private struct Entry {
        var name: String
        var namespace: String?
        var id: String?
    }

    private struct State {
        var next = 0
        var entries: [Int: Entry] = [:]
    }

    private let state = Mutex(State())

    func begin(name: String, namespace: String?) -> Ticket {
        state.withLock { s in
            s.next += 1
            s.entries[s.next] = Entry(name: name, namespace: namespace)
            return Ticket(serial: s.next)
        }
    }

    func identify(_ ticket: Ticket, id: String) {
        state.withLock { $0.entries[ticket.serial]?.id = id }
    }

    func id(of ticket: Ticket) -> String? {
        state.withLock { $0.entries[ticket.serial]?.id }
    }

    func end(_ ticket: Ticket) {
        _ = state.withLock { $0.entries.removeValue(forKey: ticket.serial) }
    }

    /// What is still in flight: the job ID where known, else its name, with the namespace.
    func remaining() -> [(String, String?)] {
        state.withLock { s in s.entries.values.map { ($0.id ?? $0.name, $0.namespace) } }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
