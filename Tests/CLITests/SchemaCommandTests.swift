import Foundation
import Testing

/// `hypha schema`: checked with Python's `jsonschema` (PyPI) and PyYAML; skipped where absent.
@Suite(.timeLimit(.minutes(5))) struct SchemaCommandTests {
    /// Python with `jsonschema` and `yaml`, or nil.
    static let python: [String]? = {
        let py = CLI.python
        let prefix = py.hasSuffix("env") ? [py, "python3"] : [py]
        guard let r = try? CLI.spawn(prefix[0], Array(prefix.dropFirst()) + ["-c", "import jsonschema, yaml"]), r.status == 0 else {
            return nil
        }
        return prefix
    }()

    static var haveValidator: Bool { python != nil }

    /// Validates each YAML file against the schema; prints `OK PATH` or `BAD PATH: first error`.
    static let validatorScript = """
        import json, sys, yaml, jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        for path in sys.argv[2:]:
            errors = sorted(validator.iter_errors(yaml.safe_load(open(path))), key=lambda e: list(e.path))
            print(("OK " + path) if not errors else ("BAD " + path + ": " + errors[0].message + " at " + "/".join(map(str, errors[0].path))))
        """

    /// Writes `hypha schema ARGS` to a file and validates `files` against it: path → nil (valid) or the error.
    func validate(_ files: [String], schemaArguments: [String] = [], in dir: String) throws -> [String: String?] {
        let schema = try CLI.run(["schema"] + schemaArguments)
        #expect(schema.status == 0, "\(schema.stderr)")
        try schema.stdout.write(toFile: dir + "/schema.json", atomically: true, encoding: .utf8)
        let python = try #require(Self.python)
        let r = try CLI.spawn(python[0], Array(python.dropFirst()) + ["-c", Self.validatorScript, dir + "/schema.json"] + files)
        #expect(r.status == 0, "\(r.stderr)")
        var results: [String: String?] = [:]
        for line in r.stdout.split(separator: "\n") {
            if line.hasPrefix("OK ") {
                results[String(line.dropFirst(3))] = .some(nil)
            } else if line.hasPrefix("BAD "), let colon = line.range(of: ": ") {
                results[String(line[line.index(line.startIndex, offsetBy: 4)..<colon.lowerBound])] = String(line[colon.upperBound...])
            }
        }
        return results
    }

    @Test(.enabled(if: haveValidator)) func acceptsEveryShippedWorkflow() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = CLI.shipped("workflows")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yml") && !$0.hasSuffix(".test.yml") }
            .map { folder + "/" + $0 }
        #expect(files.count >= 3)
        let results = try validate(files, in: dir)
        for file in files {
            #expect(results[file] == .some(nil), "\(file): \(String(describing: results[file]))")
        }
    }

    @Test(.enabled(if: haveValidator)) func rejectsAMisspeltOptionAWrongTypeAndAnUnknownPlugin() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = try String(contentsOfFile: CLI.shipped("workflows/extract-aggregate.yml"), encoding: .utf8)
        let broken = [
            "misspelt": base.replacingOccurrences(of: "    pattern: \"*.zip\"", with: "    patern: \"*.zip\""),
            "wrong-type": base.replacingOccurrences(of: "    pattern: \"*.zip\"", with: "    pattern: \"*.zip\"\n    batch_size: lots"),
            "unknown-plugin": base.replacingOccurrences(of: "plugin: arrow-decode", with: "plugin: arrow-decoder"),
            "bad-duration": base.replacingOccurrences(of: "    plugin: process            # the local raw-process executor",
                                                      with: "    plugin: process\n    grace_period: soon"),
            "placeholder-int": base.replacingOccurrences(of: "    pattern: \"*.zip\"",
                                                         with: "    pattern: \"*.zip\"\n    batch_size: \"{{ vars.batch }}\""),
        ]
        var paths: [String: String] = [:]
        for (name, text) in broken {
            #expect(text != base, "\(name) changed nothing")
            paths[name] = dir + "/\(name).yml"
            try text.write(toFile: dir + "/\(name).yml", atomically: true, encoding: .utf8)
        }
        let results = try validate(Array(paths.values), in: dir)
        for name in ["misspelt", "wrong-type", "unknown-plugin", "bad-duration"] {
            let result = results[paths[name] ?? ""]
            #expect(result != nil && result != .some(nil), "\(name) was accepted")
        }
        #expect(results[paths["placeholder-int"] ?? ""] == .some(nil), "a placeholder for an int was rejected")
    }

    @Test(.enabled(if: haveValidator)) func theJobSchemaAcceptsTheJobstore() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = CLI.shipped("jobstore")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yml") }.map { folder + "/" + $0 }
        #expect(!files.isEmpty)
        try "Type: batch\nTasks:\n  - Name: t\n    Engine: {Type: process}\n    Timeouts: {ExecutionTimout: 5}\n"
            .write(toFile: dir + "/bad.yml", atomically: true, encoding: .utf8)
        let results = try validate(files + [dir + "/bad.yml"], schemaArguments: ["--job"], in: dir)
        for file in files {
            #expect(results[file] == .some(nil), "\(file): \(String(describing: results[file]))")
        }
        #expect(results[dir + "/bad.yml"] != .some(nil))
    }

    /// Every option of every plugin is in the schema, with its help as description.
    @Test func everyOptionIsDescribed() throws {
        let r = try CLI.run(["schema"])
        #expect(r.status == 0)
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let defs = try #require(schema["$defs"] as? [String: Any])
        let fileWatch = try #require(defs["plugin-file-watch"] as? [String: Any])
        let properties = try #require(fileWatch["properties"] as? [String: Any])
        let batch = try #require(properties["batch_size"] as? [String: Any])
        #expect(batch["default"] as? Int == 1024)
        #expect((batch["description"] as? String)?.contains("files per emitted batch") == true)
        let emit = try #require(properties["emit"] as? [String: Any])
        #expect("\(emit)".contains("contents"))
        #expect(fileWatch["additionalProperties"] as? Bool == false)
        #expect(fileWatch["required"] as? [String] == ["path"])
    }
}
