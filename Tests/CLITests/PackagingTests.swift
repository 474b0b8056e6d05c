import Foundation
import Testing

/// An installed hypha finds the files shipped with it (docs/PACKAGING.md): the built binary is
/// put where a package or a tarball puts it, away from this checkout, with the shipped files
/// where they would be, and run from a folder outside the checkout.
@Suite(.timeLimit(.minutes(5))) struct PackagingTests {
    /// A folder like an installed hypha: the binary at `binary` (relative), the shipped
    /// workflows, job templates and scripts under `share` (relative; nothing when nil).
    static func install(binary: String, share: String?) throws -> (root: String, binary: String) {
        let root = try CLI.temporaryFolder()
        let installed = root + "/" + binary
        try FileManager.default.createDirectory(atPath: (installed as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        // A hard link where it can be (the debug binary is large), else a copy: either is a
        // file of its own at that path, not a symbolic link back into the checkout.
        do {
            try FileManager.default.linkItem(atPath: CLI.binary, toPath: installed)
        } catch {
            try FileManager.default.copyItem(atPath: CLI.binary, toPath: installed)
        }
        if let share {
            for folder in ["workflows", "jobstore", "scripts"] {
                try FileManager.default.createDirectory(atPath: root + "/" + share, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: CLI.shipped(folder), toPath: root + "/" + share + "/" + folder)
            }
        }
        return (root, installed)
    }

    /// The package's layout (PREFIX/bin/hypha, PREFIX/share/hypha) and a binary beside the files.
    @Test(arguments: [("bin/hypha", "share/hypha"), ("hypha", ".")])
    func demoRunsTheShippedWorkflowFromAnyFolder(binary: String, share: String) throws {
        let (root, hypha) = try Self.install(binary: binary, share: share)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let workflow = URL(fileURLWithPath: root + "/" + share + "/workflows/extract-aggregate.yml").standardizedFileURL.path
        let r = try CLI.spawn(hypha, ["demo", "--zips", "2", "--dir", root + "/demo"], cwd: root)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("running \(workflow) on 2 sample zips"), "\(r.stdout)")
        #expect(r.stdout.contains("2 reports under"), "\(r.stdout)")
    }

    @Test func demoWithoutShippedFilesSaysWhereItLooked() throws {
        let (root, hypha) = try Self.install(binary: "bin/hypha", share: nil)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try CLI.spawn(hypha, ["demo", "--dir", root + "/demo"], cwd: root)
        #expect(r.status != 0)
        #expect(r.stderr.contains("cannot find workflows/extract-aggregate.yml beside \(hypha), in \(root)/share/hypha")
                && r.stderr.contains("--workflow"), "\(r.stderr)")
    }

    /// The unit runs this binary on the shipped workflow, whose jobs run the shipped scripts;
    /// folders the service would write inside the installed files are refused, and so is a
    /// workflow copied away from its scripts.
    @Test func serviceInstallPointsAtTheInstalledBinaryAndFiles() throws {
        let (root, hypha) = try Self.install(binary: "bin/hypha", share: "share/hypha")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let share = root + "/share/hypha"
        let given = ["--var", "work=\(root)/work", "--var", "inbox=\(root)/in", "--state-dir", root + "/state"]
        let r = try CLI.spawn(hypha, ["service", "install", share + "/workflows/job-node.yml", "--dry-run"] + given, cwd: root)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\nExecStart=\(hypha) run \(share)/workflows/job-node.yml --state-dir \(root)/state"), "\(r.stdout)")

        let defaults = try CLI.spawn(hypha, ["service", "install", share + "/workflows/job-node.yml", "--dry-run"], cwd: root)
        #expect(defaults.status == 1 && defaults.stdout.isEmpty, "\(defaults.stdout)")
        for origin in ["the variable 'work'", "the variable 'inbox'", "the state folder"] {
            #expect(defaults.stderr.contains("\(origin) (--var or vars:) names") || defaults.stderr.contains("\(origin) names"),
                    "\(origin): \(defaults.stderr)")
        }
        #expect(defaults.stderr.contains("inside \(share), which holds the files installed with Hypha"), "\(defaults.stderr)")

        // A copy of the workflow and its templates elsewhere: its `scripts` folder is missing.
        try FileManager.default.createDirectory(atPath: root + "/etc/workflows", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: share + "/workflows/job-node.yml", toPath: root + "/etc/workflows/job-node.yml")
        try FileManager.default.copyItem(atPath: share + "/jobstore", toPath: root + "/etc/jobstore")
        let copied = try CLI.spawn(hypha, ["service", "install", root + "/etc/workflows/job-node.yml", "--dry-run"] + given, cwd: root)
        #expect(copied.status == 1, "\(copied.stdout)")
        #expect(copied.stderr.contains("the variable 'scripts' names '\(root)/etc/scripts', which does not exist")
                && copied.stderr.contains("--var scripts=\(share)/scripts (the scripts installed with Hypha)"), "\(copied.stderr)")
        let fixed = try CLI.spawn(hypha, ["service", "install", root + "/etc/workflows/job-node.yml", "--dry-run",
                                          "--var", "scripts=\(share)/scripts"] + given, cwd: root)
        #expect(fixed.status == 0, "\(fixed.stderr)")
    }

    /// `hypha --version`: the VERSION file's version and a commit ("unknown" for a plain build).
    @Test func versionIsTheVersionFileAndACommit() throws {
        let version = try String(contentsOfFile: CLI.shipped("VERSION"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let r = try CLI.run(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("\(version) (commit "), "\(r.stdout)")
    }
}
