import Engine
import Foundation
import Synchronization

/// Live progress on a terminal: one line per node with messages in, out, failed, and work
/// running, redrawn a few times a second on stderr.
final class ProgressDisplay: Sendable {
    let stats: [NodeStats]
    let rows: [(id: String, plugin: String, isSource: Bool, isExecutor: Bool)]
    private let drawnLines = Mutex(0)

    init(stats: [NodeStats], plan: WorkflowPlan) {
        self.stats = stats
        rows = plan.nodes.map {
            ($0.config.id, $0.config.plugin, $0.plugin.isSource, $0.plugin.isExecutor)
        }
    }

    func run() async {
        while !Task.isCancelled {
            draw()
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    func draw() {
        var text = ""
        let previous = drawnLines.withLock { $0 }
        if previous > 0 { text += "\u{1B}[\(previous)A" }
        for (row, stat) in zip(rows, stats) {
            let s = stat.snapshot
            var line = "  \(row.id.padding(toLength: 16, withPad: " ", startingAt: 0)) \(row.plugin.padding(toLength: 13, withPad: " ", startingAt: 0)) "
            if row.isSource {
                line += "out \(s.emitted)"
                if s.failed > 0 { line += "  failed \(s.failed)" }
                if s.bytes > 0 { line += String(format: "  received %.1f MB", Double(s.bytes) / 1_000_000) }
            } else if row.isExecutor {
                line += "jobs running \(s.active)  done \(s.done - s.failed)  failed \(s.failed)  (in \(s.received))"
            } else {
                line += "in \(s.received)  out \(s.emitted)  failed \(s.failed)"
            }
            text += "\u{1B}[2K" + line + "\n"
        }
        drawnLines.withLock { $0 = rows.count }
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Draws the final state once and leaves it on screen.
    func clear() {
        draw()
    }
}
