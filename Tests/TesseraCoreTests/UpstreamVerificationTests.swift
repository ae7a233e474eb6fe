import AsyncHTTPClient
import Foundation
import Logging
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraTestLogging

@Suite("Upstream verification")
struct UpstreamVerificationTests {
    let fixture: UpstreamFixture

    init() throws {
        fixture = try UpstreamFixture()
    }

    @Test func mapsAValidTokenToAnIdentity() async throws {
        let identity = try await fixture.verify(try fixture.corpToken())
        #expect(identity.upstream == "corp")
        #expect(identity.subject == "alice")
        #expect(identity.email == "alice@corp.example")
        #expect(identity.groups == ["payments-sre", "oncall"])
        #expect(identity.authenticationMethods == ["pwd", "mfa"])
        #expect(identity.authenticationContext == "urn:corp:loa:2")
        #expect(identity.authenticatedAt == testNow - 600)
        #expect(identity.deviceCompliant == true)
        #expect(identity.claims["groups"] == .array([.string("payments-sre"), .string("oncall")]))
        #expect(identity.claims["iat"] == .number(testNow.timeIntervalSince1970))
        #expect(identity.claims["sub"] == .string("alice"))
    }

    @Test func convertsEveryClaimToAClaimValue() async throws {
        let identity = try await fixture.verify(try fixture.corpToken([
            "nested": ["repository": "acme/payments", "run": 42, "flags": [true, .null]], "empty": .null,
        ]))
        #expect(identity.claims["nested"] == .object([
            "repository": .string("acme/payments"), "run": .number(42), "flags": .array([.bool(true), .null]),
        ]))
        #expect(identity.claims["empty"] == .null)
    }

    @Test func acceptsAnyConfiguredAudienceAndAudienceArrays() async throws {
        #expect(try await fixture.verify(try fixture.corpToken(["aud": "tessera-web"])).subject == "alice")
        #expect(try await fixture.verify(try fixture.corpToken(["aud": ["other", "tessera-cli"]])).subject == "alice")
    }

    @Test("maps groups given as a string or an array", arguments: [
        (JSONValue.string("payments-sre"), ["payments-sre"]),
        (JSONValue.array(["a", "b"]), ["a", "b"]),
        (JSONValue.array(["a", 7, "b"]), ["a", "b"]),
        (JSONValue.number(3), []),
        (JSONValue.null, []),
    ])
    func mapsGroups(value: JSONValue, expected: [String]) async throws {
        let identity = try await fixture.verify(try fixture.corpToken(["groups": value]))
        #expect(identity.groups == expected)
    }

    @Test func mapsAMRGivenAsAString() async throws {
        #expect(try await fixture.verify(try fixture.corpToken(["amr": "hwk"])).authenticationMethods == ["hwk"])
        var claims = fixture.corpClaims()
        claims["amr"] = nil
        claims["acr"] = nil
        claims["email"] = nil
        let token = try signedToken(header: ["alg": "ES256", "kid": "corp-1"], claims: claims, key: fixture.corpKey)
        let identity = try await fixture.verify(token)
        #expect(identity.authenticationMethods.isEmpty)
        #expect(identity.authenticationContext == nil)
        #expect(identity.email == nil)
    }

    @Test("maps device compliance values", arguments: [
        (JSONValue.string("compliant"), true as Bool?),
        (JSONValue.bool(true), true),
        (JSONValue.bool(false), false),
        (JSONValue.string("noncompliant"), false),
        (JSONValue.string("true"), false),
        (JSONValue.array(["managed", "compliant"]), true),
        (JSONValue.number(1), false),
        (JSONValue.null, nil),
    ])
    func mapsDeviceCompliance(value: JSONValue, expected: Bool?) async throws {
        let identity = try await fixture.verify(try fixture.corpToken(["device_state": value]))
        #expect(identity.deviceCompliant == expected)
    }

    @Test func deviceComplianceIsUnknownWithoutTheClaimOrAMapping() async throws {
        var claims = fixture.corpClaims()
        claims["device_state"] = nil
        let token = try signedToken(header: ["alg": "ES256", "kid": "corp-1"], claims: claims, key: fixture.corpKey)
        #expect(try await fixture.verify(token).deviceCompliant == nil)
        // partner maps no device claim: whatever the token says, the upstream said nothing.
        let partner = try signedToken(header: ["alg": "ES256", "kid": "partner-1"], claims: fixture.corpClaims([
            "iss": .string(partnerIssuer), "device_state": "compliant",
        ]), key: fixture.partnerKey)
        let identity = try await fixture.verify(partner)
        #expect(identity.upstream == "partner")
        #expect(identity.deviceCompliant == nil)
    }

    @Test func usesTheConfiguredClaimNames() async throws {
        var corp = UpstreamFixture.corp
        corp.claims = UpstreamClaimMapping(subject: "oid", email: "upn", groups: "https://corp.example/groups", authenticationMethods: "methods",
                                           authenticationContext: "level", authenticationTime: "authenticated")
        let fixture = try UpstreamFixture(upstreams: [corp])
        let now = testNow.timeIntervalSince1970
        let identity = try await fixture.verify(try fixture.corpToken([
            "oid": "00000000-aaaa", "upn": "alice@corp", "https://corp.example/groups": ["g1"], "methods": ["otp"], "level": "2",
            "authenticated": .number(now - 60),
        ]))
        #expect(identity.subject == "00000000-aaaa")
        #expect(identity.email == "alice@corp")
        #expect(identity.groups == ["g1"])
        #expect(identity.authenticationMethods == ["otp"])
        #expect(identity.authenticationContext == "2")
        #expect(identity.authenticatedAt == testNow - 60)
    }

    @Test func refusesATokenWithoutTheSubjectClaim() async throws {
        let error = await #expect(throws: UpstreamVerificationError.self) { try await fixture.verify(try fixture.corpToken(["sub": ""])) }
        #expect(error?.code == .missingSubject)
        #expect(error?.upstream == "corp")
    }

    @Test func verifiesRSAKeysWithoutKidAsOIDCProviderMockSends() async throws {
        // oidc-provider-mock signs RS256 with no kid in the header (FACTS.md).
        let rsa = try UpstreamTestKey("rsa-1", .rs256)
        fixture.fetcher.serve(corpJWKS, try jwksDocument([fixture.corpKey, rsa]))
        let token = try signedToken(header: ["alg": "RS256", "typ": "JWT"], claims: fixture.corpClaims(), key: rsa)
        #expect(try await fixture.verify(token).subject == "alice")
    }

    @Test func answersWithoutEverRepeatingTheToken() async throws {
        let token = try fixture.corpToken(["exp": .number(testNow.timeIntervalSince1970 - 3600)])
        let error = await #expect(throws: UpstreamVerificationError.self) { try await fixture.verify(token) }
        let text = String(describing: error)
        #expect(!text.contains(token))
        #expect(!text.contains(String(token.split(separator: ".")[1])))
        #expect(!text.contains(String(token.split(separator: ".")[2])))
    }
}

/// The RFC 8725 table against subject tokens: each token below claims to come from `corp` and
/// is otherwise valid, and each is refused with the stated code.
@Suite("Hostile subject tokens")
struct HostileSubjectTokenTests {
    let fixture: UpstreamFixture

    init() throws {
        fixture = try UpstreamFixture()
    }

    var header: [String: JSONValue] { ["alg": "ES256", "kid": "corp-1", "typ": "JWT"] }

    func refuses(_ token: String, code: UpstreamVerificationError.Code, _ text: String? = nil,
                 sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        let error = await #expect(throws: UpstreamVerificationError.self, sourceLocation: sourceLocation) {
            try await fixture.verify(token)
        }
        #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
        if let text {
            #expect(error?.message.contains(text) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
        }
    }

    @Test func acceptsTheBaseline() async throws {
        let token = try signedToken(header: header, claims: fixture.corpClaims(), key: fixture.corpKey)
        #expect(try await fixture.verify(token).subject == "alice")
    }

    @Test func refusesUnsignedTokens() async throws {
        let claims = fixture.corpClaims()
        await refuses(try signedToken(header: ["alg": "none"], claims: claims, key: nil), code: .init(.malformed), "unsigned")
        await refuses(try signedToken(header: ["alg": "none", "kid": "corp-1"], claims: claims, key: fixture.corpKey),
                      code: .init(.unsupportedAlgorithm), "\"none\"")
        await refuses(try signedToken(header: ["alg": "None"], claims: claims, key: fixture.corpKey), code: .init(.unsupportedAlgorithm))
        // Refused from the header alone: the cache never fetched anything.
        #expect(fixture.fetcher.total == 0)
    }

    @Test func refusesHS256KeyedWithTheUpstreamsPublicKey() async throws {
        let publicPEM = Array(try fixture.corpKey.key.publicKey().pem().utf8)
        let jwkJSON = Array(try jwksDocument([fixture.corpKey]).utf8)
        for secret in [publicPEM, jwkJSON] {
            let headerJSON: [String: JSONValue] = ["alg": "HS256", "kid": "corp-1"]
            let input = base64URLJSON(.object(headerJSON)) + "." + base64URLJSON(.object(fixture.corpClaims()))
            let mac = hmacSHA256(key: secret, message: Array(input.utf8))
            await refuses(input + "." + Base64URL.encode(mac), code: .init(.unsupportedAlgorithm), "HMAC")
        }
    }

    @Test func refusesAnUnknownKid() async throws {
        let stranger = try UpstreamTestKey("stranger")
        await refuses(try fixture.corpToken(key: stranger), code: .init(.unknownKey), "no trusted key has kid")
    }

    @Test func refusesAKeyOfAnotherUpstream() async throws {
        // Warm both caches so the partner key is known to Tessera, just not for corp.
        _ = try await fixture.verify(try signedToken(header: ["alg": "ES256", "kid": "partner-1"],
                                                     claims: fixture.corpClaims(["iss": .string(partnerIssuer)]), key: fixture.partnerKey))
        await refuses(try fixture.corpToken(key: fixture.partnerKey), code: .init(.unknownKey), "partner-1")
        // Without a kid, every corp key of the algorithm is tried, and none verifies.
        await refuses(try fixture.corpToken(header: ["alg": "ES256"], key: fixture.partnerKey), code: .init(.invalidSignature))
        // With corp's kid and partner's signature.
        await refuses(try fixture.corpToken(header: ["alg": "ES256", "kid": "corp-1"], key: fixture.partnerKey), code: .init(.invalidSignature))
    }

    /// Over real HTTP: the upstream's own JWKS and the attacker's JWKS live on the same test
    /// server, and the verifier's fetcher can reach both; only the configured one is requested.
    @Test func neverFetchesKeysNamedByTheToken() async throws {
        let server = try await JWKSTestServer()
        defer { server.stop() }
        try server.serve("corp.json", try jwksDocument([fixture.corpKey]), headers: ["Cache-Control": "max-age=3600"])
        let attacker = try UpstreamTestKey("corp-1")
        try server.serve("evil.json", try jwksDocument([attacker]))
        let evil = server.baseURL + "/evil.json"
        var corp = UpstreamFixture.corp
        corp.keys = .jwksURI(server.baseURL + "/corp.json")
        let client = HTTPDocumentFetcher.makeHTTPClient()
        let registry = try UpstreamRegistry(upstreams: [corp], directory: "/nonexistent", fetcher: HTTPDocumentFetcher(client: client),
                                            timeSource: fixture.clock, logger: Logger.forCurrentTest())
        func refusesOverHTTP(_ token: String, code: UpstreamVerificationError.Code) async {
            let error = await #expect(throws: UpstreamVerificationError.self) { try await registry.verify(subjectToken: token, now: fixture.now) }
            #expect(error?.code == code, "\(String(describing: error))")
        }
        #expect(try await registry.verify(subjectToken: try fixture.corpToken(), now: testNow).subject == "alice")
        let attackerJWK = try attacker.publicJWK
        let embedded: JSONValue = ["kty": "EC", "crv": "P-256", "x": .string(attackerJWK.x!), "y": .string(attackerJWK.y!), "kid": "corp-1"]
        for round in 0..<2 {
            // The second round is past the 30 s refetch limit, so an unknown kid may refetch: the
            // configured URL only.
            fixture.clock.advance(by: TimeInterval(round * 31))
            for extra: (String, JSONValue) in [("jku", .string(evil)), ("x5u", .string(evil)), ("jwk", embedded)] {
                var hostile = header
                hostile[extra.0] = extra.1
                await refusesOverHTTP(try fixture.corpToken(header: hostile, key: attacker), code: .init(.invalidSignature))
                hostile["kid"] = "attacker"
                await refusesOverHTTP(try fixture.corpToken(header: hostile, key: attacker), code: .init(.unknownKey))
            }
        }
        try await client.shutdown()
        // Give any stray fetch time to arrive before asserting none did.
        try await Task.sleep(for: .milliseconds(200))
        #expect(!server.requests().contains("/evil.json"), "the token's key URL was contacted: \(server.requests())")
        #expect(Set(server.requests()) == ["/corp.json"])
    }

    @Test func refusesUnknownCriticalHeaders() async throws {
        var hostile = header
        hostile["crit"] = ["exp"]
        hostile["exp"] = 1
        await refuses(try fixture.corpToken(header: hostile), code: .init(.unsupportedCritical), "critical")
        #expect(fixture.fetcher.total == 0)
    }

    @Test func refusesAlgorithmsTheUpstreamDoesNotUse() async throws {
        let ps = try UpstreamTestKey("corp-ps", .ps256)
        fixture.fetcher.serve(corpJWKS, try jwksDocument([fixture.corpKey, ps]))
        await refuses(try fixture.corpToken(key: ps), code: .init(.unsupportedAlgorithm), "not allowed")
        let ed = try UpstreamTestKey("corp-ed", .edDSA)
        await refuses(try fixture.corpToken(key: ed), code: .init(.unsupportedAlgorithm))
    }

    @Test func takesTheAlgorithmFromTheKeyNotTheHeader() async throws {
        await refuses(try fixture.corpToken(header: ["alg": "RS256", "kid": "corp-1"]), code: .init(.algorithmMismatch), "not for RS256")
    }

    @Test func refusesIssuersThatAreNotExactlyConfigured() async throws {
        for issuer in ["https://evil.example", "https://corp.example/", "https://CORP.example", "corp"] {
            await refuses(try fixture.corpToken(["iss": .string(issuer)]), code: .unknownIssuer)
        }
        await refuses(try fixture.corpToken(["iss": .null]), code: .init(.missingClaim), "iss")
        await refuses(try fixture.corpToken(["iss": 42]), code: .init(.missingClaim), "iss")
    }

    @Test func requiresAnAcceptedAudience() async throws {
        await refuses(try fixture.corpToken(removing: ["aud"]), code: .init(.missingClaim), "aud")
        await refuses(try fixture.corpToken(["aud": .null]), code: .init(.invalidClaim), "aud")
        await refuses(try fixture.corpToken(["aud": []]), code: .init(.missingClaim), "aud")
        await refuses(try fixture.corpToken(["aud": "someone-else"]), code: .init(.invalidAudience))
        await refuses(try fixture.corpToken(["aud": ["a", "b"]]), code: .init(.invalidAudience))
    }

    @Test func appliesTheUpstreamsLeewayToTimes() async throws {
        let now = testNow.timeIntervalSince1970
        await refuses(try fixture.corpToken(["exp": .number(now - 61)]), code: .init(.expired))
        #expect(try await fixture.verify(try fixture.corpToken(["exp": .number(now - 59)])).subject == "alice")
        await refuses(try fixture.corpToken(removing: ["exp"]), code: .init(.missingClaim), "exp")
        await refuses(try fixture.corpToken(["nbf": .number(now + 61)]), code: .init(.notYetValid))
        #expect(try await fixture.verify(try fixture.corpToken(["nbf": .number(now + 59)])).subject == "alice")
        await refuses(try fixture.corpToken(["iat": .number(now + 120), "exp": .number(now + 600)]), code: .init(.issuedInFuture))
    }

    @Test func refusesTokensOlderThanTheMaximumTokenAge() async throws {
        let now = testNow.timeIntervalSince1970
        await refuses(try fixture.corpToken(["iat": .number(now - 3600 - 61), "exp": .number(now + 300)]), code: .tokenTooOld, "1h")
        #expect(try await fixture.verify(try fixture.corpToken(["iat": .number(now - 3600), "exp": .number(now + 300)])).subject == "alice")
        // With a maximum age, iat is required.
        await refuses(try fixture.corpToken(removing: ["iat"]), code: .init(.missingClaim), "iat")
    }

    @Test func refusesAuthenticationOlderThanTheMaximumAuthAge() async throws {
        let now = testNow.timeIntervalSince1970
        await refuses(try fixture.corpToken(["auth_time": .number(now - 12 * 3600 - 61)]), code: .authenticationTooOld, "12h")
        #expect(try await fixture.verify(try fixture.corpToken(["auth_time": .number(now - 12 * 3600)])).subject == "alice")
        await refuses(try fixture.corpToken(removing: ["auth_time"]), code: .init(.missingClaim), "auth_time")
        await refuses(try fixture.corpToken(["auth_time": "yesterday"]), code: .init(.invalidClaim))
        await refuses(try fixture.corpToken(["auth_time": .number(now + 3600)]), code: .init(.invalidClaim), "future")
    }

    /// Security review, finding 2: `"auth_time": -1e300` crashed the process in the auth-age rule.
    @Test(arguments: [-1e300, -1.0, 0, 946_684_799, 4_102_444_800, 1e300])
    func refusesAuthTimesOutsideThePlausibleRange(_ seconds: Double) async throws {
        await refuses(try fixture.corpToken(["auth_time": .number(seconds)]), code: .init(.invalidClaim), "between 2000-01-01 and 2100-01-01")
    }

    @Test func refusesOversizedTokensBeforeDecodingThem() async throws {
        let padding = String(repeating: "g", count: UpstreamVerifier.maximumTokenBytes)
        await refuses(try fixture.corpToken(["groups": .string(padding)]), code: .init(.oversized))
        // Not even base64: the size check comes first.
        await refuses(String(repeating: "!", count: UpstreamVerifier.maximumTokenBytes + 1), code: .init(.oversized))
        #expect(fixture.fetcher.total == 0)
    }

    @Test func refusesGarbage() async throws {
        await refuses("a.b", code: .init(.malformed))
        await refuses("", code: .init(.malformed))
        await refuses(base64URLJSON(["alg": "ES256"]) + ".bm90IGpzb24." + "c2ln", code: .init(.missingClaim))
    }
}

/// HMAC-SHA256 (RFC 2104) from the SHA-256 the crypto module exposes, so the test can forge
/// exactly what an attacker would send.
func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
    var block = key.count > 64 ? SHA256.hash(key) : key
    block += [UInt8](repeating: 0, count: 64 - block.count)
    let inner = SHA256.hash(block.map { $0 ^ 0x36 } + message)
    return SHA256.hash(block.map { $0 ^ 0x5C } + inner)
}
