/// Keeps local jobs from outliving Hypha: an executor tells it each job's process group as the
/// job starts and again when it has ended; if Hypha dies, however it dies, the guard ends the
/// groups still running. Jobs also carry `environmentKey` in their environment, so a restart
/// can find (and end) what a guard could not.
public protocol JobGuard: Sendable {
    /// The variable (`HYPHA_JOB_OF`) and value every local job of this state folder carries.
    var environmentKey: (name: String, value: String) { get }
    func started(processGroup: Int32)
    func ended(processGroup: Int32)
}
