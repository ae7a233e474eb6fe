import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy

/// One sign-in attempt's secrets: the PKCE verifier (RFC 7636), the `state` that ties the
/// redirect to this attempt (RFC 6749 §10.12) and the `nonce` that ties the ID token to it
/// (OpenID Connect Core §3.1.2.1). Each is 32 random bytes, base64url: 43 characters, the
/// verifier within RFC 7636's 43-128 and with 256 bits of entropy as §7.1 asks.
struct AuthorizationRequest {
    let codeVerifier: String
    let state: String
    let nonce: String
    let redirectURI: String

    init(redirectURI: String, random: any RandomSource = SecureRandom()) {
        codeVerifier = Base64URL.encode(random.bytes(count: 32))
        state = Base64URL.encode(random.bytes(count: 32))
        nonce = Base64URL.encode(random.bytes(count: 32))
        self.redirectURI = redirectURI
    }

    /// `S256`: BASE64URL(SHA256(ASCII(code_verifier))) (RFC 7636 §4.2).
    static func codeChallenge(for verifier: String) -> String {
        Base64URL.encode(SHA256.hash(Array(verifier.utf8)))
    }

    /// The authorization endpoint URL the browser opens, its existing query kept.
    func url(endpoint: String, provider: ClientConfiguration.LoginProvider) -> String? {
        guard var components = URLComponents(string: endpoint) else { return nil }
        var items = components.queryItems ?? []
        items += [
            URLQueryItem(name: "response_type", value: "code"),
            URLQueryItem(name: "client_id", value: provider.clientID),
            URLQueryItem(name: "redirect_uri", value: redirectURI),
            URLQueryItem(name: "scope", value: provider.scopes.joined(separator: " ")),
            URLQueryItem(name: "state", value: state),
            URLQueryItem(name: "nonce", value: nonce),
            URLQueryItem(name: "code_challenge", value: Self.codeChallenge(for: codeVerifier)),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        components.queryItems = items
        // URLComponents leaves '+' alone in queries, which form decoding reads as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.url?.absoluteString
    }
}
