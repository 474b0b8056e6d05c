import ArgumentParser

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a workflow without running it: YAML, plugins, options, edges and their types, cycles, templates.",
        discussion: "Prints every problem as PATH:LINE:COL: error: MESSAGE and exits 1 if there is any.")

    @OptionGroup var workflow: WorkflowArguments

    func run() async throws {
        let plan = try workflow.load()
        Console.out("\(workflow.workflow): ok (\(plan.nodes.count) nodes)")
    }
}
