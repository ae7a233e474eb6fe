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
        #expect(replay?.errorDescription.contains("already used") == true)
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
        ("iss", JSONValue.string("basic-client"), "authentication failed"),
    ])
    func refusesBadAssertions(claim: String, value: JSONValue, message: String) async throws {
        var overrides: [String: JSONValue] = [claim: value]
        if claim == "iss" { overrides["sub"] = value }
        let assertion = try fixture.assertion(overrides)
        let error = await #expect(throws: OAuthError.self) { try await fixture.authenticator().authenticate(assertionPresentation(assertion)) }
        #expect(error?.code == .invalidClient)
        #expect(error?.errorDescription.contains(message) == true, "\(String(describing: error))")
    }

    @Test func refusesAnAssertionSignedByAnotherKey() async throws {
        let assertion = try fixture.assertion(key: PrivateKey.generate(.p256))
        let error = await #expect(throws: OAuthError.self) { try await fixture.authenticator().authenticate(assertionPresentation(assertion)) }
        #expect(error?.errorDescription.contains("signature") == true)
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
