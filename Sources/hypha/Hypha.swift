import ArgumentParser
import Engine
import Glibc

/// The `hypha` command: a thin layer that parses arguments and calls Engine.
@main
struct Hypha: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hypha",
        abstract: "Event-driven workflows: watch for data, render job specs, run the jobs.",
        version: Version.description,
        subcommands: [
            RunCommand.self, ValidateCommand.self, GraphCommand.self, PluginsCommand.self, DemoCommand.self, ArrowCommand.self,
            RenderCommand.self, SchemaCommand.self, TestCommand.self, JobsCommand.self, WhyCommand.self, DeadLettersCommand.self, GuardJobsCommand.self,
            SendCommand.self, ServiceCommand.self, TopCommand.self, TapCommand.self,
        ])

    /// Keeps Hypha's secrets from the programs it starts before anything else runs, then
    /// parses the arguments and runs the command.
    static func main() async {
        makeNonDumpable()
        ProcessEnvironment.secureAtStart()
        await main(nil)
    }

    /// `prctl(PR_SET_DUMPABLE, 0)`: processes of the same user (jobs, exec programs) can no
    /// longer read this one's memory or environment through /proc or attach to it with ptrace;
    /// root still can. It also turns off core dumps, which would hold the same secrets. The
    /// programs Hypha starts are dumpable again (exec resets it), so its scans of their /proc
    /// entries (the job guard's marker, file-watch's writers) are unaffected; of its own
    /// /proc/self only `environ` closes, which it does not read. Another non-root Hypha's
    /// open files are no longer seen by file-watch.
    static func makeNonDumpable() {
        // prctl is variadic, which Swift cannot call: through its address, with fixed arguments.
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        let setDumpable: Int32 = 4  // PR_SET_DUMPABLE, <linux/prctl.h>
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "prctl") else { return }
        _ = unsafeBitCast(symbol, to: Prctl.self)(setDumpable, 0, 0, 0, 0)
    }
}
