import ArgumentParser
import Foundation
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraPolicy

/// `tessera verify`: checks an access token as a resource server must, and says in plain words
/// what it holds or why it fails. It asks the issuer over HTTP only (metadata, JWKS,
/// introspection), so it runs on any host that can reach the issuer.
struct Verify: AsyncParsableCommand {
    /// Exit statuses, documented in the help and the README; scripts branch on them.
    enum Status {
        static let invalid: Int32 = 1
        /// EX_USAGE, as ArgumentParser exits for bad options, like every client command.
        static let usage: Int32 = ClientExit.usage.rawValue
        /// EX_UNAVAILABLE: the issuer could not be asked, so the token was not checked.
        static let unavailable: Int32 = 69
    }

    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify an access token as a resource server would, and print its claims.",
        discussion: """
            Checks every rule of RFC 9068 and RFC 8725: the signature with a key of the issuer's JWKS \
            (the algorithm comes from the key, never from the token header; alg none and HMAC are \
            refused; jku, x5u, jwk and x5c headers are ignored), typ at+jwt, iss, aud, exp and nbf \
            within the leeway. Prints subject, role, scopes, audiences, issue and expiry times, \
            activation, break-glass, client_id and jti; --json prints one object \
            {"valid", "error", "claims", "active"} for scripts.

            The keys: --issuer URL fetches URL/.well-known/oauth-authorization-server and its \
            jwks_uri, and requires iss to equal URL exactly; --jwks URL|FILE takes a JWK Set \
            directly, and then iss is checked only if --issuer is given too (a warning says so). \
            Without --audience the audience is not checked (a note says so). --introspect also \
            asks the issuer's introspection endpoint (a client with can_introspect, HTTP Basic; \
            the secret from --client-secret-file or TESSERA_CLIENT_SECRET) whether a token that \
            passes the local checks is still active: revoked tokens, and those of ended \
            activations, are not.

            Exit status: 0 the token is valid (and active, with --introspect); 1 it is not; \
            64 usage error (also a --jwks or --client-secret-file file that cannot be read or used); \
            69 the issuer's metadata, its JWKS or its introspection endpoint cannot be reached or \
            answers something unusable, so the token was not checked.

            Examples:
              tessera verify "$TOKEN" --issuer https://tessera.example.com --audience https://api.example.com
              tessera token db-admin | tessera verify - --issuer https://tessera.example.com --json
              tessera verify "$TOKEN" --jwks jwks.json --issuer https://tessera.example.com
            """)

    @Argument(help: "The access token; - or nothing reads it from standard input.")
    var token: String?

    @Option(help: ArgumentHelp("The issuer URL: its RFC 8414 metadata names the JWKS, and iss must equal it exactly.", valueName: "url"))
    var issuer: String?

    @Option(help: ArgumentHelp("A JWK Set to verify with: an https URL (http only on loopback) or a file.", valueName: "url|file"))
    var jwks: String?

    @Option(help: ArgumentHelp("The audience the token must name (a resource server's own identifier).", valueName: "aud"))
    var audience: String?

    @Option(help: ArgumentHelp("Clock leeway for exp and nbf, in seconds, at most 300.", valueName: "seconds"))
    var leeway = 60

    @Flag(help: "Print one JSON object: {\"valid\", \"error\", \"claims\", \"active\"}.")
    var json = false

    @Flag(help: "Also ask the issuer's introspection endpoint (RFC 7662) whether the token is active.")
    var introspect = false

    @Option(name: .customLong("client-id"), help: ArgumentHelp("With --introspect: a client with can_introspect.", valueName: "id"))
    var clientID: String?

    @Option(name: .customLong("client-secret-file"), help: ArgumentHelp("With --introspect: a file holding the client's secret (or env TESSERA_CLIENT_SECRET).", valueName: "file"))
    var clientSecretFile: String?

    func validate() throws {
        guard issuer != nil || jwks != nil else {
            throw ValidationError("say where the keys are: --issuer URL (its metadata names the JWKS) or --jwks URL|FILE")
        }
        guard (0...Int(VerificationPolicy.maximumLeeway)).contains(leeway) else {
            throw ValidationError("--leeway must be 0 to \(Int(VerificationPolicy.maximumLeeway)) seconds, not \(leeway)")
        }
        // Keys fetched over plain HTTP from another host could be anyone's.
        if let issuer, !UpstreamDefinition.isAcceptableURL(issuer) {
            throw ValidationError("--issuer must be an https URL (http only on 127.0.0.1, localhost or [::1]), not \(issuer)")
        }
        if let jwks, Self.isURL(jwks), !UpstreamDefinition.isAcceptableURL(jwks) {
            throw ValidationError("--jwks must be an https URL (http only on 127.0.0.1, localhost or [::1]) or a file, not \(jwks)")
        }
        if introspect {
            // The secret goes only where the issuer's own metadata says, never to a URL a token names.
            guard issuer != nil else { throw ValidationError("--introspect needs --issuer: the introspection endpoint comes from its metadata") }
            guard clientID != nil else { throw ValidationError("--introspect needs --client-id, a client with can_introspect") }
            guard clientSecretFile != nil || Self.secretFromEnvironment != nil else {
                throw ValidationError("--introspect needs the client's secret: --client-secret-file FILE or TESSERA_CLIENT_SECRET")
            }
        } else if clientID != nil || clientSecretFile != nil {
            throw ValidationError("--client-id and --client-secret-file are for --introspect")
        }
    }

    func run() async throws {
        let token = try readToken()
        let secret = introspect ? try readSecret() : nil
        let fileKeys = try jwks.flatMap { Self.isURL($0) ? nil : try Self.keys(fromFile: $0) }
        let now = Date()

        // A JWK Set file needs no HTTP at all, unless the issuer is also to be asked about the token.
        let connection = (fileKeys != nil && !introspect) ? nil : IssuerConnection()
        let verdict: TokenVerdict
        do {
            verdict = try await check(token, fileKeys: fileKeys, secret: secret, connection: connection, now: now)
        } catch {
            await connection?.shutdown()
            FileHandle.standardError.write(Data("tessera: \(error.message)\n".utf8))
            if json { print(VerdictReport.json(unreachable: error)) }
            throw ExitCode(Status.unavailable)
        }
        await connection?.shutdown()

        if issuer == nil {
            FileHandle.standardError.write(Data("tessera: warning: iss was not checked (no --issuer): any issuer whose key is in this JWKS passes\n".utf8))
        }
        if audience == nil {
            FileHandle.standardError.write(Data("tessera: note: the audience was not checked (no --audience); a resource server must check its own\n".utf8))
        }
        print(json ? VerdictReport.json(verdict) : VerdictReport.text(verdict, now: now))
        if !verdict.isValid { throw ExitCode(Status.invalid) }
    }

    /// Fetches what the check needs, verifies locally, then introspects a locally valid token.
    private func check(_ token: String, fileKeys: VerificationKeySet?, secret: String?, connection: IssuerConnection?,
                       now: Date) async throws(Unreachable) -> TokenVerdict {
        var metadata: IssuerDocument?
        if let issuer, let connection, jwks == nil || introspect {
            metadata = try await connection.metadata(issuer: issuer)
        }
        let keys: VerificationKeySet
        if let fileKeys {
            keys = fileKeys
        } else {
            guard let connection, let url = jwks ?? metadata?.jwksURI else { throw Unreachable("no JWKS to fetch") }
            keys = try Self.keys(from: try await connection.get(url), source: url)
        }
        var verdict = TokenCheck(issuer: issuer, audience: audience, leeway: leeway, keys: keys).verify(token, now: now)
        if introspect, verdict.isValid, let connection, let clientID, let secret {
            guard let endpoint = metadata?.introspectionEndpoint, UpstreamDefinition.isAcceptableURL(endpoint) else {
                throw Unreachable("the issuer's metadata has no introspection_endpoint that is https (or http on loopback)")
            }
            let active = try await connection.isActive(token, endpoint: endpoint, clientID: clientID, secret: secret)
            verdict.active = active
            if !active { verdict.failure = "the issuer says the token is not active (revoked, its activation ended, or unknown to it)" }
        }
        return verdict
    }

    private func readToken() throws -> String {
        let text: String
        if let token, token != "-" {
            text = token
        } else {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw Self.usage("no token given: pass it as an argument or on standard input") }
        return trimmed
    }

    private func readSecret() throws -> String {
        guard let clientSecretFile else { return Self.secretFromEnvironment ?? "" }
        guard let data = FileManager.default.contents(atPath: clientSecretFile) else {
            throw Self.usage("cannot read --client-secret-file \(clientSecretFile)")
        }
        let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else { throw Self.usage("--client-secret-file \(clientSecretFile) is empty") }
        return secret
    }

    private static var secretFromEnvironment: String? {
        ProcessInfo.processInfo.environment["TESSERA_CLIENT_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    private static func isURL(_ text: String) -> Bool { text.contains("://") }

    /// A JWK Set file: a bad one is the caller's to fix, a usage error.
    private static func keys(fromFile path: String) throws -> VerificationKeySet {
        guard let data = FileManager.default.contents(atPath: path) else { throw usage("cannot read the --jwks file \(path)") }
        guard data.count <= IssuerConnection.maximumBytes else { throw usage("the --jwks file \(path) is larger than 256 KiB") }
        do {
            return try keys(from: Array(data), source: path)
        } catch {
            throw usage(error.message)
        }
    }

    /// Every signing key of a JWK Set, each bound to the algorithms its own `alg` and type allow,
    /// by the importer that reads upstream key sets (EC points on the curve, RSA >= 2048 bits,
    /// private members refused).
    private static func keys(from body: [UInt8], source: String) throws(Unreachable) -> VerificationKeySet {
        do {
            return try UpstreamJWKS.keySet(from: body, algorithms: SignatureAlgorithm.allCases).keys
        } catch {
            throw Unreachable("the JWK Set from \(source): \(error.message)")
        }
    }

    /// A usage error found while running: reported like one found while parsing, exit 64.
    private static func usage(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("tessera: \(message)\n".utf8))
        return ExitCode(Status.usage)
    }
}
