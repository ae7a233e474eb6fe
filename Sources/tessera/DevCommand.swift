import ArgumentParser
import Foundation
import TesseraCore
import TesseraPolicy

struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Development helpers: identity tokens from the dev upstream, trusted only by `tessera serve --dev`.",
        subcommands: [Token.self])

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mint an identity token as a company IdP would, signed by the dev upstream key in the data folder.",
            discussion: "Only a server started with --dev trusts these tokens. Never run --dev in production: whoever can read the data folder can become anyone.")

        @Option(name: .customLong("sub"), help: "The subject (the person or workload).")
        var subject: String

        @Option(name: .customLong("email"), help: "An email claim.")
        var email: String?

        @Option(name: .customLong("groups"), help: "Groups, comma-separated (repeatable).")
        var groups: [String] = []

        @Option(name: .customLong("amr"), help: "Authentication methods (RFC 8176: pwd, mfa, hwk, otp...), comma-separated (default pwd).")
        var methods: [String] = []

        @Option(name: .customLong("acr"), help: "An authentication context class.")
        var acr: String?

        @Flag(inversion: .prefixedNo, help: "Say the device is compliant (--device-compliant) or not (--no-device-compliant); say nothing by default.")
        var deviceCompliant: Bool?

        @Option(name: .customLong("claim"), help: "Any other claim as name=value (repeatable), e.g. repository=acme/app.")
        var claims: [String] = []

        @Option(name: .customLong("lifetime"), help: "How long the token lives (default 1h).")
        var lifetime = "1h"

        @OptionGroup var folders: FolderOptions
        @OptionGroup var issuer: IssuerOption

        func validate() throws {
            guard DurationText.seconds(lifetime).map({ $0 > 0 && $0 <= 86_400 }) == true else {
                throw ValidationError("--lifetime must be a duration up to 24h, not \(lifetime)")
            }
            for claim in claims where !claim.contains("=") {
                throw ValidationError("--claim takes name=value, not \(claim)")
            }
        }

        func run() async throws {
            let upstream: DevUpstream
            do {
                upstream = try DevUpstream.open(dataDirectory: folders.data, tesseraIssuer: issuer.value)
            } catch {
                fail(error.description)
            }
            let split = { (values: [String]) in values.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } }
            var extra: [String: String] = [:]
            for claim in claims {
                let parts = claim.split(separator: "=", maxSplits: 1).map(String.init)
                extra[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            let amr = split(methods)
            let token = try upstream.mint(DevUpstream.Claims(
                subject: subject, email: email, groups: split(groups), authenticationMethods: amr.isEmpty ? ["pwd"] : amr,
                authenticationContext: acr, deviceCompliant: deviceCompliant, extra: extra,
                lifetimeSeconds: DurationText.seconds(lifetime) ?? 3600), now: Date())
            print(token)
        }
    }
}
