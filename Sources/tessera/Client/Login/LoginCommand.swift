import ArgumentParser
import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraText

/// `tessera login`: signs in at the company's OpenID Connect provider with the authorization
/// code flow, PKCE and a loopback redirect (RFC 7636, RFC 8252), and keeps the ID token as the
/// subject token of the server's later commands.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in at your identity provider; later commands exchange the ID token it gives.",
        discussion: """
        The provider comes from the server's subject_token.login in config.yaml, or else from the
        Tessera server, which publishes the upstreams a CLI can sign in with (`login:` in its
        upstreams.yaml; --provider ID picks one when there are several):
          servers:
            prod:
              url: https://tessera.example.com
              subject_token:
                login: {issuer: "https://login.example.com", client_id: "tessera-cli"}

        Examples:
          tessera login                       (opens the browser; the URL is printed too)
          tessera login --no-browser          (over SSH: open the printed URL on your machine's
                                               browser; the redirect goes to this host's 127.0.0.1)
          tessera login --issuer https://login.example.com --login-client-id tessera-cli

        The ID token and the refresh token (if the provider gives one) are kept 0600 in
        $XDG_CACHE_HOME/tessera/<server>/login.json; an expired ID token is refreshed when a
        command needs it. Exit status: 0 signed in; 64 usage; 69 the provider cannot be
        reached; 77 the sign-in was refused, abandoned or timed out.
        """)

    @Flag(name: .customLong("no-browser"), help: "Print the sign-in URL without opening a browser.") var noBrowser = false
    @Option(help: "Seconds to wait for the browser to come back.") var timeout: Int = 300
    @Option(help: "The provider's issuer (overrides subject_token.login.issuer).") var issuer: String?
    @Option(name: .customLong("login-client-id"), help: "The CLI's client id at the provider (overrides subject_token.login.client_id).")
    var loginClientID: String?
    @Option(help: "Which of the providers the server publishes (its upstream id), when it publishes several.") var provider: String?
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if timeout <= 0 { throw ValidationError("--timeout must be a positive number of seconds") }
        if let issuer, !UpstreamDefinition.isAcceptableURL(issuer) {
            throw ValidationError("--issuer must be an https URL (http only on loopback)")
        }
    }

    func run() async throws {
        let settings = client.settings()
        do throws(ClientFailure) {
            let provider = try await loginProvider(settings)
            let tokens = try await OpenIDProvider.using(provider) { (connection) async throws(ClientFailure) in
                try await signIn(connection)
            }
            let session = LoginSession(provider: provider, tokens: tokens, signedInAt: Date())
            try session.write(at: LoginSession.path(cacheDirectory: settings.cacheDirectory))
            let email = tokens.claims.string("email").flatMap { $0 == session.subject ? nil : " (\(displayed($0)))" } ?? ""
            print("signed in to \(provider.issuer) as \(displayed(session.subject))\(email); the ID token is valid until "
                + TimeText.instant(session.expiresAt) + (session.refreshToken == nil ? "" : ", then refreshed"))
        } catch {
            exitWith(error.status, error.message)
        }
    }

    /// The flags, else the config's subject_token.login, else what the server publishes.
    private func loginProvider(_ settings: ClientSettings) async throws(ClientFailure) -> ClientConfiguration.LoginProvider {
        var configured: ClientConfiguration.LoginProvider?
        if case .login(let login) = settings.subjectToken?.value { configured = login }
        if let issuer {
            return ClientConfiguration.LoginProvider(issuer: issuer, clientID: loginClientID ?? configured?.clientID ?? settings.clientID.value,
                                                     clientSecret: configured?.clientSecret,
                                                     scopes: configured?.scopes ?? ClientConfiguration.LoginProvider.defaultScopes)
        }
        if var configured {
            if let loginClientID { configured.clientID = loginClientID }
            return configured
        }
        if let setting = settings.subjectToken {
            throw ClientFailure(.usage, "\(setting.source) takes the subject token from elsewhere; tessera login is for subject_token.login")
        }
        var published = try await PublishedLoginProviders.fetch(issuer: settings.issuer)
        if let provider { published = published.filter { $0.id == provider } }
        guard published.count == 1, let chosen = published.first else {
            if published.isEmpty {
                throw ClientFailure(.usage, "no identity provider to sign in with"
                    + (provider.map { ": \(settings.issuer) publishes none named \($0)" } ?? ": \(settings.issuer) publishes none")
                    + "; add subject_token: {login: {issuer: ..., client_id: ...}} to the server in \(settings.configPath), or pass --issuer")
            }
            throw ClientFailure(.usage, "\(settings.issuer) publishes several sign-in providers; choose one with --provider: "
                + published.map(\.id).joined(separator: ", "))
        }
        if let loginClientID { return ClientConfiguration.LoginProvider(issuer: chosen.issuer, clientID: loginClientID, scopes: chosen.scopes) }
        return ClientConfiguration.LoginProvider(issuer: chosen.issuer, clientID: chosen.clientID, scopes: chosen.scopes)
    }

    /// The browser's round trip: the authorization request, the redirect's checks (the same
    /// `state`; RFC 9207's `iss`, when the provider sends it, naming this provider), then the
    /// code redeemed with the PKCE verifier.
    private func signIn(_ connection: OpenIDProvider) async throws(ClientFailure) -> OpenIDProvider.Tokens {
        let metadata = try await connection.metadata()
        let redirect = try LoopbackRedirect()
        let request = AuthorizationRequest(redirectURI: redirect.redirectURI)
        guard let url = request.url(endpoint: metadata.authorizationEndpoint, provider: connection.provider) else {
            throw ClientFailure(.unavailable, "the authorization endpoint \(metadata.authorizationEndpoint) is not a URL")
        }
        let opened = !noBrowser && Browser.open(url, environment: ProcessInfo.processInfo.environment)
        FileHandle.standardError.write(Data(((opened ? "Signing in with your browser. If it did not open, visit:"
            : "To sign in, open this URL in a browser on this machine:") + "\n\n  \(url)\n\n").utf8))
        let answer = try await redirect.waitForCallback(timeout: TimeInterval(timeout))
        // An error ends the attempt even without this attempt's state (some providers leave it
        // out of error redirects, against RFC 6749 §4.1.2.1): it grants nothing.
        if let error = answer["error"] {
            let description = answer["error_description"].map { ": " + displayed($0) } ?? ""
            throw ClientFailure(.notSignedIn, "\(connection.provider.issuer) refused the sign-in: \(displayed(error))\(description)")
        }
        guard answer["state"].map({ $0.isExactly(request.state) }) == true else {
            throw ClientFailure(.notSignedIn, "the browser came back with another sign-in's state; it was ignored: run `tessera login` again")
        }
        if let named = answer["iss"], !named.isExactly(connection.provider.issuer) {
            throw ClientFailure(.notSignedIn, "the browser came back from another provider (\(displayed(named))); it was ignored")
        }
        guard let code = answer["code"], !code.isEmpty else {
            throw ClientFailure(.notSignedIn, "the browser came back without an authorization code: run `tessera login` again")
        }
        return try await connection.redeem(code: code, request: request, metadata: metadata)
    }
}

/// `tessera logout`: forgets the kept sign-in of a server.
struct LogoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout", abstract: "Forget the sign-in `tessera login` kept for the server.",
        discussion: """
        Example:
          tessera logout --server prod

        Role tokens already cached stay valid until they expire; `tessera end ROLE` ends an activation early.
        """)

    @OptionGroup var client: ClientOptions

    func run() {
        let settings = client.settings()
        let path = LoginSession.path(cacheDirectory: settings.cacheDirectory)
        guard FileManager.default.fileExists(atPath: path) else {
            print("not signed in (no \(path))")
            return
        }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            exitWith(.failure, "cannot remove \(path): \(error.localizedDescription)")
        }
        print("signed out: removed \(path)")
    }
}
