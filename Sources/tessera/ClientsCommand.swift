import ArgumentParser
import Foundation
import TesseraCore
import TesseraPolicy

struct Clients: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage OAuth clients in policies/clients.yaml.", subcommands: [Create.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a client. A secret client gets a new 256-bit secret, printed once; only its SHA-256 is stored.")

        @Argument(help: "The client id (letters, digits, '-', '_', '.').")
        var id: String

        @Option(name: .customLong("scope"), help: "A scope the client may request (repeat for several).")
        var scopes: [String] = []

        @Option(name: .customLong("audience"), help: "An audience (resource server URI) the client's tokens may be for (repeat for several).")
        var audiences: [String] = []

        @Option(name: .customLong("auth-method"), help: "client_secret_basic (default), client_secret_post or private_key_jwt.")
        var authMethod: String = ClientAuthMethod.clientSecretBasic.rawValue

        @Option(name: .customLong("jwks-file"), help: "For private_key_jwt: the client's public JWK Set file, relative to the policies folder.")
        var jwksFile: String?

        @Option(name: .customLong("lifetime"), help: "Token lifetime, e.g. 300, 5m, 1h (default 5m, at most 60m).")
        var lifetime: String = "5m"

        @Option(name: .customLong("token-type-header"), help: "typ of the client's tokens: at+jwt (default, RFC 9068) or JWT (for libjwt 1.x verifiers).")
        var tokenTypeHeader: String = "at+jwt"

        @Option(help: "A description for people reading clients.yaml.")
        var description: String?

        @Flag(name: .customLong("can-introspect"), help: "Allow the client to call /introspect (resource servers).")
        var canIntrospect = false

        @Option(name: .customLong("signing-alg"), help: "Sign this client's tokens with ES256, RS256, PS256 or EdDSA (default: keys.yaml's default_alg).")
        var signingAlgorithm: String?

        @Flag(name: .customLong("public"), help: "A public client (a CLI on laptops): no secret, token exchange only; audiences come from roles.")
        var isPublic = false

        @OptionGroup var folders: FolderOptions

        func run() throws {
            guard var method = ClientAuthMethod(rawValue: authMethod) else {
                fail("unknown --auth-method \(authMethod); use client_secret_basic, client_secret_post or private_key_jwt")
            }
            if jwksFile != nil { method = .privateKeyJWT }
            if isPublic {
                guard jwksFile == nil else { fail("a --public client holds no keys: drop --jwks-file") }
                guard !canIntrospect else {
                    fail("a --public client has no credentials, so anyone could introspect as it: drop --can-introspect, "
                         + "or create a confidential client for the resource server")
                }
                method = .none
            }
            guard ClientDefinition.isValidID(id) else { fail("client ids use letters, digits, '-', '_' and '.' only") }
            guard isPublic || !audiences.isEmpty else { fail("give at least one --audience (the resource server the tokens are for)") }
            if let bad = scopes.first(where: { !ClientDefinition.isValidScope($0) }) { fail("\"\(bad)\" is not a valid scope") }
            if let reserved = scopes.first(where: ClientDefinition.isReservedScope) {
                fail("the scope \"\(reserved)\" is reserved for Tessera's admin tokens (`tessera admin token`)")
            }
            guard let seconds = DurationText.seconds(lifetime), (1...ClientDefinition.maximumTokenLifetime).contains(seconds) else {
                fail("--lifetime must be between 1s and 60m, such as 300, 90s, 5m or 1h")
            }
            guard ClientDefinition.tokenTypeHeaders.contains(tokenTypeHeader) else {
                fail("--token-type-header must be at+jwt or JWT")
            }
            if let signingAlgorithm, !SigningKeyPolicy.supportedAlgorithms.contains(signingAlgorithm) {
                fail("--signing-alg must be one of \(SigningKeyPolicy.supportedAlgorithms.joined(separator: ", "))")
            }
            var secret: String?
            var keys: ClientKeySource?
            var hash: String?
            if method == .privateKeyJWT {
                guard let jwksFile else { fail("private_key_jwt needs --jwks-file with the client's public keys") }
                keys = .file(path: jwksFile, SourceLocation(file: "command line"))
            } else if method != .none {
                let generated = ClientSecret.generate()
                secret = generated.secret
                hash = generated.sha256Hex
            }
            let client = ClientDefinition(
                id: id, description: description, authMethod: method, secretSHA256: hash, keys: keys, scopes: scopes,
                audiences: audiences, tokenLifetimeSeconds: seconds, tokenTypeHeader: tokenTypeHeader, canIntrospect: canIntrospect,
                location: SourceLocation(file: "command line"), signingAlgorithm: signingAlgorithm)
            do {
                // A client with a key file must load cleanly before it is written down.
                if method == .privateKeyJWT {
                    _ = try ClientRegistry(bundle: PolicyBundle(clients: [client], directory: folders.policies))
                }
                let editor = ClientsFileEditor(policiesDirectory: folders.policies)
                try editor.append(client)
                print("added client \(id) to \(editor.path)")
            } catch {
                fail(error.description)
            }
            if let secret {
                print("client_secret: \(secret)")
                print("This secret is shown once and stored only as a SHA-256 hash. A running `tessera serve` loads the client by itself within its policy poll interval (2 s by default).")
            }
        }
    }
}

struct Policy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check, test and explain the policy bundle.", subcommands: [Check.self, Test.self, Explain.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the policy bundle as `tessera serve` would; exits non-zero naming the file, line and field at fault.")

        @OptionGroup var folders: FolderOptions

        func run() throws {
            do {
                let bundle = try PolicyBundle.load(directory: folders.policies)
                let registry = try ClientRegistry(bundle: bundle)
                print("policy bundle \(folders.policies) is valid: \(registry.count) client(s)")
                printAccessSummary(bundle)
                printNotificationSummary(bundle.notifications)
                printOnCallSummary(bundle)
                for warning in bundle.expiredEligibility(at: Date()) { print("warning: \(warning)") }
            } catch {
                fail(error.description)
            }
        }
    }
}
