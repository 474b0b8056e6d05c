import Engine
import Foundation

/// A systemd unit that runs one workflow as a service (`hypha service install`): started
/// when the machine boots, restarted when it fails, stopped with the grace its jobs need,
/// and confined to the folders the workflow writes (docs/SERVICE.md explains every line).
struct ServiceUnit {
    /// The unit's name without `.service`: `hypha-NAME`.
    var unitName: String
    var description: String
    /// The hypha binary, its real path.
    var binary: String
    /// `hypha run`'s arguments (workflow path first).
    var arguments: [String]
    var workingDirectory: String
    var user: String?
    /// Seconds `hypha run` gives running jobs after SIGTERM (`--grace`).
    var grace: Double
    /// Folders the service may write: the state folder and what the workflow names.
    var writablePaths: [String]
    /// Where secrets (HYPHA_TOKEN, BACALHAU_API_KEY) can be put, readable by root only.
    var environmentFile: String
    var watchdogSeconds = 30

    /// The unit file's text.
    var text: String {
        let underHome = writablePaths.contains { Self.isInside($0, ["/home", "/root", "/run/user"]) }
        let underTmp = writablePaths.contains { Self.isInside($0, ["/tmp", "/var/tmp"]) }
        var lines = [
            "# Written by `hypha service install`; docs/SERVICE.md says what each line is for.",
            "[Unit]",
            "Description=\(description)",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            "Type=notify",
            "NotifyAccess=main",
            "ExecStart=" + ([binary, "run"] + arguments).map(Self.quoted).joined(separator: " "),
            // `systemctl reload`: SIGHUP loads the workflow again, restarting only changed nodes.
            "ExecReload=/bin/kill -HUP $MAINPID",
            "WorkingDirectory=\(Self.quoted(workingDirectory))",
        ]
        if let user { lines.append("User=\(user)") }
        lines += [
            "EnvironmentFile=-\(environmentFile)",
            "Restart=on-failure",
            "RestartSec=5s",
            // 130 is how `hypha run` ends after SIGTERM: a stop, not a failure.
            "SuccessExitStatus=130",
            "KillMode=mixed",
            "KillSignal=SIGTERM",
            "TimeoutStopSec=\(Int(grace.rounded(.up)) + 15)s",
            "WatchdogSec=\(watchdogSeconds)s",
            "SyslogIdentifier=\(unitName)",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
        ]
        if !writablePaths.isEmpty {
            lines.append("ReadWritePaths=" + writablePaths.map(Self.quoted).joined(separator: " "))
        }
        if !underTmp { lines.append("PrivateTmp=yes") }
        lines.append(underHome ? "ProtectHome=no" : "ProtectHome=read-only")
        lines += [
            "PrivateDevices=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectKernelLogs=yes",
            "ProtectControlGroups=yes",
            "RestrictSUIDSGID=yes",
            "RestrictRealtime=yes",
            "LockPersonality=yes",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    static func isInside(_ path: String, _ roots: [String]) -> Bool {
        roots.contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    /// A word of a unit's command line or path list: quoted when it holds spaces or quotes,
    /// with `%` and `$` doubled so systemd takes them literally.
    static func quoted(_ word: String) -> String {
        var escaped = word.replacingOccurrences(of: "%", with: "%%").replacingOccurrences(of: "$", with: "$$")
        let needsQuotes = escaped.isEmpty || escaped.contains { " \t\"'\\;".contains($0) }
        guard needsQuotes else { return escaped }
        escaped = escaped.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escaped)\""
    }

    /// Options and variables whose values are folders (or files) the workflow writes.
    static let writableNames: Set<String> = ["dir", "path", "inbox", "work", "downloads", "output", "out", "state_dir", "run_dir"]

    /// The folders the workflow writes, from its nodes' path options and its variables named in
    /// `writableNames`: a file's folder for a file (`capture`'s `path`), the folder itself
    /// otherwise. Nested folders are dropped (their parent covers them).
    static func writablePaths(of plan: WorkflowPlan, plus extra: [String]) -> [String] {
        var found: [String] = extra
        for node in plan.nodes {
            // Only options declared as paths: arrow-http's `path` is a URL path, not a folder.
            let paths = Set(node.spec.options.filter { $0.type == .path }.map(\.name))
            for (name, option) in node.config.options where writableNames.contains(name) && paths.contains(name) {
                if case .string(let text) = option.value, !text.isEmpty { found.append(folder(of: plan.info.resolve(text))) }
            }
        }
        for (name, value) in plan.info.vars.fields where writableNames.contains(name) {
            if case .string(let text) = value, text.hasPrefix("/") { found.append(folder(of: plan.info.resolve(text))) }
        }
        let standardized = Set(found.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        let sorted = standardized.sorted()
        return sorted.filter { path in !sorted.contains { $0 != path && isInside(path, [$0]) } }
    }

    /// `path` if it is (or will be) a folder, its parent if it is a file.
    static func folder(of path: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            return isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
        }
        return (path as NSString).pathExtension.isEmpty ? path : (path as NSString).deletingLastPathComponent
    }
}
