import Foundation
import Logging
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraStore
import TesseraTestLogging

@Suite("Token endpoint pipeline")
struct TokenEndpointTests {
    let fixture: ClientFixture
    let endpoint: TokenEndpoint
    let keys: SigningKeys
    let storage = InMemoryStorage()
    let logger = Logger.forCurrentTest()

    init() throws {
        fixture = try ClientFixture()
        let directory = KeyDirectory(path: try temporaryDirectory())
        try directory.generate(algorithm: .es256, now: testNow)
        keys = try SigningKeys(keys: directory.load())
        let audit = AuditLog(store: storage, timeSource: ManualTimeSource(testNow))
        endpoint = TokenEndpoint(grants: [ClientCredentialsGrant()], authenticator: fixture.authenticator(),
                                 minter: TokenMinter(issuer: testIssuer, keys: keys, timeSource: ManualTimeSource(testNow)), audit: audit,
                                 failures: FailureAuditThrottle(audit: audit, timeSource: ManualTimeSource(testNow), logger: logger))
    }

    func request(_ pairs: [(String, String)]) async throws -> TokenResponse {
        try await endpoint.handle(form: FormParameters(pairs), basic: ("basic-client", fixture.basicSecret), logger: logger)
    }

    func verify(_ token: String, audience: String = "https://api.example") throws -> JWTClaims {
        let verifier = JWTVerifier(policy: VerificationPolicy(issuer: testIssuer, audiences: [audience], expectedType: "at+jwt"))
        return try verifier.verify(token, keys: keys.verificationKeys, now: testNow).claims
    }

    /// The exchange counts the rest of the window from its own clock reading; the token is
    /// signed a moment later. When a second boundary passes in between, the token still ends
    /// with the window, not a second after it (it was refused then as outliving the window).
    @Test func aTokenSignedASecondAfterItsDecisionStillEndsWithItsWindow() throws {
        let decided = Date(timeIntervalSince1970: 1_800_000_000.9)
        let windowEnd = decided.addingTimeInterval(100.05)
        let window = ActivationRecord(id: "act-1", state: .active, holder: "corp:alice", upstream: "corp", role: "db-admin",
                                      clientID: "tessera-cli", windowSeconds: 3600, startsAt: windowEnd.addingTimeInterval(-3600),
                                      endsAt: windowEnd, createdAt: decided, updatedAt: decided)
        var decision = TokenGrantDecision(subject: "corp:alice", clientID: "tessera-cli", audiences: ["https://db"], scopes: [],
                                          lifetimeSeconds: Int(windowEnd.timeIntervalSince(decided).rounded(.down)))
        decision.activation = .use(window)
        let signed = try TokenMinter(issuer: testIssuer, keys: keys, timeSource: ManualTimeSource(decided.addingTimeInterval(0.1))).mint(decision)
        #expect(signed.expiresAt <= windowEnd, "the token outlives its window: \(signed.expiresAt) > \(windowEnd)")
        #expect(signed.lifetimeSeconds == 99 && signed.claims.expiresAt - signed.claims.issuedAt == 99, "expires_in follows the token")
        decision.activation = nil
        let unbounded = try TokenMinter(issuer: testIssuer, keys: keys, timeSource: ManualTimeSource(decided.addingTimeInterval(0.1))).mint(decision)
        #expect(unbounded.lifetimeSeconds == 100, "a token under no window keeps its whole lifetime")
    }

    @Test func issuesAnRFC9068AccessToken() async throws {
        let response = try await request([("grant_type", "client_credentials"), ("scope", "read")])
        #expect(response.tokenType == "Bearer")
        #expect(response.expiresIn == 300)
        #expect(response.scope == "read")
        let claims = try verify(response.accessToken)
        #expect(claims.subject == "basic-client")
        #expect(claims.string("client_id") == "basic-client")
        #expect(claims.string("scope") == "read")
        #expect(claims.issuedAt == testNow)
        #expect(claims.expiresAt == testNow + 300)
        #expect(claims.audiences == ["https://api.example", "https://other.example"])
        // 128 random bits, base64url: 22 characters.
        #expect(claims.jwtID?.count == 22)
    }

    @Test func recordsTheTokenAndItsAuditEntryBeforeAnswering() async throws {
        let response = try await request([("grant_type", "client_credentials"), ("scope", "read")])
        let jti = try #require(try verify(response.accessToken).jwtID)
        let record = try #require(await storage.issuedToken(jwtID: jti))
        #expect(record.clientID == "basic-client")
        #expect(record.expiresAt == testNow + 300)
        let entries = try await storage.auditEntries(after: 0, limit: 10)
        #expect(entries.map(\.event) == ["token.issued"])
        #expect(entries[0].body.contains(jti))
        #expect(!entries[0].body.contains(response.accessToken))
        // What the entry says of the token, member by member.
        let content = try JSONParser.parseObject(Array(entries[0].body.utf8))
        guard case .object(let entry)? = content["entry"], case .object(let target)? = entry["target"] else {
            Issue.record("no target in \(entries[0].body)")
            return
        }
        let verifier = JWTVerifier(policy: VerificationPolicy(issuer: testIssuer, audiences: ["https://api.example"], expectedType: "at+jwt"))
        let verified = try verifier.verify(response.accessToken, keys: keys.verificationKeys, now: testNow)
        #expect(target == [
            "jti": .string(jti), "kid": .string(try #require(verified.keyID)),
            "subject": .string("basic-client"), "client_id": .string("basic-client"),
            "audiences": .array(verified.claims.audiences.map(JSONValue.string)), "scopes": .array([.string("read")]),
            "lifetime_seconds": .number(300), "grant_type": .string("client_credentials"),
        ])
    }

    @Test func auditsRefusals() async throws {
        _ = try? await request([("grant_type", "client_credentials"), ("scope", "admin")])
        _ = try? await endpoint.handle(form: FormParameters([("grant_type", "client_credentials")]), basic: ("basic-client", "wrong"),
                                       logger: logger)
        let entries = try await storage.auditEntries(after: 0, limit: 10)
        #expect(entries.map(\.event) == ["token.denied", "client.authentication_failed"])
        #expect(entries.allSatisfy { $0.outcome == "failure" && $0.clientID == "basic-client" })
        #expect(!entries[1].body.contains("wrong"))
    }

    @Test func withholdsTheTokenWhenTheAuditLogCannotBeWritten() async throws {
        let failing = AuditLog(store: FailingAuditStore(), timeSource: ManualTimeSource(testNow))
        let withoutAudit = TokenEndpoint(grants: [ClientCredentialsGrant()], authenticator: fixture.authenticator(),
                                         minter: TokenMinter(issuer: testIssuer, keys: keys, timeSource: ManualTimeSource(testNow)),
                                         audit: failing,
                                         failures: FailureAuditThrottle(audit: failing, timeSource: ManualTimeSource(testNow), logger: logger))
        let error = await #expect(throws: OAuthError.self) {
            try await withoutAudit.handle(form: FormParameters([("grant_type", "client_credentials")]),
                                          basic: ("basic-client", fixture.basicSecret), logger: logger)
        }
        // RFC 6749 §4.1.2.1: the server cannot answer now; 503, so clients retry.
        #expect(error?.code == .temporarilyUnavailable)
        #expect(error?.httpStatus == 503)
    }

    @Test func publicClientsNameThemselvesButMayNotUseClientCredentials() async throws {
        let client = try await fixture.authenticator().authenticate(ClientCredentialPresentation(form: FormParameters([("client_id", "public-cli")])))
        #expect(client.id == "public-cli")
        // A confidential client cannot pass for public by leaving out its secret.
        await #expect(throws: OAuthError.self) {
            try await fixture.authenticator().authenticate(ClientCredentialPresentation(form: FormParameters([("client_id", "basic-client")])))
        }
        let error = await #expect(throws: OAuthError.self) {
            try await endpoint.handle(form: FormParameters([("grant_type", "client_credentials"), ("client_id", "public-cli")]), basic: nil,
                                      logger: logger)
        }
        #expect(error?.code == .unauthorizedClient)
        #expect(error?.errorDescription.contains("token-exchange") == true)
    }

    @Test func everyTokenHasItsOwnJTI() async throws {
        var seen: Set<String> = []
        for _ in 0..<20 {
            let token = try await request([("grant_type", "client_credentials")]).accessToken
            seen.insert(try verify(token).jwtID ?? "")
        }
        #expect(seen.count == 20)
    }

    @Test func defaultsToEveryAllowedScope() async throws {
        #expect(try await request([("grant_type", "client_credentials")]).scope == "read write")
    }

    @Test func narrowsTheAudienceToTheRequestedResource() async throws {
        let response = try await request([("grant_type", "client_credentials"), ("resource", "https://other.example")])
        #expect(try verify(response.accessToken, audience: "https://other.example").audiences == ["https://other.example"])
        let both = try await request([("grant_type", "client_credentials"), ("audience", "https://api.example"), ("resource", "https://other.example")])
        #expect(try verify(both.accessToken).audiences.sorted() == ["https://api.example", "https://other.example"])
    }

    @Test("refuses what the client may not have", arguments: [
        (("scope", "admin"), OAuthError.Code.invalidScope),
        (("resource", "https://evil.example"), OAuthError.Code.invalidTarget),
        (("audience", "https://evil.example"), OAuthError.Code.invalidTarget),
        (("resource", "not a uri"), OAuthError.Code.invalidTarget),
        (("resource", "https://api.example#frag"), OAuthError.Code.invalidTarget),
    ])
    func refusesWhatTheClientMayNotHave(parameter: (String, String), code: OAuthError.Code) async throws {
        let error = await #expect(throws: OAuthError.self) { try await request([("grant_type", "client_credentials"), parameter]) }
        #expect(error?.code == code)
    }

    @Test func refusesMissingAndUnknownGrantTypes() async throws {
        let missing = await #expect(throws: OAuthError.self) { try await request([("scope", "read")]) }
        #expect(missing?.code == .invalidRequest)
        let unknown = await #expect(throws: OAuthError.self) { try await request([("grant_type", "password")]) }
        #expect(unknown?.code == .unsupportedGrantType)
    }

    @Test func usesTheClientsConfiguredLifetime() async throws {
        let response = try await endpoint.handle(
            form: FormParameters([("grant_type", "client_credentials"), ("client_id", "post-client"), ("client_secret", fixture.postSecret)]),
            basic: nil, logger: logger)
        #expect(response.expiresIn == 60)
        #expect(try verify(response.accessToken).expiresAt == testNow + 60)
    }
}

@Suite("Form bodies")
struct FormParametersTests {
    @Test func decodesPlusAndPercentEscapes() throws {
        let form = try FormParameters(urlEncoded: Array("a=b+c&d=%C3%A9%2B&empty=&flag".utf8))
        #expect(form["a"] == "b c")
        #expect(form["d"] == "é+")
        #expect(form["empty"] == nil)
        #expect(form["flag"] == nil)
    }

    @Test func refusesRepeatedParametersExceptResourceAndAudience() throws {
        #expect(throws: OAuthError.self) { try FormParameters(urlEncoded: Array("scope=a&scope=b".utf8)) }
        let form = try FormParameters(urlEncoded: Array("resource=a&resource=b&audience=c&audience=d".utf8))
        #expect(form.all("resource") == ["a", "b"])
        #expect(form.all("audience") == ["c", "d"])
    }

    @Test func refusesMalformedEncoding() {
        #expect(throws: OAuthError.self) { try FormParameters(urlEncoded: Array("a=%G1".utf8)) }
        #expect(throws: OAuthError.self) { try FormParameters(urlEncoded: Array("a=%2".utf8)) }
        #expect(throws: OAuthError.self) { try FormParameters(urlEncoded: Array("a=%FF%FE".utf8)) }
    }
}

@Suite("Client secrets")
struct ClientSecretTests {
    @Test func secretsHave256BitsAndAreStoredAsSHA256() {
        let (secret, hash) = ClientSecret.generate()
        #expect(Base64URL.decode(secret)?.count == 32)
        #expect(hash.count == 64)
        #expect(hash == ClientSecret.hexSHA256(secret))
        #expect(ClientSecret.generate().secret != secret)
    }
}
