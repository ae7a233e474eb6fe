import ArgumentParser

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
}
