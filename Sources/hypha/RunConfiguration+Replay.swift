import ArgumentParser
import Engine
import Foundation

/// A run's configuration as the command line gave it, and back: what `hypha run` records at
/// its start and what `hypha dead-letters retry` loads the workflow with again.
extension RunConfiguration {
    /// The configuration of a run of `plan`, loaded with `overrides`. The values of variables and
    /// options whose names look like a secret's (`ProcessEnvironment.isSecret`) are not kept.
    static func of(_ plan: WorkflowPlan, overrides: RunOverrides, runID: String) -> RunConfiguration {
        func kept(_ name: String, _ value: String) -> Override {
            Override(name: name, value: ProcessEnvironment.isSecret(name) ? nil : value)
        }
        return RunConfiguration(
            runID: runID, workflow: absolute(plan.info.file), profile: overrides.profile,
            vars: overrides.vars.map { kept($0.name, $0.value) },
            sets: overrides.sets.map { kept("\($0.node).\($0.option)", $0.value) },
            digests: digests(of: plan), started: Date().timeIntervalSince1970, version: Hypha.configuration.version)
    }

    /// A digest (FNV-1a of the content: it tells a change, it is no security hash) of each file
    /// the plan reads: the workflow file, every file of its jobstore folders, and the files its
    /// nodes say they read (an exec program's script), as live reload watches them; by absolute
    /// path, so a retry from another folder compares the same names.
    static func digests(of plan: WorkflowPlan) -> [String: String] {
        var digests: [String: String] = [:]
        for path in LiveReload.watchedPaths(of: plan).map(absolute) {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { continue }
            let files = isFolder.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
                    .filter { !$0.hasPrefix(".") && !$0.hasSuffix("~") }.map { path + "/" + $0 }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                var hash = StableHash()
                hash.add(data)
                digests[file] = hash.hex
            }
        }
        return digests
    }

    static func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

    /// The files whose digest differs from `current`'s (changed, gone or new), sorted.
    func changedFiles(comparedWith current: [String: String]) -> [String] {
        Set(digests.keys).union(current.keys).filter { digests[$0] != current[$0] }.sorted()
    }

    /// The overrides to load the workflow with again: the recorded ones, with the secrets
    /// (whose values were not kept) taken from `given` where it has them.
    func replay(given: RunOverrides) -> RunOverrides {
        var result = RunOverrides(profile: profile)
        for variable in vars {
            if let value = variable.value ?? given.vars.last(where: { $0.name == variable.name })?.value {
                result.vars.append((variable.name, value))
            }
        }
        for set in sets {
            let given = given.sets.last { "\($0.node).\($0.option)" == set.name }?.value
            guard let value = set.value ?? given, let dot = set.name.firstIndex(of: ".") else { continue }
            result.sets.append((String(set.name[..<dot]), String(set.name[set.name.index(after: dot)...]), value))
        }
        return result
    }

    /// The secrets the run was given whose values were not kept and `given` does not have.
    func withheld(given: RunOverrides) -> [String] {
        let givenVars = Set(given.vars.map(\.name)), givenSets = Set(given.sets.map { "\($0.node).\($0.option)" })
        return vars.filter { $0.value == nil && !givenVars.contains($0.name) }.map { "--var \($0.name)" }
            + sets.filter { $0.value == nil && !givenSets.contains($0.name) }.map { "--set \($0.name)" }
    }

    /// How `given` (the command line of a retry) differs from what the run was given, one
    /// "NAME: RECORDED → GIVEN" each. Only what `given` names counts: what it leaves out is
    /// taken from the run; a secret whose value was not kept can be given freely.
    func differences(from given: RunOverrides) -> [String] {
        func show(_ value: String?) -> String { value.map { "'\($0)'" } ?? "(not given)" }
        var lines: [String] = []
        if let profile = given.profile, profile != self.profile {
            lines.append("--profile: \(show(self.profile)) → \(show(profile))")
        }
        func compare(_ flag: String, _ recorded: [Override], _ given: [(name: String, value: String)]) {
            for (name, value) in given {
                let record = recorded.last { $0.name == name }
                if let record, record.value == nil || record.value == value { continue }
                lines.append("--\(flag) \(name): \(show(record?.value)) → \(show(value))")
            }
        }
        compare("var", vars, given.vars)
        compare("set", sets, given.sets.map { ("\($0.node).\($0.option)", $0.value) })
        return lines
    }

    /// The command-line flags of the run, as a user would type them again; a secret's value
    /// shows as "(not kept)".
    var flags: String {
        func word(_ text: String) -> String {
            text.allSatisfy { $0.isLetter || $0.isNumber || "/._-=:,@+%".contains($0) }
                ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
        var parts = profile.map { ["--profile \(word($0))"] } ?? []
        func shown(_ flag: String, _ item: Override) -> String {
            "--\(flag) " + (item.value.map { word("\(item.name)=\($0)") } ?? "\(item.name)=(not kept)")
        }
        parts += vars.map { shown("var", $0) } + sets.map { shown("set", $0) }
        return parts.isEmpty ? "no --var, --profile or --set" : parts.joined(separator: " ")
    }

    /// For `--json` output: id, run id, start, profile, vars and sets (a secret's value null).
    var value: Value {
        func pairs(_ list: [Override]) -> Value { .map(Record(list.map { ($0.name, $0.value.map(Value.string) ?? .null) })) }
        return .map(Record([
            ("id", id.map(Value.int) ?? .null), ("run_id", .string(runID)), ("started", .string(JobsCommand.time(started))),
            ("workflow", .string(workflow)), ("profile", profile.map(Value.string) ?? .null),
            ("vars", pairs(vars)), ("sets", pairs(sets)), ("version", version.map(Value.string) ?? .null),
        ]))
    }
}
