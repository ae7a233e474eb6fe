import ArgumentParser
import TesseraServer

@main
struct Tessera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Just-in-time access tokens: an OAuth 2.0 issuer of short-lived, locally verifiable JWTs.",
        subcommands: [
            // The engineer's and approver's client (Client/).
            LoginCommand.self, LogoutCommand.self, TokenCommand.self, StatusCommand.self, RequestsCommand.self, ShowCommand.self,
            ApproveCommand.self, DenyCommand.self, CancelCommand.self, ReviewCommand.self, ExtendCommand.self, EndCommand.self,
            Verify.self, ConfigCommand.self,
            // Running a server.
            Serve.self, Keys.self, Clients.self, Policy.self, OnCall.self, Assign.self, Assignments.self, Unassign.self, Audit.self, Admin.self,
            Dev.self, Migrate.self,
        ]
    )

    /// `tessera serve` runs its tasks on NIO's event loops, one per core it may use (see
    /// `ServerRuntime`), installed before its first task starts. The client commands keep
    /// Swift's own thread pool: they wait on people, not on the CPU. The rest is what
    /// `AsyncParsableCommand.main()` does.
    static func main() async {
        if CommandLine.arguments.dropFirst().first == "serve" {
            ServerRuntime.prepare()
        }
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
