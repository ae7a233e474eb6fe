import Foundation
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraStore

/// Admin tokens: what the admin API accepts, and every RFC 8725 attack it refuses.
@Suite("Admin access")
struct AdminAccessTests {
    let urls = IssuerURLs(issuer: testIssuer)
    let stored: StoredSigningKey
    let keys: SigningKeys
    let store = InMemoryStorage()
    let clock = ManualTimeSource(testNow)

    init() throws {
        stored = try KeyDirectory(path: try temporaryDirectory("tessera-admin-keys")).generate(algorithm: .es256, now: testNow)
        keys = try SigningKeys(keys: [stored])
    }

    var access: AdminAccess { AdminAccess(urls: urls, keys: CurrentValue(keys), store: store, timeSource: clock) }
    var audit: AuditLog { AuditLog(store: store, timeSource: clock) }

    func issue(subject: String = "alice", lifetime: Int = 900) async throws -> MintedToken {
        try await AdminAccess.issueToken(subject: subject, lifetimeSeconds: lifetime, reason: "incident 42", urls: urls, keys: keys,
                                         audit: audit, timeSource: clock)
    }

    func refuses(_ header: String?, with expected: AdminAccessError, sourceLocation: SourceLocation = #_sourceLocation) async {
        let error = await #expect(throws: AdminAccessError.self, sourceLocation: sourceLocation) {
            try await access.authorize(authorization: header)
        }
        #expect(error == expected, sourceLocation: sourceLocation)
    }

    func refusesToken(_ token: String, because reason: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        let error = await #expect(throws: AdminAccessError.self, sourceLocation: sourceLocation) {
            try await access.authorize(authorization: "Bearer " + token)
        }
        guard case .invalidToken(let message)? = error else {
            Issue.record("expected invalid_token, got \(String(describing: error))", sourceLocation: sourceLocation)
            return
        }
        #expect(message.contains(reason), "\(message)", sourceLocation: sourceLocation)
    }

    /// Claims of a well-formed admin token, for forging variants of it.
    func claims(_ overrides: [String: JSONValue] = [:]) -> [UInt8] {
        var claims: [String: JSONValue] = [
            "iss": .string(testIssuer), "sub": "mallory", "aud": .string(urls.adminAudience), "scope": .string(AdminAccess.scope),
            "iat": .number(testNow.timeIntervalSince1970), "exp": .number(testNow.timeIntervalSince1970 + 300), "jti": "forged",
            "client_id": "tessera-cli",
        ]
        for (name, value) in overrides { claims[name] = value }
        var writer = JSONWriter()
        writer.value(.object(claims))
        return writer.bytes
    }

    static func segment(_ bytes: [UInt8]) -> String { Base64URL.encode(bytes) }

    func forged(header: String, claims: [UInt8]? = nil, key: PrivateKey? = nil, signature: [UInt8]? = nil) throws -> String {
        let input = Self.segment(Array(header.utf8)) + "." + Self.segment(claims ?? self.claims())
        let bytes = try signature ?? Signer(key: key ?? stored.privateKey, algorithm: .es256).sign(Array(input.utf8))
        return input + "." + Base64URL.encode(bytes)
    }

    var kid: String { keys.currentKeyID }

    @Test func acceptsAnIssuedAdminTokenAndAuditsItsIssuing() async throws {
        let minted = try await issue()
        let admin = try await access.authorize(authorization: "Bearer " + minted.token)
        #expect(admin == AdminPrincipal(subject: "alice", clientID: AdminAccess.bootstrapClientID, jwtID: minted.jwtID))
        let entries = try await store.auditEntries(after: 0, limit: 10)
        #expect(entries.map(\.event) == ["admin.token_issued"])
        #expect(entries[0].body.contains("incident 42"))
        #expect(entries[0].body.contains(minted.jwtID))
        #expect(!entries[0].body.contains(minted.token), "the token itself must never be audited")
        #expect(await store.issuedToken(jwtID: minted.jwtID)?.audiences == [urls.adminAudience])
    }

    @Test func refusesMissingOrNonBearerCredentials() async {
        await refuses(nil, with: .missingToken)
        await refuses("", with: .missingToken)
        await refuses("Basic YTpi", with: .invalidRequest("the admin API takes Authorization: Bearer <admin token>"))
    }

    @Test func refusesExpiredRevokedAndUnrecordedTokens() async throws {
        let minted = try await issue(lifetime: 60)
        clock.advance(by: 60 + VerificationPolicy(issuer: "", audiences: []).leeway + 1)
        await refusesToken(minted.token, because: "expired")
        clock.advance(by: -120)
        let revoked = try await issue()
        #expect(await store.revokeToken(jwtID: revoked.jwtID, clientID: AdminAccess.bootstrapClientID, at: testNow) == .revoked)
        await refusesToken(revoked.token, because: "revoked")
        // Signed with the real key but never recorded: not issued through an audited path.
        await refusesToken(try forged(header: #"{"alg":"ES256","kid":"\#(kid)","typ":"at+jwt"}"#), because: "not issued by this Tessera")
    }

    @Test func refusesTokensForOtherAudiencesIssuersOrWithoutTheScope() async throws {
        let header = #"{"alg":"ES256","kid":"\#(kid)","typ":"at+jwt"}"#
        await refusesToken(try forged(header: header, claims: claims(["aud": "https://api.example"])), because: "audience")
        await refusesToken(try forged(header: header, claims: claims(["iss": "https://evil.example"])), because: "iss")
        // An ordinary access token of this issuer is not an admin token, whatever its audience.
        await refusesToken(try forged(header: #"{"alg":"ES256","kid":"\#(kid)","typ":"JWT"}"#), because: "typ")
        let error = await #expect(throws: AdminAccessError.self) {
            try await access.authorize(authorization: "Bearer " + forged(header: header, claims: claims(["scope": "read"])))
        }
        #expect(error == .insufficientScope)
        await refusesToken(try forged(header: header, claims: claims(["exp": .number(testNow.timeIntervalSince1970 + 86_400)])),
                           because: "too far in the future")
    }

    @Test func refusesTheRFC8725Attacks() async throws {
        let claims = Self.segment(self.claims())
        await refusesToken(Self.segment(Array(#"{"alg":"none","typ":"at+jwt"}"#.utf8)) + "." + claims + ".", because: "unsigned")
        await refusesToken(try forged(header: #"{"alg":"none","kid":"\#(kid)","typ":"at+jwt"}"#), because: "none")
        // HS256 keyed with the public key, the classic algorithm confusion.
        let publicKey = Array(try stored.privateKey.publicKey().pem().utf8)
        let header = #"{"alg":"HS256","kid":"\#(kid)","typ":"at+jwt"}"#
        let input = Self.segment(Array(header.utf8)) + "." + claims
        await refusesToken(try forged(header: header, signature: SHA256.hash(publicKey + Array(input.utf8))), because: "HMAC")
        let attacker = try PrivateKey.generate(.p256)
        await refusesToken(try forged(header: #"{"alg":"ES256","kid":"attacker","typ":"at+jwt"}"#, key: attacker), because: "no trusted key")
        await refusesToken(try forged(header: #"{"alg":"ES256","kid":"\#(kid)","typ":"at+jwt","jku":"https://evil.example/jwks"}"#,
                                      key: attacker), because: "signature")
        let jwk = try attacker.publicKey().jwk(algorithm: .es256)
        let embedded = #"{"kty":"EC","crv":"P-256","x":"\#(jwk.x!)","y":"\#(jwk.y!)"}"#
        await refusesToken(try forged(header: #"{"alg":"ES256","kid":"\#(kid)","typ":"at+jwt","jwk":\#(embedded)}"#, key: attacker),
                           because: "signature")
        await refusesToken(try forged(header: #"{"alg":"ES256","kid":"\#(kid)","typ":"at+jwt","crit":["exp"],"exp":1}"#),
                           because: "critical")
        let padding = String(repeating: "a", count: 20_000)
        await refusesToken(try forged(header: #"{"alg":"ES256","kid":"\#(kid)","typ":"at+jwt"}"#, claims: self.claims(["pad": .string(padding)])),
                           because: "larger than")
    }

    @Test func limitsTheLifetimeOfIssuedAdminTokens() async throws {
        await #expect(throws: AdminAccessError.self) { try await issue(lifetime: AdminAccess.maximumLifetimeSeconds + 1) }
        await #expect(throws: AdminAccessError.self) { try await issue(lifetime: 0) }
        #expect(await store.auditHead() == nil, "a refused admin token was audited as issued")
    }

    @Test func parsesAuditQueryParametersStrictly() throws {
        let query = try AuditQuery(parameters: [("subject", "alice"), ("event", "token.issued"), ("since", "2026-11-24T00:00:00Z"),
                                                ("until", "2026-11-25T00:00:00.500Z"), ("after", "7"), ("limit", "50"), ("role", "db")])
        #expect(query == AuditQuery(afterSequence: 7, limit: 50, subject: "alice", role: "db", event: "token.issued",
                                    since: Date(timeIntervalSince1970: 1_795_478_400), until: Date(timeIntervalSince1970: 1_795_564_800.5)))
        for bad in [[("limit", "0")], [("limit", "1001")], [("after", "-1")], [("since", "yesterday")], [("subjetc", "x")],
                    [("subject", "a"), ("subject", "b")]] {
            #expect(throws: AdminAccessError.self) { try AuditQuery(parameters: bad) }
        }
    }
}
