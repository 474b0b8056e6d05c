import ArgumentParser

/// The `hypha` command: a thin layer that parses arguments and calls Engine.
@main
struct Hypha: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hypha",
        abstract: "Event-driven workflows: watch for data, render job specs, run the jobs.",
        version: "0.1.0",
        subcommands: [
            RunCommand.self, ValidateCommand.self, GraphCommand.self, PluginsCommand.self, DemoCommand.self, ArrowCommand.self,
            RenderCommand.self, SchemaCommand.self, TestCommand.self, JobsCommand.self, DeadLettersCommand.self, GuardJobsCommand.self,
            SendCommand.self, ServiceCommand.self,
        ])
}
