import Foundation
import Testing
import TesseraCrypto
@testable import TesseraJWT

/// One signing set-up: a JWSSigner and the trusted key set that verifies it.
struct SigningSetup: Sendable, CustomTestStringConvertible {
    let algorithm: SignatureAlgorithm
    let kid: String
    let signer: Signer

    var testDescription: String { algorithm.jwsName }

    static let all: [SigningSetup] = [
        SigningSetup(algorithm: .es256, kid: Fixture.ecKid, signer: Fixture.ecSigner),
        SigningSetup(algorithm: .edDSA, kid: Fixture.edKid, signer: Fixture.edSigner),
        SigningSetup(algorithm: .rs256, kid: Fixture.rsaKid, signer: Fixture.rsaSigner),
        SigningSetup(algorithm: .ps256, kid: Fixture.psKid, signer: Fixture.psSigner),
    ]
}

private func claims(audiences: [String] = [Fixture.audience], extensions: [String: JSONValue] = [:],
                    scope: String? = "db-admin read") -> AccessTokenClaims {
    AccessTokenClaims(issuer: Fixture.issuer, subject: "alice@example.com", audiences: audiences,
                      expiresAt: Fixture.nowSeconds + 1800, issuedAt: Fixture.nowSeconds, notBefore: Fixture.nowSeconds,
                      jwtID: "9f1c2b7e-jti", clientID: "tessera-cli", scope: scope, extensions: extensions)
}

private let accessTokenPolicy = Fixture.policy {
    $0.expectedType = "at+jwt"
    $0.requireIssuedAt = true
    $0.maximumLifetime = 3600
}

private func decodedSegment(_ token: String, _ index: Int) -> String {
    String(decoding: Base64URL.decode(TokenFactory.segments(of: token)[index])!, as: UTF8.self)
}

@Suite("JWSSigner and AccessTokenClaims round trips")
struct JWSSignerRoundTripTests {
    @Test("signs an access token that the verifier accepts", arguments: SigningSetup.all)
    func signedAccessTokenVerifies(_ setup: SigningSetup) throws {
        let signer = JWSSigner(keyID: setup.kid, signer: setup.signer)
        #expect(signer.algorithm == setup.algorithm)
        let token = try signer.sign(claims())
        let verified = try JWTVerifier(policy: accessTokenPolicy).verify(token, keys: Fixture.keys, now: Fixture.now)
        #expect(verified.algorithm == setup.algorithm)
        #expect(verified.keyID == setup.kid)
        #expect(verified.header.algorithmName == setup.algorithm.jwsName)
        let c = verified.claims
        #expect(c.issuer == Fixture.issuer)
        #expect(c.subject == "alice@example.com")
        #expect(c.audiences == [Fixture.audience])
        #expect(c.expiresAt == Date(timeIntervalSince1970: TimeInterval(Fixture.nowSeconds + 1800)))
        #expect(c.issuedAt == Fixture.now)
        #expect(c.notBefore == Fixture.now)
        #expect(c.jwtID == "9f1c2b7e-jti")
        #expect(c.string("client_id") == "tessera-cli")
        #expect(c.string("scope") == "db-admin read")
    }

    @Test("writes exactly the header {alg, typ, kid}", arguments: SigningSetup.all)
    func writesExactlyTheFixedHeader(_ setup: SigningSetup) throws {
        let token = try JWSSigner(keyID: setup.kid, signer: setup.signer).sign(claims())
        #expect(decodedSegment(token, 0) == #"{"alg":"\#(setup.algorithm.jwsName)","typ":"at+jwt","kid":"\#(setup.kid)"}"#)
        let jws = try UnverifiedJWS(compact: token, maximumBytes: 16 * 1024)
        #expect(Set(jws.header.members.keys) == ["alg", "typ", "kid"])
        #expect(jws.header.critical.isEmpty)
    }

    @Test("writes signatures of the JWS length", arguments: SigningSetup.all)
    func writesSignaturesOfTheJWSLength(_ setup: SigningSetup) throws {
        let token = try JWSSigner(keyID: setup.kid, signer: setup.signer).sign(claims())
        let expected = setup.algorithm == .rs256 || setup.algorithm == .ps256 ? 256 : 64
        #expect(TokenFactory.signature(of: token).count == expected)
        #expect(!token.contains("="))
        #expect(token.split(separator: ".", omittingEmptySubsequences: false).count == 3)
    }

    @Test func writesTheRegisteredClaimsInAFixedOrder() throws {
        let token = try JWSSigner(keyID: Fixture.ecKid, signer: Fixture.ecSigner).sign(claims())
        let n = Fixture.nowSeconds
        #expect(decodedSegment(token, 1) == """
            {"iss":"https://issuer.example.com","sub":"alice@example.com","aud":"https://api.example.com",\
            "exp":\(n + 1800),"iat":\(n),"nbf":\(n),"jti":"9f1c2b7e-jti","client_id":"tessera-cli","scope":"db-admin read"}
            """)
    }

    @Test func serialisesOneAudienceAsAString() throws {
        let token = try JWSSigner(keyID: Fixture.ecKid, signer: Fixture.ecSigner).sign(claims(audiences: [Fixture.audience]))
        let payload = try JSONParser.parseObject(Base64URL.decode(TokenFactory.segments(of: token)[1])!)
        #expect(payload["aud"] == .string(Fixture.audience))
    }

    @Test func serialisesSeveralAudiencesAsAnArray() throws {
        let audiences = ["https://b.example.com", Fixture.audience, "https://a.example.com"]
        let token = try JWSSigner(keyID: Fixture.ecKid, signer: Fixture.ecSigner).sign(claims(audiences: audiences))
        let payload = try JSONParser.parseObject(Base64URL.decode(TokenFactory.segments(of: token)[1])!)
        #expect(payload["aud"] == .array(audiences.map(JSONValue.string)))  // order kept
        let verified = try Fixture.verify(token)
        #expect(verified.claims.audiences == audiences)
    }

    @Test func omitsAnEmptyOrMissingScopeAndNotBefore() throws {
        var withoutOptionals = claims(scope: "")
        withoutOptionals.notBefore = nil
        let token = try JWSSigner(keyID: Fixture.ecKid, signer: Fixture.ecSigner).sign(withoutOptionals)
        let payload = try JSONParser.parseObject(Base64URL.decode(TokenFactory.segments(of: token)[1])!)
        #expect(payload["scope"] == nil)
        #expect(payload["nbf"] == nil)
        let tokenNoScope = try JWSSigner(keyID: Fixture.ecKid, signer: Fixture.ecSigner).sign(claims(scope: nil))
        #expect(try Fixture.verify(tokenNoScope).claims["scope"] == nil)
    }

    @Test func writesExtensionClaimsSortedAfterTheRegisteredOnes() throws {
        let extensions: [String: JSONValue] = [
            "roles": ["db-admin", "reader"],
            "activation": ["id": "act-1", "ends": 1_750_001_800, "approved": true],
            "amr": ["pwd", "hwk"],
            "acr": "urn:mfa",
            "note": .null,
        ]
        let token = try JWSSigner(keyID: Fixture.ecKid, signer: Fixture.ecSigner).sign(claims(extensions: extensions))
        let verified = try JWTVerifier(policy: accessTokenPolicy).verify(token, keys: Fixture.keys, now: Fixture.now)
        for (name, value) in extensions {
            #expect(verified.claims[name] == value, "\(name)")
        }
        let payload = decodedSegment(token, 1)
        #expect(payload.hasSuffix(#""scope":"db-admin read","acr":"urn:mfa","activation":{"approved":true,"ends":1750001800,"id":"act-1"},"amr":["pwd","hwk"],"note":null,"roles":["db-admin","reader"]}"#))
    }

    @Test func extensionsCannotOverrideRegisteredClaims() throws {
        var extensions: [String: JSONValue] = [:]
        for name in AccessTokenClaims.registeredNames { extensions[name] = "evil" }
        extensions["x-ok"] = 1
        let token = try JWSSigner(keyID: Fixture.ecKid, signer: Fixture.ecSigner).sign(claims(extensions: extensions))
        // The parser rejects duplicate names, so a successful parse proves no name is written twice.
        let verified = try JWTVerifier(policy: accessTokenPolicy).verify(token, keys: Fixture.keys, now: Fixture.now)
        #expect(verified.claims.issuer == Fixture.issuer)
        #expect(verified.claims.subject == "alice@example.com")
        #expect(verified.claims.audiences == [Fixture.audience])
        #expect(verified.claims.jwtID == "9f1c2b7e-jti")
        #expect(verified.claims.string("client_id") == "tessera-cli")
        #expect(verified.claims.string("scope") == "db-admin read")
        #expect(verified.claims.expiresAt == Date(timeIntervalSince1970: TimeInterval(Fixture.nowSeconds + 1800)))
        #expect(verified.claims["x-ok"] == 1)
        #expect(!decodedSegment(token, 1).contains("evil"))
    }

    @Test func extensionsCannotAddNotBeforeOrScopeWhenTheFieldsAreEmpty() throws {
        var base = claims(extensions: ["nbf": 9_999_999_999, "scope": "root"], scope: nil)
        base.notBefore = nil
        let token = try JWSSigner(keyID: Fixture.ecKid, signer: Fixture.ecSigner).sign(base)
        let verified = try Fixture.verify(token)
        #expect(verified.claims["nbf"] == nil)
        #expect(verified.claims["scope"] == nil)
    }

    @Test func escapesHostileStringsInClaimsAndKeyID() throws {
        let subject = "alice\"},\"sub\":\"admin\\\n\t\u{0}\u{1F}é😀\u{2028}"
        var hostile = claims()
        hostile.subject = subject
        hostile.jwtID = "</script>"
        let kid = "kid\"with\\quotes"
        let keys = VerificationKeySet([try VerificationKey(keyID: kid, key: Fixture.ecKey.publicKey(), algorithm: .es256)])
        let token = try JWSSigner(keyID: kid, signer: Fixture.ecSigner).sign(hostile)
        let verified = try Fixture.verify(token, keys: keys)
        #expect(verified.claims.subject == subject)
        #expect(verified.claims.jwtID == "</script>")
        #expect(verified.keyID == kid)
        #expect(verified.header.keyID == kid)
    }

    @Test func usesTheConfiguredType() throws {
        let signer = JWSSigner(keyID: Fixture.ecKid, signer: Fixture.ecSigner, type: "JWT")
        #expect(signer.type == "JWT")
        let token = try signer.sign(claims())
        #expect(decodedSegment(token, 0) == #"{"alg":"ES256","typ":"JWT","kid":"ec-1"}"#)
        let error = jwtError { () throws(JWTError) in _ = try Fixture.verify(token, policy: accessTokenPolicy) }
        #expect(error?.code == .invalidType)
    }

    @Test func signsArbitraryPayloadBytes() throws {
        let token = try JWSSigner(keyID: Fixture.edKid, signer: Fixture.edSigner).sign(payload: Array(TokenFactory.payload().utf8))
        #expect(try Fixture.verify(token).claims.subject == "alice")
    }

    @Test func signsWithFreshSignaturesButTheSameHeader() throws {
        // ES256 is randomised; PS256 too. Two signatures of the same claims differ; both verify.
        for setup in [SigningSetup.all[0], SigningSetup.all[3]] {
            let signer = JWSSigner(keyID: setup.kid, signer: setup.signer)
            let first = try signer.sign(claims())
            let second = try signer.sign(claims())
            #expect(first != second)
            #expect(TokenFactory.segments(of: first)[0...1] == TokenFactory.segments(of: second)[0...1])
            _ = try Fixture.verify(first)
            _ = try Fixture.verify(second)
        }
    }

    @Test func tokenFromAnotherKeyWithTheSameKidFails() throws {
        let impostor = JWSSigner(keyID: Fixture.ecKid, signer: Fixture.attackerECSigner)
        let token = try impostor.sign(claims())
        let error = jwtError { () throws(JWTError) in _ = try Fixture.verify(token) }
        #expect(error?.code == .invalidSignature)
    }
}
