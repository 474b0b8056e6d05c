import Engine
import Foundation

/// What `hypha top` shows: one reading of a running Hypha's `/api/v1/status`, and the table
/// drawn from two successive readings (the rates are their difference over the time between).
struct TopView {
    struct Node {
        var id: String
        var kind: String
        var received: Int64
        var emitted: Int64
        var failed: Int64
        var retries: Int64
        var queueDepth: Int64?
        var queueCapacity: Int64?
        var jobsRunning: Int64?
    }

    struct Reading {
        var workflow: String
        var runID: String
        var uptime: Double
        var finished: Bool
        var nodes: [Node]
        var jobsRunning: Int
        var lastFailure: String?

        /// Nil when `status` is not the endpoint's status (no nodes).
        init?(_ status: Value) {
            guard let nodes = status["nodes"]?.listValue else { return nil }
            workflow = status["workflow"]?["name"]?.stringValue ?? "?"
            runID = status["run_id"]?.stringValue ?? ""
            uptime = status["uptime_seconds"]?.doubleValue ?? 0
            finished = status["finished"]?.boolValue ?? false
            self.nodes = nodes.map { n in
                Node(id: n["id"]?.stringValue ?? "?", kind: n["kind"]?.stringValue ?? "",
                     received: n["received"]?.intValue ?? 0, emitted: n["emitted"]?.intValue ?? 0,
                     failed: n["failed"]?.intValue ?? 0, retries: n["retries"]?.intValue ?? 0,
                     queueDepth: n["queue_depth"]?.intValue, queueCapacity: n["queue_capacity"]?.intValue,
                     jobsRunning: n["jobs_running"]?.intValue)
            }
            jobsRunning = status["jobs_running"]?.listValue?.count ?? 0
            lastFailure = status["failures"]?.listValue?.last.map { f in
                "\(f["node"]?.stringValue ?? "?"): \(f["message"]?.stringValue ?? "")".replacingOccurrences(of: "\n", with: " ")
            }
        }
    }

    var url: String
    var current: Reading
    /// The reading before, for the rates (none for the first, or across a new run).
    var previous: Reading?
    /// Why the figures are not fresh (the connection is lost), said above the table.
    var problem: String?

    static let columns = ["NODE", "KIND", "IN/S", "OUT/S", "IN", "OUT", "QUEUE", "FAILED", "RETRIES", "RUNNING"]

    /// The view as lines of text (the screen cuts them to its width).
    func lines() -> [String] {
        var lines = ["hypha top  \(current.workflow) at \(url)  run \(current.runID)  up \(Self.duration(current.uptime))"
                     + (current.finished ? "  (the run has ended)" : "")]
        lines.append(problem ?? "")
        let before = previous.flatMap { $0.runID == current.runID && current.uptime > $0.uptime ? $0 : nil }
        let seconds = before.map { current.uptime - $0.uptime } ?? 0
        func rate(_ now: Int64, _ then: Int64?) -> String {
            guard let then, seconds > 0 else { return "-" }
            return String(format: "%.1f", Double(now - then) / seconds)
        }
        let rows: [[String]] = current.nodes.map { node in
            let earlier = before?.nodes.first { $0.id == node.id }
            let isSource = node.kind == "source"
            return [
                node.id, node.kind,
                isSource ? "-" : rate(node.received, earlier?.received), rate(node.emitted, earlier?.emitted),
                isSource ? "-" : "\(node.received)", "\(node.emitted)",
                node.queueDepth.map { depth in "\(depth)/\(node.queueCapacity.map(String.init) ?? "?")" } ?? "-",
                "\(node.failed)", "\(node.retries)", node.jobsRunning.map(String.init) ?? "-",
            ]
        }
        let widths = Self.columns.indices.map { column in ([Self.columns] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [Self.columns] + rows {
            // The names and kinds to the left, the figures to the right.
            lines.append(row.enumerated().map { column, text in
                let pad = String(repeating: " ", count: widths[column] - text.count)
                return column < 2 ? text + pad : pad + text
            }.joined(separator: "  "))
        }
        lines.append("")
        lines.append("jobs running: \(current.jobsRunning)" + (current.lastFailure.map { "   latest failure: \($0)" } ?? ""))
        return lines
    }

    /// "42s", "3m05s", "2h01m".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, s % 3600 / 60)
    }
}
