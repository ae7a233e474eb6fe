import Foundation
import TesseraJWT
import TesseraPolicy

/// The sign-in `tessera login` keeps for one server: `<cache>/login.json` as a `PrivateFiles`
/// file (0600), holding the ID token it exchanges and the refresh token, if the provider gave
/// one. A session is for the provider and client id it was made with: after a change of the
/// config it no longer counts.
struct LoginSession: Codable {
    /// An ID token is used while more than this remains, as a cached role token is.
    static let minimumRemaining: TimeInterval = 60

    var issuer: String
    var clientID: String
    var scopes: [String]?
    var subject: String
    var idToken: String
    var refreshToken: String?
    var expiresAt: Date
    var signedInAt: Date

    enum CodingKeys: String, CodingKey {
        case issuer, clientID = "client_id", scopes, subject, idToken = "id_token", refreshToken = "refresh_token"
        case expiresAt = "expires_at", signedInAt = "signed_in_at"
    }

    static func path(cacheDirectory: String) -> String {
        (cacheDirectory as NSString).appendingPathComponent("login.json")
    }

    static func read(at path: String) -> LoginSession? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder.tokenCache.decode(LoginSession.self, from: data)
    }

    func write(at path: String) throws(ClientFailure) {
        let data: Data
        do {
            data = try JSONEncoder.tokenCache.encode(self)
        } catch {
            throw ClientFailure(.failure, "cannot encode the sign-in session: \(error.localizedDescription)")
        }
        try PrivateFiles.write(data, to: path)
    }

    /// The provider the session was made with, as a server publishes it: no client secret.
    var provider: ClientConfiguration.LoginProvider {
        ClientConfiguration.LoginProvider(issuer: issuer, clientID: clientID, scopes: scopes ?? ClientConfiguration.LoginProvider.defaultScopes)
    }

    func isFor(_ provider: ClientConfiguration.LoginProvider) -> Bool {
        issuer == provider.issuer && clientID == provider.clientID
    }

    init(provider: ClientConfiguration.LoginProvider, tokens: OpenIDProvider.Tokens, signedInAt: Date) {
        issuer = provider.issuer
        clientID = provider.clientID
        scopes = provider.scopes
        subject = tokens.claims.subject ?? ""
        idToken = tokens.idToken
        refreshToken = tokens.refreshToken
        expiresAt = tokens.claims.expiresAt ?? Date()
        self.signedInAt = signedInAt
    }

    /// The ID token to exchange: the kept one while it has more than a minute left, else one
    /// refreshed with the refresh token. The session is locked meanwhile, so parallel
    /// invocations refresh once (a rotating refresh token used twice would end the session).
    static func idToken(for provider: ClientConfiguration.LoginProvider, cacheDirectory: String,
                        source: String) async throws(ClientFailure) -> String {
        let path = path(cacheDirectory: cacheDirectory)
        let signIn = "run `tessera login` (\(source))"
        return try await PrivateFiles.locked(path) { () async throws(ClientFailure) -> String in
            guard let session = read(at: path), session.isFor(provider) else {
                throw ClientFailure(.notSignedIn, "not signed in to \(provider.issuer): \(signIn)")
            }
            if session.expiresAt.timeIntervalSinceNow > minimumRemaining { return session.idToken }
            guard let refreshToken = session.refreshToken else {
                throw ClientFailure(.notSignedIn, "your sign-in to \(provider.issuer) has expired: \(signIn)")
            }
            let refreshed = try await OpenIDProvider.using(provider) { (connection) async throws(ClientFailure) in
                try await connection.refresh(refreshToken, subject: session.subject, metadata: try await connection.metadata())
            }
            guard let refreshed else {
                var ended = session
                ended.refreshToken = nil
                try? ended.write(at: path)
                throw ClientFailure(.notSignedIn, "your sign-in to \(provider.issuer) has expired and cannot be refreshed: \(signIn)")
            }
            try LoginSession(provider: provider, tokens: refreshed, signedInAt: session.signedInAt).write(at: path)
            return refreshed.idToken
        }
    }
}
