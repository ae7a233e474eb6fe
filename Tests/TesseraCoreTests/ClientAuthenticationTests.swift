import Foundation
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT

@Suite("Client authentication")
struct ClientAuthenticationTests {
    let fixture: ClientFixture

    init() throws {
        fixture = try ClientFixture()
    }

    func form(_ pairs: [(String, String)]) throws -> FormParameters {
        try FormParameters([("grant_type", "client_credentials")] + pairs)
    }

    func presentation(basic: (String, String)? = nil, _ pairs: [(String, String)] = []) throws -> ClientCredentialPresentation {
        ClientCredentialPresentation(basic: basic.map { (id: $0.0, secret: $0.1) }, form: try form(pairs))
    }

    @Test func acceptsTheRegisteredSecretMethods() async throws {
        let authenticator = fixture.authenticator()
        #expect(try await authenticator.authenticate(presentation(basic: ("basic-client", fixture.basicSecret))).id == "basic-client")
        let post = try presentation([("client_id", "post-client"), ("client_secret", fixture.postSecret)])
        #expect(try await authenticator.authenticate(post).id == "post-client")
    }

    @Test func answersUnknownClientsAndWrongSecretsAlike() async throws {
        let authenticator = fixture.authenticator()
        let wrong = await #expect(throws: OAuthError.self) {
            try await authenticator.authenticate(presentation(basic: ("basic-client", "wrong")))
        }
        let unknown = await #expect(throws: OAuthError.self) {
            try await authenticator.authenticate(presentation(basic: ("nobody", "wrong")))
        }
        #expect(wrong == unknown)
        #expect(wrong?.code == .invalidClient)
        #expect(wrong?.httpStatus == 401)
    }

    @Test func refusesAMethodTheClientDidNotRegister() async throws {
        let authenticator = fixture.authenticator()
        let error = await #expect(throws: OAuthError.self) {
            try await authenticator.authenticate(presentation([("client_id", "basic-client"), ("client_secret", fixture.basicSecret)]))
        }
        #expect(error?.errorDescription.contains("client_secret_basic") == true)
    }

    @Test func refusesTwoMethodsAtOnce() async throws {
        let authenticator = fixture.authenticator()
        let error = await #expect(throws: OAuthError.self) {
            try await authenticator.authenticate(presentation(basic: ("basic-client", fixture.basicSecret),
                                                              [("client_id", "basic-client"), ("client_secret", fixture.basicSecret)]))
        }
        #expect(error?.code == .invalidRequest)
        // A client_assertion_type, even without its assertion, is a second method beside Basic
        // (found by schemathesis: it was ignored, and the Basic credentials let the request through).
        let mixed = await #expect(throws: OAuthError.self) {
            try await authenticator.authenticate(presentation(basic: ("basic-client", fixture.basicSecret),
                                                              [("client_assertion_type", "nonsense")]))
        }
        #expect(mixed?.code == .invalidRequest)
    }

    @Test func requiresSomeAuthentication() async throws {
        let error = await #expect(throws: OAuthError.self) {
            try await fixture.authenticator().authenticate(presentation([("client_id", "basic-client")]))
        }
        #expect(error?.code == .invalidClient)
    }

    func assertionPresentation(_ assertion: String, type: String = ClientAuthenticator.jwtBearerAssertionType) throws -> ClientCredentialPresentation {
        try presentation([("client_assertion_type", type), ("client_assertion", assertion)])
    }

    @Test func acceptsAPrivateKeyJWTAssertionOnce() async throws {
        let authenticator = fixture.authenticator()
        let assertion = try fixture.assertion()
        #expect(try await authenticator.authenticate(assertionPresentation(assertion)).id == "jwt-client")
        let replay = await #expect(throws: OAuthError.self) { try await authenticator.authenticate(assertionPresentation(assertion)) }
        #expect(replay?.errorDescription == "client authentication failed")
        #expect(replay?.auditDetails["reason"]?.stringValue?.contains("already used") == true)
    }

    @Test func acceptsTheIssuerAsAudience() async throws {
        let assertion = try fixture.assertion(["aud": .string(testIssuer)])
        #expect(try await fixture.authenticator().authenticate(assertionPresentation(assertion)).id == "jwt-client")
    }

    @Test("refuses bad assertions", arguments: [
        ("aud", JSONValue.string("https://elsewhere/token"), "audience"),
        ("exp", JSONValue.number(1_800_000_000 - 120), "expired"),
        ("exp", JSONValue.number(1_800_000_000 + 3600), "too far"),
        ("sub", JSONValue.string("someone-else"), "sub must equal iss"),
        ("jti", JSONValue.null, "jti"),
        ("iss", JSONValue.string("basic-client"), "uses private_key_jwt"),
        ("iss", JSONValue.string("no-such-client"), "uses private_key_jwt"),
    ])
    func refusesBadAssertions(claim: String, value: JSONValue, message: String) async throws {
        var overrides: [String: JSONValue] = [claim: value]
        if claim == "iss" { overrides["sub"] = value }
        let assertion = try fixture.assertion(overrides)
        let error = await #expect(throws: OAuthError.self) { try await fixture.authenticator().authenticate(assertionPresentation(assertion)) }
        #expect(error?.code == .invalidClient)
        // The client hears the same words whether or not the id exists (security review);
        // the reason is for the audit entry and the log.
        #expect(error?.errorDescription == "client authentication failed", "\(String(describing: error))")
        #expect(error?.auditDetails["reason"]?.stringValue?.contains(message) == true, "\(String(describing: error))")
    }

    @Test func refusesAnAssertionSignedByAnotherKey() async throws {
        let assertion = try fixture.assertion(key: PrivateKey.generate(.p256))
        let error = await #expect(throws: OAuthError.self) { try await fixture.authenticator().authenticate(assertionPresentation(assertion)) }
        #expect(error?.errorDescription == "client authentication failed")
        #expect(error?.auditDetails["reason"]?.stringValue?.contains("signature") == true)
    }

    @Test func refusesTheWrongAssertionType() async throws {
        let error = await #expect(throws: OAuthError.self) {
            try await fixture.authenticator().authenticate(assertionPresentation(try fixture.assertion(), type: "urn:other"))
        }
        #expect(error?.code == .invalidRequest)
    }

    @Test func refusesGarbageAssertions() async throws {
        let error = await #expect(throws: OAuthError.self) { try await fixture.authenticator().authenticate(assertionPresentation("a.b")) }
        #expect(error?.code == .invalidClient)
    }
}

/// The client-assertion path applies every RFC 8725 rule of the JWT layer: each hostile
/// assertion below names `jwt-client` and is otherwise valid, and each is refused.
@Suite("Hostile client assertions")
struct HostileAssertionTests {
    let fixture: ClientFixture

    init() throws {
        fixture = try ClientFixture()
    }

    static func segment(_ json: String) -> String { Base64URL.encode(Array(json.utf8)) }

    var claims: String {
        #"{"iss":"jwt-client","sub":"jwt-client","aud":"\#(testIssuer)/token","exp":\#(Int(testNow.timeIntervalSince1970) + 60),"jti":"\#(UUID().uuidString)"}"#
    }

    /// A compact JWS with any header, signed with `key` (or carrying `signature` as given).
    func token(header: String, claims: String? = nil, key: PrivateKey? = nil, signature: [UInt8]? = nil) throws -> String {
        let input = Self.segment(header) + "." + Self.segment(claims ?? self.claims)
        let bytes = try signature ?? Signer(key: key ?? fixture.assertionKey, algorithm: .es256).sign(Array(input.utf8))
        return input + "." + Base64URL.encode(bytes)
    }

    func refuses(_ assertion: String, because reason: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let presentation = ClientCredentialPresentation(form: try FormParameters([
            ("grant_type", "client_credentials"), ("client_assertion_type", ClientAuthenticator.jwtBearerAssertionType),
            ("client_assertion", assertion),
        ]))
        let error = await #expect(throws: OAuthError.self, sourceLocation: sourceLocation) {
            try await fixture.authenticator().authenticate(presentation)
        }
        #expect(error?.code == .invalidClient, sourceLocation: sourceLocation)
        // Once the client is known, the reason is recorded, not told (the answer is the one an
        // unknown client gets); refusals before that say what is wrong.
        let recorded = error?.auditDetails["reason"]?.stringValue ?? error?.errorDescription ?? ""
        #expect(recorded.contains(reason), "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    @Test func acceptsTheWellFormedBaseline() async throws {
        let assertion = try token(header: #"{"alg":"ES256","kid":"assertion-key"}"#)
        let presentation = ClientCredentialPresentation(form: try FormParameters([
            ("client_assertion_type", ClientAuthenticator.jwtBearerAssertionType), ("client_assertion", assertion),
        ]))
        #expect(try await fixture.authenticator().authenticate(presentation).id == "jwt-client")
    }

    @Test func refusesUnsignedAssertions() async throws {
        try await refuses(Self.segment(#"{"alg":"none"}"#) + "." + Self.segment(claims) + ".", because: "unsigned")
        try await refuses(try token(header: #"{"alg":"none","kid":"assertion-key"}"#), because: "alg \"none\"")
    }

    @Test func refusesHMACKeyedWithThePublicKey() async throws {
        let publicKey = Array(try fixture.assertionKey.publicKey().pem().utf8)
        let input = Self.segment(#"{"alg":"HS256","kid":"assertion-key"}"#) + "." + Self.segment(claims)
        // Whatever the MAC, an HMAC algorithm is refused before any key is consulted.
        try await refuses(try token(header: #"{"alg":"HS256","kid":"assertion-key"}"#, signature: SHA256.hash(publicKey + Array(input.utf8))),
                          because: "HMAC")
    }

    @Test func ignoresKeysOfferedByTheAssertionItself() async throws {
        let attacker = try PrivateKey.generate(.p256)
        let attackerJWK = try attacker.publicKey().jwk(algorithm: .es256)
        let embedded = #"{"kty":"EC","crv":"P-256","x":"\#(attackerJWK.x!)","y":"\#(attackerJWK.y!)"}"#
        try await refuses(try token(header: #"{"alg":"ES256","kid":"assertion-key","jwk":\#(embedded)}"#, key: attacker), because: "signature")
        try await refuses(try token(header: #"{"alg":"ES256","kid":"assertion-key","jku":"https://evil.example/jwks"}"#, key: attacker),
                          because: "signature")
        try await refuses(try token(header: #"{"alg":"ES256","kid":"attacker"}"#, key: attacker), because: "no trusted key")
    }

    @Test func refusesUnknownCriticalHeadersAndOversizedAssertions() async throws {
        try await refuses(try token(header: #"{"alg":"ES256","kid":"assertion-key","crit":["exp"],"exp":1}"#), because: "critical")
        let padding = String(repeating: "a", count: 9000)
        try await refuses(try token(header: #"{"alg":"ES256","kid":"assertion-key"}"#,
                                    claims: #"{"iss":"jwt-client","sub":"jwt-client","pad":"\#(padding)"}"#), because: "larger than")
    }

    @Test func refusesAnRSAKeyUsedAsTheWrongAlgorithm() async throws {
        // The header says RS256 for an EC key id: the algorithm comes from the key, not the header.
        try await refuses(try token(header: #"{"alg":"RS256","kid":"assertion-key"}"#), because: "not for RS256")
    }
}
