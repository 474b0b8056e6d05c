import Engine
import Testing

@Suite(.timeLimit(.minutes(5))) struct InterpolatorTests {
    let scope = Record([
        ("path", "/in/My File.tar.gz"), ("name", "My File.tar.gz"), ("size", 42),
        ("vars", .map(Record([("work", "/w")]))),
        ("record", .map(Record([("name", "a.zip")]))),
    ])

    @Test func aWholePlaceholderKeepsItsType() throws {
        #expect(try Interpolator.render("{{ size }}", in: scope) == .int(42))
        #expect(try Interpolator.render("n={{ size }}", in: scope) == .string("n=42"))
    }

    @Test func filtersAndPaths() throws {
        #expect(try Interpolator.render("{{ name | stem }}", in: scope) == "My File.tar")
        #expect(try Interpolator.render("{{ path | dirname }}", in: scope) == "/in")
        #expect(try Interpolator.render("{{ path | basename | upper }}", in: scope) == "MY FILE.TAR.GZ")
        #expect(try Interpolator.render("{{ name | ext }}", in: scope) == ".gz")
        #expect(try Interpolator.render("{{ vars.work }}/{{ record.name | stem }}", in: scope) == "/w/a")
        #expect(try Interpolator.render("{{ name | quote }}", in: scope) == "'My File.tar.gz'")
        #expect(try Interpolator.render("{{ name | json }}", in: scope) == "\"My File.tar.gz\"")
        #expect(try Interpolator.render("{{ missing | default(\"x|y\") }}", in: scope) == "x|y")
        #expect(try Interpolator.render("{{ missing | default(3) }}", in: scope) == .int(3))
    }

    @Test func missingVariablesAndBadSyntaxAreErrors() {
        #expect(throws: Interpolator.Failure.missing("vars.nope")) { try Interpolator.render("{{ vars.nope }}", in: scope) }
        #expect(throws: Interpolator.Failure.unknownFilter("stme")) { try Interpolator.render("{{ name | stme }}", in: scope) }
        #expect(throws: (any Error).self) { try Interpolator.render("{{ name ", in: scope) }
        #expect(throws: (any Error).self) { try Interpolator.render("{{ $(rm) }}", in: scope) }
    }

    @Test func valuesAreNeverReinterpreted() throws {
        let tricky = Record([("name", "{{ vars.work }}\": x\n- y")])
        #expect(try Interpolator.render("a {{ name }}", in: tricky) == .string("a {{ vars.work }}\": x\n- y"))
    }
}

@Suite(.timeLimit(.minutes(5))) struct PathFilterSafetyTests {
    /// `stem` and `basename` give one file-name component: a value that would make it empty,
    /// `.`, `..` or a path fails the message rather than point a job outside its folder.
    @Test(arguments: [
        ("{{ name | stem }}", "...zip"),      // stem ".."
        ("{{ name | stem }}", "..zip"),       // stem "."
        ("{{ name | basename }}", ".."),
        ("{{ name | basename }}", "/"),
        ("{{ name | basename }}", ""),
        ("{{ name | stem }}", "/in/../"),
    ])
    func unsafeNamesAreRefused(template: String, name: String) {
        #expect(throws: Interpolator.Failure.self) {
            try Interpolator.render(template, in: Record([("name", .string(name))]))
        }
    }

    @Test func theErrorNamesTheFilterAndTheValue() {
        do {
            _ = try Interpolator.render("{{ name | stem }}", in: Record([("name", "...zip")]))
            Issue.record("expected a failure")
        } catch {
            #expect(error.description.contains("filter 'stem' of \"...zip\" gives \"..\""))
        }
    }

    @Test func ordinaryNamesPass() throws {
        #expect(try Interpolator.render("{{ name | stem }}", in: Record([("name", ".hidden")])) == ".hidden")
        #expect(try Interpolator.render("{{ name | stem }}", in: Record([("name", "a..b.zip")])) == "a..b")
        #expect(try Interpolator.render("{{ name | basename }}", in: Record([("name", "/x/y.zip/")])) == "y.zip")
        #expect(PathParts.isSafeComponent("...") && !PathParts.isSafeComponent("a/b") && !PathParts.isSafeComponent(".."))
    }
}
