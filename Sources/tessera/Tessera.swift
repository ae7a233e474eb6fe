import ArgumentParser

@main
struct Tessera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Just-in-time access tokens: an OAuth 2.0 issuer of short-lived, locally verifiable JWTs.",
        subcommands: [Serve.self, Keys.self, Clients.self, Policy.self, Audit.self, Admin.self, Dev.self, Migrate.self]
    )
}
