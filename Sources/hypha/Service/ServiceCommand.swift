import ArgumentParser
import Engine
import Foundation

/// `hypha service install|uninstall|status`: Hypha as a systemd service (docs/SERVICE.md).
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Run a workflow as a systemd service: install, uninstall, status.",
        subcommands: [Install.self, Uninstall.self, Status.self])

    static let unitFolder = "/etc/systemd/system"

    /// `hypha-NAME`, checked: systemd unit names take letters, digits and `:_.-` only.
    /// `origin` says where the name came from, for the error.
    static func unitName(_ name: String, from origin: String = "the service name") throws -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ":_.-"))
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ allowed.contains($0) && $0.isASCII }) else {
            throw ValidationError("\(origin) \(ServiceUnit.shown(name)) may hold only letters, digits and ':_.-' to name a service; "
                                  + "choose another with --name")
        }
        return name.hasPrefix("hypha-") ? name : "hypha-\(name)"
    }

    /// Stops with a clear message unless this is root on a machine that runs systemd.
    static func requireRootAndSystemd(_ what: String) throws {
        try requireSystemd(what)
        guard geteuid() == 0 else {
            Console.error("hypha: to \(what) a service needs root (it writes \(unitFolder) and runs systemctl); run it with sudo")
            throw ExitCode(1)
        }
    }

    /// Exits 1, saying so, on a machine that does not run systemd.
    static func requireSystemd(_ what: String) throws {
        guard FileManager.default.fileExists(atPath: "/run/systemd/system") else {
            Console.error("hypha: this machine does not run systemd (no /run/systemd/system), so there is no service to \(what); "
                          + "see the unit with --dry-run, and docs/SERVICE.md for launchd on macOS")
            throw ExitCode(1)
        }
    }

    /// Runs `systemctl ARGS`, its output passed through; its exit status.
    @discardableResult
    static func systemctl(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["systemctl"] + arguments
        do {
            try process.run()
        } catch {
            Console.error("hypha: cannot run systemctl: \(error); is systemd installed?")
            throw ExitCode(1)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write /etc/systemd/system/hypha-NAME.service for a workflow, then enable and start it.",
            discussion: """
                The unit runs `hypha run WORKFLOW` (absolute paths) as Type=notify: systemd knows it is up \
                once every source listens, restarts it on failure, gives running jobs --grace seconds \
                on stop, and lets it write only the state folder and the folders the workflow names. \
                Put secrets (HYPHA_TOKEN, BACALHAU_API_KEY) in /etc/hypha/hypha-NAME.env (mode 600), \
                not in the unit. --dry-run prints the unit and changes nothing.
                """)

        @OptionGroup var workflow: WorkflowArguments

        @Option(help: "The service's name: the unit is hypha-NAME.service (default: the workflow's name).")
        var name: String?

        @Option(help: "The user the service runs as (default: the user who ran sudo, else this user).")
        var user: String?

        @OptionGroup var state: StateOptions

        @Option(help: "Seconds that running jobs get to finish when the service stops.")
        var grace: Double = 10

        @Flag(help: "Print the unit; write nothing and run no systemctl.")
        var dryRun = false

        func run() async throws {
            let plan = try workflow.load()
            let unitName = try ServiceCommand.unitName(name ?? plan.info.name, from: name == nil ? "the workflow's name" : "--name")
            let workflowPath = URL(fileURLWithPath: workflow.workflow).standardizedFileURL.path
            let stateDir = state.folder(for: plan.info)
            var arguments = [workflowPath, "--state-dir", stateDir, "--grace", Self.number(grace), "--no-progress"]
            if let profile = workflow.profile { arguments += ["--profile", profile] }
            for item in workflow.vars { arguments += ["--var", item] }
            for item in workflow.sets { arguments += ["--set", item] }
            let runAs: ServiceUnit.Sourced?
            if let user {
                runAs = .init(value: user, origin: "--user")
            } else if let sudoUser = ProcessEnvironment.values["SUDO_USER"] {
                runAs = .init(value: sudoUser, origin: "the user who ran sudo (SUDO_USER)")
            } else {
                runAs = getpwuid(geteuid()).map { .init(value: String(cString: $0.pointee.pw_name), origin: "this user") }
            }
            let unit = ServiceUnit(
                unitName: unitName,
                workflowName: .init(value: plan.info.name, origin: "the workflow's name"),
                workflowPath: workflowPath, binary: ShippedFiles.binary, arguments: arguments,
                workingDirectory: plan.info.directory, user: runAs, grace: grace,
                writable: ServiceUnit.writableFolders(of: plan, plus: [.init(value: stateDir, origin: "the state folder")]),
                environmentFile: "/etc/hypha/\(unitName).env")
            let problems = unit.problems(), misplaced = Self.placeProblems(of: plan, writable: unit.writable)
            guard problems.isEmpty && misplaced.isEmpty else {
                for problem in problems + misplaced { Console.error("hypha: \(problem)") }
                Console.error("hypha: no unit written" + (problems.isEmpty ? "" : ": systemd would read such a value as more lines or another value"))
                throw ExitCode(1)
            }
            if unit.runsAsRoot {
                let because = runAs.map { "User=\($0.value), from \($0.origin)" } ?? "no User="
                Console.error("hypha: warning: the service would run as root (\(because)), and so would every job it starts; "
                              + "create a user of its own (useradd --system hypha) and give it with --user hypha")
            }
            if dryRun {
                FileHandle.standardOutput.write(Data(unit.text.utf8))
                return
            }
            try ServiceCommand.requireRootAndSystemd("install")
            let file = "\(ServiceCommand.unitFolder)/\(unitName).service"
            do {
                for folder in unit.writablePaths {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    if let runAs = runAs?.value, !unit.runsAsRoot, !chown(folder, to: runAs) {
                        Console.error("hypha: warning: cannot give \(folder) to user '\(runAs)'; the service may not write there "
                                      + "(chown it by hand)")
                    }
                }
                try unit.text.write(toFile: file, atomically: true, encoding: .utf8)
            } catch {
                Console.error("hypha: cannot write \(file) or its folders: \(error)")
                throw ExitCode(1)
            }
            Console.out("wrote \(file)")
            guard try ServiceCommand.systemctl(["daemon-reload"]) == 0 else {
                Console.error("hypha: systemctl daemon-reload failed; the unit is written, fix what it says and run it again")
                throw ExitCode(1)
            }
            guard try ServiceCommand.systemctl(["enable", "--now", "\(unitName).service"]) == 0 else {
                Console.error("hypha: systemctl enable --now \(unitName).service failed; see: journalctl -u \(unitName) -e")
                throw ExitCode(1)
            }
            Console.out("\(unitName) is enabled and started; see it with: hypha service status \(unitName.dropFirst(6)), "
                        + "and its log with: journalctl -u \(unitName) -f")
        }

        /// The folder's owner (not its contents') set to `user`, who the service runs as; false
        /// when it cannot be (no such user, or not permitted).
        func chown(_ folder: String, to user: String) -> Bool {
            guard let entry = getpwnam(user) else { return false }
            return Glibc.chown(folder, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0
        }

        /// What would not work from where Hypha is installed, as sentences naming the folder,
        /// where it came from and what to do: a folder the service writes inside the installed
        /// shared files (the package's /usr/share/hypha, read-only and owned by the package), and
        /// a `scripts` variable (the shipped workflows' jobs run their scripts from it) naming a
        /// folder that does not exist.
        static func placeProblems(of plan: WorkflowPlan, writable: [ServiceUnit.Sourced],
                                  binary: String = ShippedFiles.binary) -> [String] {
            var found: [String] = []
            let installed = ShippedFiles.installedFolder(binary: binary)
            if FileManager.default.fileExists(atPath: installed) {
                for folder in writable where ServiceUnit.isInside(folder.value, [installed]) {
                    found.append("\(folder.origin) names \(ServiceUnit.shown(folder.value)), inside \(installed), which holds "
                                 + "the files installed with Hypha and which the service may not write: give it a folder of its "
                                 + "own (--var work=/var/lib/hypha/work, --state-dir /var/lib/hypha/NAME)")
                }
            }
            if case .string(let text) = plan.info.vars["scripts"] {
                let scripts = plan.info.resolve(text)
                if !FileManager.default.fileExists(atPath: scripts) {
                    let shipped = ShippedFiles.find("scripts/extract.py", binary: binary)
                        .map { "--var scripts=" + URL(fileURLWithPath: $0).deletingLastPathComponent().path + " (the scripts installed with Hypha)" }
                        ?? "--var scripts=FOLDER, the folder that holds the jobs' scripts"
                    found.append("the variable 'scripts' names \(ServiceUnit.shown(scripts)), which does not exist, so the jobs "
                                 + "could not start their scripts: give \(shipped)")
                }
            }
            return found
        }

        static func number(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(value)
        }
    }

    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop and disable hypha-NAME.service and remove its unit file.")

        @Argument(help: "The service's name (as given to install; hypha-NAME also works).")
        var name: String

        func run() async throws {
            let unitName = try ServiceCommand.unitName(name)
            try ServiceCommand.requireRootAndSystemd("uninstall")
            let file = "\(ServiceCommand.unitFolder)/\(unitName).service"
            guard FileManager.default.fileExists(atPath: file) else {
                Console.error("hypha: \(file) does not exist; `systemctl list-units 'hypha-*'` lists the installed ones")
                throw ExitCode(1)
            }
            try ServiceCommand.systemctl(["disable", "--now", "\(unitName).service"])
            do {
                try FileManager.default.removeItem(atPath: file)
            } catch {
                Console.error("hypha: cannot remove \(file): \(error)")
                throw ExitCode(1)
            }
            try ServiceCommand.systemctl(["daemon-reload"])
            Console.out("removed \(file); the state folder is kept")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show hypha-NAME.service's state, status line and last log lines.")

        @Argument(help: "The service's name (as given to install).")
        var name: String

        func run() async throws {
            let unitName = try ServiceCommand.unitName(name)
            try ServiceCommand.requireSystemd("show")
            let code = try ServiceCommand.systemctl(["status", "--no-pager", "\(unitName).service"])
            if code != 0 { throw ExitCode(code) }
        }
    }
}
