import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraText

/// The OpenID Connect provider as `tessera login` talks to it: its discovery document, its
/// token endpoint (redeeming a code, refreshing) and its keys, which verify every ID token it
/// hands over before the CLI keeps it. Redirects are not followed and bodies are capped, as for
/// the upstream fetches of the server.
struct OpenIDProvider {
    struct Metadata {
        let authorizationEndpoint: String
        let tokenEndpoint: String
        let jwksURI: String
    }

    /// What the token endpoint answered, its ID token verified.
    struct Tokens {
        let idToken: String
        let claims: JWTClaims
        let refreshToken: String?
    }

    /// The JWS algorithms an ID token may use: public-key ones only (a provider signing with the
    /// client secret would let anyone holding the CLI's configuration mint identities).
    static let algorithms: [SignatureAlgorithm] = [.rs256, .ps256, .es256, .edDSA]
    static let timeout: TimeAmount = .seconds(15)
    static let maximumBytes = 256 * 1024

    let provider: ClientConfiguration.LoginProvider
    private let http: HTTPClient

    private init(_ provider: ClientConfiguration.LoginProvider) {
        self.provider = provider
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: Self.timeout, read: Self.timeout)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// `body` with a connection that is shut down afterwards, whatever `body` did.
    static func using<T>(_ provider: ClientConfiguration.LoginProvider,
                         _ body: (OpenIDProvider) async throws(ClientFailure) -> T) async throws(ClientFailure) -> T {
        let connection = OpenIDProvider(provider)
        let result: Result<T, ClientFailure>
        do throws(ClientFailure) {
            result = .success(try await body(connection))
        } catch {
            result = .failure(error)
        }
        try? await connection.http.shutdown()
        return try result.get()
    }

    private var issuer: String { provider.issuer }

    /// The provider's discovery document (OpenID Connect Discovery §4), which must name the
    /// configured issuer exactly (§4.3) and https endpoints (http only on loopback).
    func metadata() async throws(ClientFailure) -> Metadata {
        var base = issuer
        while base.hasSuffix("/") { base.removeLast() }
        let url = base + "/.well-known/openid-configuration"
        let object = try await document(url)
        guard let named = object[exactly: "issuer"]?.stringValue, named.isExactly(issuer) else {
            throw ClientFailure(.unavailable, "\(url) names another issuer than \(issuer): check login.issuer in the config")
        }
        func endpoint(_ name: String) throws(ClientFailure) -> String {
            guard let value = object[exactly: name]?.stringValue, UpstreamDefinition.isAcceptableURL(value) else {
                throw ClientFailure(.unavailable, "\(url) has no \(name) that is https (or http on loopback)")
            }
            return value
        }
        return Metadata(authorizationEndpoint: try endpoint("authorization_endpoint"), tokenEndpoint: try endpoint("token_endpoint"),
                        jwksURI: try endpoint("jwks_uri"))
    }

    /// Redeems the authorization code with its PKCE verifier (RFC 7636 §4.5); the ID token must
    /// carry this attempt's nonce.
    func redeem(code: String, request: AuthorizationRequest, metadata: Metadata) async throws(ClientFailure) -> Tokens {
        let answer = try await tokenRequest(metadata, [("grant_type", "authorization_code"), ("code", code),
                                                       ("redirect_uri", request.redirectURI), ("code_verifier", request.codeVerifier)])
        guard let idToken = answer[exactly: "id_token"]?.stringValue else {
            throw ClientFailure(.notSignedIn, "\(issuer) answered without an ID token: is openid among login.scopes?")
        }
        let claims = try await verify(idToken, metadata: metadata)
        guard let nonce = claims.string("nonce"), nonce.isExactly(request.nonce) else {
            throw ClientFailure(.notSignedIn, "the ID token from \(issuer) does not carry this sign-in's nonce; it was refused")
        }
        return Tokens(idToken: idToken, claims: claims, refreshToken: answer[exactly: "refresh_token"]?.stringValue)
    }

    /// A new ID token for the same person, or nil when the provider refreshes only its access
    /// token (OpenID Connect Core §12.2 makes the ID token optional) or refuses the refresh
    /// token: then only a new sign-in helps.
    func refresh(_ refreshToken: String, subject: String, metadata: Metadata) async throws(ClientFailure) -> Tokens? {
        let answer: [String: JSONValue]
        do {
            answer = try await tokenRequest(metadata, [("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
        } catch where error.status == .notSignedIn {
            return nil
        }
        guard let idToken = answer[exactly: "id_token"]?.stringValue else { return nil }
        let claims = try await verify(idToken, metadata: metadata)
        // §12.2: the refreshed ID token is about the same person.
        guard claims.subject.map({ $0.isExactly(subject) }) == true else {
            throw ClientFailure(.notSignedIn, "the refreshed ID token from \(issuer) names another subject; it was refused")
        }
        return Tokens(idToken: idToken, claims: claims, refreshToken: answer[exactly: "refresh_token"]?.stringValue ?? refreshToken)
    }

    /// OpenID Connect Core §3.1.3.7: the signature with the provider's keys, `iss` exactly,
    /// the CLI's client id among the audiences (and as `azp` when there are several), `exp`.
    private func verify(_ idToken: String, metadata: Metadata) async throws(ClientFailure) -> JWTClaims {
        let keys: VerificationKeySet
        do {
            keys = try UpstreamJWKS.keySet(from: try await fetch(metadata.jwksURI), algorithms: Self.algorithms).keys
        } catch let failure as ClientFailure {
            throw failure
        } catch {
            throw ClientFailure(.unavailable, "the keys at \(metadata.jwksURI) cannot be used: \(error)")
        }
        let verifier = JWTVerifier(policy: VerificationPolicy(issuer: issuer, audiences: [provider.clientID],
                                                              allowedAlgorithms: Set(Self.algorithms)))
        let claims: JWTClaims
        do {
            claims = try verifier.verify(idToken, keys: keys, now: Date()).claims
        } catch {
            throw ClientFailure(.notSignedIn, "the ID token from \(issuer) was refused: \(error.message)")
        }
        if claims.audiences.count > 1, claims.string("azp").map({ $0.isExactly(provider.clientID) }) != true {
            throw ClientFailure(.notSignedIn, "the ID token from \(issuer) is for several audiences and its azp is not \(provider.clientID)")
        }
        return claims
    }

    /// A POST to the token endpoint. The client authenticates with HTTP Basic when it has a
    /// secret, and names itself in the form when it is public (RFC 6749 §2.3.1, §3.2.1).
    private func tokenRequest(_ metadata: Metadata, _ form: [(String, String)]) async throws(ClientFailure) -> [String: JSONValue] {
        var request = HTTPClientRequest(url: metadata.tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        var form = form
        if let secret = provider.clientSecret {
            request.headers.add(name: "Authorization", value: FormEncoding.basicCredentials(clientID: provider.clientID, secret: secret))
        } else {
            form.append(("client_id", provider.clientID))
        }
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))
        let status: UInt
        let body: [String: JSONValue]
        do {
            let response = try await http.execute(request, timeout: Self.timeout)
            status = response.status.code
            body = (try? JSONParser.parseObject(Array(buffer: try await response.body.collect(upTo: Self.maximumBytes)))) ?? [:]
        } catch {
            throw ClientFailure(.unavailable, "cannot reach \(metadata.tokenEndpoint): \(TesseraAPIClient.describe(error))")
        }
        guard status == 200 else {
            let reason = [body["error"]?.stringValue, body["error_description"]?.stringValue].compactMap { $0 }.map(displayed)
            let said = reason.isEmpty ? "HTTP \(status)" : reason.joined(separator: ": ")
            // 400 and 401 are the provider's refusal (a used code, a revoked refresh token, a
            // wrong client): signing in again is the answer. Anything else is an outage.
            throw ClientFailure(status == 400 || status == 401 ? .notSignedIn : .unavailable, "\(issuer) refused the sign-in: \(said)")
        }
        return body
    }

    private func document(_ url: String) async throws(ClientFailure) -> [String: JSONValue] {
        do {
            return try JSONParser.parseObject(try await fetch(url))
        } catch let failure as ClientFailure {
            throw failure
        } catch {
            throw ClientFailure(.unavailable, "\(url) is not a JSON object")
        }
    }

    private func fetch(_ url: String) async throws(ClientFailure) -> [UInt8] {
        do {
            return try await HTTPDocumentFetcher(client: http, timeout: Self.timeout, maximumBytes: Self.maximumBytes).fetch(url).body
        } catch {
            throw ClientFailure(.unavailable, error.message)
        }
    }
}
