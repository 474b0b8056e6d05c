import Engine
import Foundation

/// A systemd unit that runs one workflow as a service (`hypha service install`): started
/// when the machine boots, restarted when it fails, stopped with the grace its jobs need,
/// confined to the folders the workflow writes, and sandboxed (docs/SERVICE.md explains every
/// line).
///
/// Values go into the unit so that systemd reads them back as they were: command-line words
/// are quoted and escaped by systemd's rules, and a value that has no safe spelling (a control
/// character where a setting takes no escapes) is named by `problems()`, which `install`
/// checks before it makes any text.
struct ServiceUnit {
    /// A value from outside (the workflow, the command line) and where it came from.
    struct Sourced {
        var value: String
        var origin: String
    }

    /// The unit's name without `.service`: `hypha-NAME`.
    var unitName: String
    var workflowName: Sourced
    var workflowPath: String
    /// The hypha binary, its real path.
    var binary: String
    /// `hypha run`'s arguments (workflow path first).
    var arguments: [String]
    var workingDirectory: String
    var user: Sourced?
    /// Seconds `hypha run` gives running jobs after SIGTERM (`--grace`).
    var grace: Double
    /// Folders the service may write: the state folder and what the workflow names.
    var writable: [Sourced]
    /// Where secrets (HYPHA_TOKEN, BACALHAU_API_KEY) can be put, readable by root only.
    var environmentFile: String
    var watchdogSeconds = 30

    var writablePaths: [String] { writable.map(\.value) }

    /// Each value that cannot be written into the unit as it is, as a sentence naming the
    /// value, where it came from and what to do. Empty when the unit can be made.
    func problems() -> [String] {
        var found: [String] = []
        func checkLine(_ item: Sourced, _ setting: String, _ remedy: String) {
            guard Self.hasControlCharacter(item.value) else { return }
            found.append("\(item.origin) \(Self.shown(item.value)) holds a control character (a newline, a tab, ...), which "
                         + "cannot go into the unit's \(setting) line: \(remedy)")
        }
        checkLine(workflowName, "Description=", "give the workflow a one-line name")
        checkLine(Sourced(value: workflowPath, origin: "the workflow's path"), "Description=", "rename the file")
        checkLine(Sourced(value: workingDirectory, origin: "the workflow's folder"), "WorkingDirectory=", "move the workflow")
        if workingDirectory.last?.isWhitespace == true {
            found.append("the workflow's folder \(Self.shown(workingDirectory)) ends in a space, which systemd drops from "
                         + "WorkingDirectory=: move the workflow to a folder whose name does not")
        }
        for folder in writable {
            checkLine(folder, "ReadWritePaths=", "give a folder whose name is one plain line")
        }
        if binary.unicodeScalars.contains(where: { "\"'\\".unicodeScalars.contains($0) }) || Self.hasControlCharacter(binary) {
            found.append("the hypha binary's path \(Self.shown(binary)) holds a quote, a backslash or a control character, and "
                         + "systemd runs no program from such a path: copy hypha to a plain path (/usr/local/bin/hypha) and run "
                         + "install with that copy")
        }
        if let user, !Self.isUserName(user.value) {
            found.append("\(user.origin) \(Self.shown(user.value)) is not a user name (ASCII letters, digits, '_', '.', '-', "
                         + "not first '-' or '.'): give the service's user with --user NAME")
        }
        return found
    }

    /// Whether the service would run as root: `User=root` (or uid 0), or no `User=` at all.
    var runsAsRoot: Bool {
        guard let name = user?.value else { return true }
        if name == "root" || name == "0" { return true }
        return getpwnam(name).map { $0.pointee.pw_uid == 0 } ?? false
    }

    /// The unit file's text. Values `problems()` names would be written as they are.
    var text: String {
        let underHome = writablePaths.contains { Self.isInside($0, ["/home", "/root", "/run/user"]) }
        let underTmp = writablePaths.contains { Self.isInside($0, ["/tmp", "/var/tmp"]) }
        let command = [Self.commandWord(binary, isProgram: true), "run"] + arguments.map { Self.commandWord($0, isProgram: false) }
        var lines = [
            "# Written by `hypha service install`; docs/SERVICE.md says what each line is for.",
            "[Unit]",
            "Description=" + Self.specifiersEscaped("Hypha workflow \(workflowName.value) (\(workflowPath))"),
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            "Type=notify",
            "NotifyAccess=main",
            "ExecStart=" + command.joined(separator: " "),
            // `systemctl reload`: SIGHUP loads the workflow again, restarting only changed nodes.
            // The shell's own `kill`: /bin/kill comes from procps, which a minimal system (and
            // the package's Depends:) may not have; /bin/sh is always there.
            "ExecReload=/bin/sh -c \"kill -HUP ${MAINPID}\"",
            // Taken as written, quotes included; only specifiers are expanded.
            "WorkingDirectory=" + Self.specifiersEscaped(workingDirectory),
        ]
        if let user { lines.append("User=\(user.value)") }
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
            // Files the service and its jobs create are its user's alone (0600, folders 0700).
            "UMask=0077",
            "ProtectSystem=strict",
        ]
        if !writablePaths.isEmpty {
            lines.append("ReadWritePaths=" + writablePaths.map(Self.pathWord).joined(separator: " "))
        }
        if !underTmp { lines.append("PrivateTmp=yes") }
        lines.append(underHome ? "ProtectHome=no" : "ProtectHome=read-only")
        lines += [
            // No capabilities, even as root, and no way to gain any (setuid programs, file
            // capabilities).
            "CapabilityBoundingSet=",
            "AmbientCapabilities=",
            "NoNewPrivileges=yes",
            "RestrictSUIDSGID=yes",
            // Other users' processes are hidden, and /proc holds only processes: Hypha reads
            // its jobs' /proc/PID entries, which stay.
            "ProtectProc=invisible",
            "ProcSubset=pid",
            "PrivateDevices=yes",
            "PrivateMounts=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectKernelLogs=yes",
            "ProtectControlGroups=yes",
            "ProtectClock=yes",
            "ProtectHostname=yes",
            "RestrictRealtime=yes",
            "RestrictNamespaces=yes",
            "LockPersonality=yes",
            // No memory both writable and executable: Swift and Python need none (a JIT would).
            "MemoryDenyWriteExecute=yes",
            "RemoveIPC=yes",
            // Local, IPv4 and IPv6 sockets, and netlink, which getaddrinfo asks for addresses.
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
            "SystemCallArchitectures=native",
            // The calls services use; another one fails with EPERM instead of killing the process.
            "SystemCallFilter=@system-service",
            "SystemCallErrorNumber=EPERM",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    static func isInside(_ path: String, _ roots: [String]) -> Bool {
        roots.contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    /// `text` with `%` doubled: systemd expands `%x` specifiers in most settings.
    static func specifiersEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%%")
    }

    /// A word of `ExecStart=` that systemd reads back as `word` (systemd.service, "COMMAND
    /// LINES"): `%` doubled, and `$` in an argument (systemd expands `$NAME` in arguments, not
    /// in the program's path); in double quotes, with `\\`, `\"` and C escapes for control
    /// characters, unless every character is plain.
    static func commandWord(_ word: String, isProgram: Bool) -> String {
        var text = specifiersEscaped(word)
        if !isProgram { text = text.replacingOccurrences(of: "$", with: "$$") }
        if !text.isEmpty && text.unicodeScalars.allSatisfy(isPlain) { return text }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": quoted += "\\\\"
            case "\"": quoted += "\\\""
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            case "\r": quoted += "\\r"
            case _ where scalar.properties.generalCategory == .control:
                quoted += scalar.value < 0x80 ? "\\x" + hex(scalar.value, digits: 2) : "\\u" + hex(scalar.value, digits: 4)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// A path of `ReadWritePaths=`: `%` doubled; in double quotes with `\\` and `\"` unless
    /// every character is plain (systemd unquotes the list, and expands no `$` in it).
    static func pathWord(_ path: String) -> String {
        let text = specifiersEscaped(path)
        if !text.isEmpty && text.unicodeScalars.allSatisfy(isPlain) { return text }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Characters systemd takes as they are in an unquoted word.
    static func isPlain(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "/._-+=:,@%$".unicodeScalars.contains(scalar))
    }

    static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    static func hasControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// A user name that systemd and useradd both take.
    static func isUserName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first != "-", first != "." else { return false }
        return name.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.-".unicodeScalars.contains($0))
        }
    }

    /// `text` for a message, on one line: in quotes, control characters escaped.
    static func shown(_ text: String) -> String {
        var out = "'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.properties.generalCategory == .control: out += "\\u{\(hex(scalar.value, digits: 1))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }

    /// Options and variables whose values are folders (or files) the workflow writes.
    static let writableNames: Set<String> = ["dir", "path", "inbox", "work", "downloads", "output", "out", "state_dir", "run_dir"]

    /// The folders the workflow writes, each with where it came from: `extra` (given with its
    /// origin), the nodes' path options and the variables named in `writableNames`; a file's
    /// folder for a file (`capture`'s `path`), the folder itself otherwise. Nested folders are
    /// dropped (their parent covers them).
    static func writableFolders(of plan: WorkflowPlan, plus extra: [Sourced]) -> [Sourced] {
        var found: [Sourced] = extra
        for node in plan.nodes {
            // Only options declared as paths: arrow-http's `path` is a URL path, not a folder.
            let paths = Set(node.spec.options.filter { $0.type == .path }.map(\.name))
            for (name, option) in node.config.options where writableNames.contains(name) && paths.contains(name) {
                if case .string(let text) = option.value, !text.isEmpty {
                    found.append(Sourced(value: folder(of: plan.info.resolve(text)),
                                         origin: "option '\(name)' of node '\(node.config.id)'"))
                }
            }
        }
        for (name, value) in plan.info.vars.fields where writableNames.contains(name) {
            if case .string(let text) = value, text.hasPrefix("/") {
                found.append(Sourced(value: folder(of: plan.info.resolve(text)), origin: "the variable '\(name)' (--var or vars:)"))
            }
        }
        var byPath: [String: Sourced] = [:]
        for item in found {
            let path = URL(fileURLWithPath: item.value).standardizedFileURL.path
            if byPath[path] == nil { byPath[path] = Sourced(value: path, origin: item.origin) }
        }
        let sorted = byPath.keys.sorted()
        return sorted.filter { path in !sorted.contains { $0 != path && isInside(path, [$0]) } }.compactMap { byPath[$0] }
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
