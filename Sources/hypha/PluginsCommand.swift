import ArgumentParser
import Engine

struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "List the plugins: their port types and options.")

    func run() async throws {
        for type in BuiltinPlugins.all.sorted(by: { $0.spec.name < $1.spec.name }) {
            let spec = type.spec
            Console.out("\(spec.name)  (\(type.input) -> \(spec.output?.rawValue ?? "-"))")
            Console.out("  \(spec.summary)")
            if let fields = spec.outputSchema { Console.out("  emits fields: \(fields.map(\.description).joined(separator: ", "))") }
            for option in spec.options {
                var line = "  - \(option.name): \(option.type.rawValue)"
                if option.required { line += ", required" }
                if let d = option.defaultValue { line += ", default \(d.json)" }
                if let range = option.range { line += ", \(range)" }
                if let choices = option.choices { line += ", one of \(choices.joined(separator: "|"))" }
                Console.out(line + " — \(option.help)")
            }
            Console.out("")
        }
    }
}
