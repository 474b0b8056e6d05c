import ArgumentParser
import Engine
import Foundation

/// The arguments every command that reads a workflow shares.
struct WorkflowArguments: ParsableArguments {
    @Argument(help: "The workflow file (YAML).")
    var workflow: String

    @Option(help: "Apply the overrides of this profile from the workflow's 'profiles'.")
    var profile: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a node's option: NODE.OPTION=VALUE (NODE.plugin=NAME swaps the plugin).", valueName: "NODE.OPTION=VALUE"))
    var sets: [String] = []

    @Option(name: .customLong("var"), help: ArgumentHelp("Override a workflow variable: NAME=VALUE.", valueName: "NAME=VALUE"))
    var vars: [String] = []

    func overrides() throws -> RunOverrides {
        var result = RunOverrides(profile: profile)
        for item in sets {
            guard let eq = item.firstIndex(of: "="), let dot = item[..<eq].firstIndex(of: ".") else {
                throw ValidationError("--set takes NODE.OPTION=VALUE, got '\(item)'")
            }
            result.sets.append((String(item[..<dot]), String(item[item.index(after: dot)..<eq]), String(item[item.index(after: eq)...])))
        }
        for item in vars {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw ValidationError("--var takes NAME=VALUE, got '\(item)'")
            }
            result.vars.append((String(item[..<eq]), String(item[item.index(after: eq)...])))
        }
        return result
    }

    /// Loads and checks the workflow; on problems prints each one compiler-style and exits 1.
    func load() throws -> WorkflowPlan {
        try load(overrides: try overrides())
    }

    /// Loads and checks the workflow with `overrides` instead of the command line's (a retry
    /// replaying the run that made its letters).
    func load(overrides: RunOverrides) throws -> WorkflowPlan {
        let loader = WorkflowLoader(registry: BuiltinPlugins.registry)
        do {
            let plan = try loader.load(path: workflow, overrides: overrides)
            for note in plan.notes { Console.error("note: \(note)") }
            return plan
        } catch let diagnostics as Diagnostics {
            for d in diagnostics.all { Console.error(d.description) }
            let n = diagnostics.all.count
            Console.error("\(n) error\(n == 1 ? "" : "s") in \(workflow)")
            throw ExitCode(1)
        }
    }
}

/// Plain output helpers.
enum Console {
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func out(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }
}
