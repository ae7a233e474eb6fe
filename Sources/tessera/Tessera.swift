import ArgumentParser
import Foundation

@main
struct Tessera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Just-in-time access tokens: an OAuth 2.0 issuer of short-lived, locally verifiable JWTs.",
        subcommands: [Serve.self, Keys.self, Clients.self, Policy.self, Audit.self, Admin.self, Dev.self, Migrate.self, Verify.self]
    )

    /// ArgumentParser's entry point, except that a usage error of `tessera verify` exits 2
    /// rather than ArgumentParser's 64 (EX_USAGE): verify's documented statuses (0 valid,
    /// 1 invalid, 2 usage, 69 unreachable) are what scripts on resource servers branch on.
    /// Every other command keeps ArgumentParser's statuses.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // The root takes no options, so the first argument names the subcommand.
            if exitCode(for: error) == .validationFailure, CommandLine.arguments.dropFirst().first == Verify.configuration.commandName {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(Verify.Status.usage)
            }
            exit(withError: error)
        }
    }
}
