import Foundation
import Testing
import TesseraCrypto
@testable import TesseraJWT

/// A token the verifier must refuse, and the one error code that says why.
struct RejectionCase: Sendable, CustomTestStringConvertible {
    let name: String
    let token: String
    let expected: JWTError.Code
    var policy: VerificationPolicy = Fixture.policy()
    var keys: VerificationKeySet = Fixture.keys

    var testDescription: String { "\(name) -> \(expected)" }
}

/// A token the verifier must accept.
struct AcceptanceCase: Sendable, CustomTestStringConvertible {
    let name: String
    let token: String
    let keyID: String?
    var policy: VerificationPolicy = Fixture.policy()
    var keys: VerificationKeySet = Fixture.keys

    var testDescription: String { name }
}

private typealias T = TokenFactory
private let now = Fixture.nowSeconds
private let atJWT = Fixture.policy { $0.expectedType = "at+jwt" }

/// A valid ES256 token from the trusted key; the starting point for tampering.
private let validES256 = T.sign(kid: Fixture.ecKid, with: Fixture.ecSigner)
private let validRS256 = T.sign(kid: Fixture.rsaKid, with: Fixture.rsaSigner)
private let validEdDSA = T.sign(kid: Fixture.edKid, with: Fixture.edSigner)
private let validPS256 = T.sign(kid: Fixture.psKid, with: Fixture.psSigner)

/// A claim-set variant signed by the trusted EC key.
private func signed(_ edits: ClaimEdit...) -> String {
    T.sign(payload: T.payload(edits: edits), kid: Fixture.ecKid, with: Fixture.ecSigner)
}

/// A header variant signed by the trusted EC key over the standard claims.
private func signedHeader(_ header: String, payload: String = T.payload()) -> String {
    T.sign(header: header, payload: payload, with: Fixture.ecSigner)
}

/// The base64url character whose 6-bit value is `value`.
private func base64URLCharacter(_ value: Int) -> Character {
    Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")[value]
}

/// `token` with the non-zero padding bits set in the last character of its ES256 signature: the
/// same bytes under a second, non-canonical spelling.
private func withNonCanonicalSignatureEncoding(_ token: String) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    var characters = Array(token)
    let last = alphabet.firstIndex(of: characters[characters.count - 1])!
    characters[characters.count - 1] = base64URLCharacter(last | 0x01)
    return String(characters)
}

private let attackerJWK = T.jwkJSON(Fixture.attackerECKey, algorithm: .es256)
private let attackerKid = try! Fixture.attackerECKey.publicKey().thumbprint()
private let attackerX5C = Data(try! Fixture.attackerECKey.publicKey().spki).base64EncodedString()

/// The P-256 group order n, big-endian.
private let p256Order: [UInt8] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
]

enum HostileTokens {
    static let structure: [RejectionCase] = [
        RejectionCase(name: "empty token", token: "", expected: .malformed),
        RejectionCase(name: "one segment", token: T.segments(of: validES256)[0], expected: .malformed),
        RejectionCase(name: "two segments", token: T.segments(of: validES256)[0...1].joined(separator: "."), expected: .malformed),
        RejectionCase(name: "four segments", token: validES256 + ".AAAA", expected: .malformed),
        RejectionCase(name: "four segments, trailing dot", token: validES256 + ".", expected: .malformed),
        RejectionCase(name: "five segments (JWE shape)", token: "eyJhbGciOiJSU0EtT0FFUCJ9.AAAA.AAAA.AAAA.AAAA", expected: .malformed),
        RejectionCase(name: "empty signature", token: T.replacing(segment: 2, of: validES256, with: ""), expected: .malformed),
        RejectionCase(name: "empty header", token: T.replacing(segment: 0, of: validES256, with: ""), expected: .malformed),
        RejectionCase(name: "empty payload", token: T.replacing(segment: 1, of: validES256, with: ""), expected: .malformed),
        RejectionCase(name: "only dots", token: "..", expected: .malformed),
        RejectionCase(name: "padding '=' on the signature", token: validES256 + "==", expected: .malformed),
        RejectionCase(name: "padding '=' on the header",
                      token: T.replacing(segment: 0, of: validES256, with: T.segments(of: validES256)[0] + "="),
                      expected: .malformed),
        RejectionCase(name: "padding '=' on the payload",
                      token: T.replacing(segment: 1, of: validES256, with: T.segments(of: validES256)[1] + "=="),
                      expected: .malformed),
        RejectionCase(name: "standard base64 '+' in the signature",
                      token: String(validES256.dropLast(2)) + "+A", expected: .malformed),
        RejectionCase(name: "standard base64 '/' in the signature",
                      token: String(validES256.dropLast(2)) + "/A", expected: .malformed),
        RejectionCase(name: "space inside the payload",
                      token: T.replacing(segment: 1, of: validES256, with: " " + T.segments(of: validES256)[1]),
                      expected: .malformed),
        RejectionCase(name: "newline inside the signature",
                      token: String(validES256.dropLast(4)) + "\n" + String(validES256.suffix(4)), expected: .malformed),
        RejectionCase(name: "non-ASCII character in the header",
                      token: "é" + validES256, expected: .malformed),
        // An ES256 signature is 86 characters; 89 is 1 mod 4, which no byte string encodes to.
        RejectionCase(name: "segment length 1 mod 4", token: validES256 + "AAA", expected: .malformed),
        RejectionCase(name: "non-zero padding bits in the signature encoding",
                      token: withNonCanonicalSignatureEncoding(validES256), expected: .malformed),
        RejectionCase(name: "header is not JSON",
                      token: T.assemble(header: "hello", payload: T.payload(), signature: [1, 2, 3]), expected: .malformed),
        RejectionCase(name: "header is a JSON array",
                      token: signedHeader(#"["ES256","ec-1"]"#), expected: .malformed),
        RejectionCase(name: "header is a JSON string",
                      token: signedHeader(#""ES256""#), expected: .malformed),
        RejectionCase(name: "header is JSON null", token: signedHeader("null"), expected: .malformed),
        RejectionCase(name: "header has data after the object",
                      token: signedHeader(#"{"alg":"ES256","kid":"ec-1"}{}"#), expected: .malformed),
        RejectionCase(name: "header has a trailing comma",
                      token: signedHeader(#"{"alg":"ES256","kid":"ec-1",}"#), expected: .malformed),
        RejectionCase(name: "duplicate alg in header (none, then ES256)",
                      token: signedHeader(#"{"alg":"none","alg":"ES256","kid":"ec-1"}"#), expected: .malformed),
        RejectionCase(name: "duplicate alg in header (ES256, then none)",
                      token: signedHeader(#"{"alg":"ES256","kid":"ec-1","alg":"none"}"#), expected: .malformed),
        RejectionCase(name: "duplicate kid in header spelled with an escape",
                      token: signedHeader(#"{"alg":"ES256","kid":"evil","\u006bid":"ec-1"}"#), expected: .malformed),
        RejectionCase(name: "header without alg", token: signedHeader(#"{"kid":"ec-1"}"#), expected: .malformed),
        RejectionCase(name: "alg is an array", token: signedHeader(#"{"alg":["ES256"],"kid":"ec-1"}"#), expected: .malformed),
        RejectionCase(name: "alg is null", token: signedHeader(#"{"alg":null,"kid":"ec-1"}"#), expected: .malformed),
        RejectionCase(name: "kid is a number", token: signedHeader(#"{"alg":"ES256","kid":1}"#), expected: .malformed),
        RejectionCase(name: "typ is an object",
                      token: signedHeader(#"{"alg":"ES256","kid":"ec-1","typ":{}}"#), expected: .malformed),
        RejectionCase(name: "header is not UTF-8",
                      token: T.segment(bytes: Array(#"{"alg":"ES256","kid":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8))
                          + "." + T.segment(T.payload()) + ".AAAA",
                      expected: .malformed),
        RejectionCase(name: "header nested beyond the depth limit",
                      token: signedHeader(#"{"alg":"ES256","kid":"ec-1","x":"# + String(repeating: "[", count: 40)
                                              + String(repeating: "]", count: 40) + "}"),
                      expected: .malformed),
        RejectionCase(name: "signed payload is not JSON",
                      token: T.sign(header: T.header(alg: "ES256", kid: Fixture.ecKid), payload: "sub=alice", with: Fixture.ecSigner),
                      expected: .malformed),
        RejectionCase(name: "signed payload is a JSON array",
                      token: T.sign(header: T.header(alg: "ES256", kid: Fixture.ecKid), payload: #"[{"sub":"alice"}]"#,
                                    with: Fixture.ecSigner),
                      expected: .malformed),
        RejectionCase(name: "signed payload with duplicate exp",
                      token: signed(.appendDuplicate("exp", String(now + 100_000_000))), expected: .malformed),
        RejectionCase(name: "signed payload with duplicate iss",
                      token: signed(.appendDuplicate("iss", T.json("https://evil.example.com"))), expected: .malformed),
        RejectionCase(name: "signed payload with duplicate sub spelled with an escape",
                      token: signed(.appendDuplicate("s\\u0075b", T.json("admin"))), expected: .malformed),
        RejectionCase(name: "signed payload with trailing data",
                      token: T.sign(header: T.header(alg: "ES256", kid: Fixture.ecKid), payload: T.payload() + "x",
                                    with: Fixture.ecSigner),
                      expected: .malformed),
    ]

    static let size: [RejectionCase] = [
        RejectionCase(name: "oversized garbage (size checked before parsing)",
                      token: String(repeating: "!", count: 16 * 1024 + 1), expected: .oversized),
        RejectionCase(name: "oversized run of dots", token: String(repeating: ".", count: 20_000), expected: .oversized),
        RejectionCase(name: "oversized token whose header is not JSON",
                      token: "not-json." + String(repeating: "A", count: 17_000) + ".AAAA", expected: .oversized),
        RejectionCase(name: "valid token one byte over a tight limit", token: validES256, expected: .oversized,
                      policy: Fixture.policy { $0.maximumTokenBytes = validES256.utf8.count - 1 }),
        RejectionCase(name: "oversized counted in UTF-8 bytes, not characters",
                      token: String(repeating: "é", count: 9000), expected: .oversized),
    ]

    static let algorithms: [RejectionCase] = {
        var cases: [RejectionCase] = []
        for name in ["none", "None", "NONE", "nOnE"] {
            cases.append(RejectionCase(name: "alg \"\(name)\" with a signature",
                                       token: T.assemble(header: T.header(alg: name, kid: Fixture.ecKid), payload: T.payload(),
                                                         signature: [0, 0, 0]),
                                       expected: .unsupportedAlgorithm))
        }
        cases.append(RejectionCase(name: "alg \"none\" without a kid",
                                   token: T.assemble(header: #"{"alg":"none"}"#, payload: T.payload(), signature: [0]),
                                   expected: .unsupportedAlgorithm))
        cases.append(RejectionCase(name: "alg \"none\" with an empty signature (unsigned JWT)",
                                   token: T.segment(#"{"alg":"none"}"#) + "." + T.segment(T.payload()) + ".",
                                   expected: .malformed))
        let ecPublic = try! Fixture.ecKey.publicKey()
        let rsaPublic = try! Fixture.rsaKey.publicKey()
        let hmacSecrets: [(String, String, [UInt8])] = [
            ("EC public key PEM", Fixture.ecKid, Array(try! ecPublic.pem().utf8)),
            ("EC public key DER", Fixture.ecKid, ecPublic.spki),
            ("RSA public key PEM", Fixture.rsaKid, Array(try! rsaPublic.pem().utf8)),
            ("RSA public key DER", Fixture.rsaKid, rsaPublic.spki),
            ("EC public JWK JSON", Fixture.ecKid, Array(T.jwkJSON(Fixture.ecKey, algorithm: .es256).utf8)),
        ]
        for (what, kid, secret) in hmacSecrets {
            cases.append(RejectionCase(name: "HS256 with the \(what) as HMAC secret",
                                       token: T.hmacSigned(kid: kid, secret: secret), expected: .unsupportedAlgorithm))
        }
        cases.append(RejectionCase(name: "HS256 with the public key as secret and no kid",
                                   token: T.hmacSigned(kid: nil, secret: Array(try! ecPublic.pem().utf8)),
                                   expected: .unsupportedAlgorithm))
        for alg in ["HS384", "HS512", "hs256"] {
            cases.append(RejectionCase(name: "\(alg) with the public key as secret",
                                       token: T.hmacSigned(alg: alg, kid: Fixture.ecKid, secret: ecPublic.spki),
                                       expected: .unsupportedAlgorithm))
        }
        for alg in ["ES512", "ES384", "RS512", "ES256K", "Ed25519", "es256", "Es256", "ES256 ", "", "RSA-OAEP", "A128KW"] {
            cases.append(RejectionCase(name: "unknown alg \"\(alg)\"",
                                       token: signedHeader(T.header(alg: alg, kid: Fixture.ecKid)),
                                       expected: .unsupportedAlgorithm))
        }
        cases.append(RejectionCase(name: "valid EdDSA token when the policy allows ES256 only", token: validEdDSA,
                                   expected: .unsupportedAlgorithm,
                                   policy: Fixture.policy { $0.allowedAlgorithms = [.es256] }))
        cases.append(RejectionCase(name: "RS256 token naming the ES256 key's kid",
                                   token: T.sign(kid: Fixture.ecKid, with: Fixture.rsaSigner), expected: .algorithmMismatch))
        cases.append(RejectionCase(name: "ES256 token naming the RS256 key's kid",
                                   token: T.sign(kid: Fixture.rsaKid, with: Fixture.ecSigner), expected: .algorithmMismatch))
        cases.append(RejectionCase(name: "EdDSA token naming the ES256 key's kid",
                                   token: T.sign(kid: Fixture.ecKid, with: Fixture.edSigner), expected: .algorithmMismatch))
        cases.append(RejectionCase(name: "PS256 token, signed by the right RSA key, naming its RS256-bound kid",
                                   token: T.sign(kid: Fixture.rsaKid, with: Fixture.rsaKeyAsPS256Signer),
                                   expected: .algorithmMismatch))
        cases.append(RejectionCase(name: "RS256 header on an ES256 signature, naming an ES256 kid",
                                   token: signedHeader(T.header(alg: "RS256", kid: Fixture.ecKid)), expected: .algorithmMismatch))
        return cases
    }()

    static let keys: [RejectionCase] = [
        RejectionCase(name: "unknown kid, signed by a trusted key",
                      token: T.sign(kid: "ec-2", with: Fixture.ecSigner), expected: .unknownKey),
        RejectionCase(name: "kid differing only in case", token: T.sign(kid: "EC-1", with: Fixture.ecSigner), expected: .unknownKey),
        RejectionCase(name: "empty kid", token: T.sign(kid: "", with: Fixture.ecSigner), expected: .unknownKey),
        RejectionCase(name: "unknown kid, signed by an attacker",
                      token: T.sign(kid: "attacker", with: Fixture.attackerECSigner), expected: .unknownKey),
        RejectionCase(name: "no kid and no trusted key of the alg",
                      token: T.sign(kid: nil, with: Fixture.ecSigner), expected: .unknownKey,
                      keys: VerificationKeySet([try! VerificationKey(keyID: Fixture.rsaKid, key: Fixture.rsaKey.publicKey(),
                                                                    algorithm: .rs256)])),
        RejectionCase(name: "no kid, signed by an attacker", token: T.sign(kid: nil, with: Fixture.attackerECSigner),
                      expected: .invalidSignature),
        RejectionCase(name: "empty key set", token: validES256, expected: .unknownKey, keys: VerificationKeySet([])),
    ]

    /// RFC 8725 §3.10: keys named or carried by the token itself are never used.
    static let embeddedKeys: [RejectionCase] = [
        RejectionCase(name: "jwk header with the attacker's key and kid",
                      token: T.sign(kid: attackerKid, extraHeader: #""jwk":\#(attackerJWK)"#, with: Fixture.attackerECSigner),
                      expected: .unknownKey),
        RejectionCase(name: "jwk header with the attacker's key and a trusted kid",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""jwk":\#(attackerJWK)"#, with: Fixture.attackerECSigner),
                      expected: .invalidSignature),
        RejectionCase(name: "jwk header with the attacker's key and no kid",
                      token: T.sign(kid: nil, extraHeader: #""jwk":\#(attackerJWK)"#, with: Fixture.attackerECSigner),
                      expected: .invalidSignature),
        RejectionCase(name: "jku pointing at the attacker's JWKS, trusted kid",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""jku":"https://attacker.example/jwks.json""#,
                                    with: Fixture.attackerECSigner),
                      expected: .invalidSignature),
        RejectionCase(name: "jku pointing at the attacker's JWKS, attacker kid",
                      token: T.sign(kid: attackerKid, extraHeader: #""jku":"https://attacker.example/jwks.json""#,
                                    with: Fixture.attackerECSigner),
                      expected: .unknownKey),
        RejectionCase(name: "x5u pointing at the attacker's certificate",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""x5u":"https://attacker.example/cert.pem""#,
                                    with: Fixture.attackerECSigner),
                      expected: .invalidSignature),
        RejectionCase(name: "x5c carrying the attacker's key",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""x5c":["\#(attackerX5C)"]"#, with: Fixture.attackerECSigner),
                      expected: .invalidSignature),
        RejectionCase(name: "all four key headers at once, no kid",
                      token: T.sign(kid: nil,
                                    extraHeader: #""jwk":\#(attackerJWK),"jku":"https://attacker.example/jwks.json","x5u":"https://attacker.example/c","x5c":["\#(attackerX5C)"]"#,
                                    with: Fixture.attackerECSigner),
                      expected: .invalidSignature),
    ]

    static let critical: [RejectionCase] = [
        RejectionCase(name: "crit names an unknown extension",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":["https://example.com/ext"],"https://example.com/ext":true"#,
                                    with: Fixture.ecSigner),
                      expected: .unsupportedCritical),
        RejectionCase(name: "crit b64 with unencoded payload (RFC 7797)",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":["b64"],"b64":false"#, with: Fixture.ecSigner),
                      expected: .unsupportedCritical),
        RejectionCase(name: "crit names a registered claim",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":["exp"],"exp":1"#, with: Fixture.ecSigner),
                      expected: .unsupportedCritical),
        RejectionCase(name: "crit names one understood and one unknown extension",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":["tessera-ext","other"],"tessera-ext":1,"other":2"#,
                                    with: Fixture.ecSigner),
                      expected: .unsupportedCritical,
                      policy: Fixture.policy { $0.understoodCriticalHeaders = ["tessera-ext"] }),
        RejectionCase(name: "crit is a string, not an array",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":"tessera-ext","tessera-ext":1"#, with: Fixture.ecSigner),
                      expected: .malformed),
        RejectionCase(name: "crit is an empty array",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":[]"#, with: Fixture.ecSigner), expected: .malformed),
        RejectionCase(name: "crit holds a number",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":[1]"#, with: Fixture.ecSigner), expected: .malformed),
        RejectionCase(name: "crit holds a string and a number",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":["tessera-ext",1],"tessera-ext":1"#, with: Fixture.ecSigner),
                      expected: .malformed,
                      policy: Fixture.policy { $0.understoodCriticalHeaders = ["tessera-ext"] }),
        RejectionCase(name: "crit is null",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":null"#, with: Fixture.ecSigner), expected: .malformed),
        RejectionCase(name: "crit is an object",
                      token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":{"tessera-ext":true}"#, with: Fixture.ecSigner),
                      expected: .malformed),
    ]

    static let type: [RejectionCase] = [
        RejectionCase(name: "typ JWT where at+jwt is expected", token: T.sign(kid: Fixture.ecKid, typ: "JWT", with: Fixture.ecSigner),
                      expected: .invalidType, policy: atJWT),
        RejectionCase(name: "typ application/jwt where at+jwt is expected",
                      token: T.sign(kid: Fixture.ecKid, typ: "application/jwt", with: Fixture.ecSigner),
                      expected: .invalidType, policy: atJWT),
        RejectionCase(name: "missing typ where at+jwt is expected", token: T.sign(kid: Fixture.ecKid, typ: nil, with: Fixture.ecSigner),
                      expected: .invalidType, policy: atJWT),
        RejectionCase(name: "empty typ", token: T.sign(kid: Fixture.ecKid, typ: "", with: Fixture.ecSigner),
                      expected: .invalidType, policy: atJWT),
        RejectionCase(name: "typ with trailing space", token: T.sign(kid: Fixture.ecKid, typ: "at+jwt ", with: Fixture.ecSigner),
                      expected: .invalidType, policy: atJWT),
        RejectionCase(name: "typ of a client assertion where at+jwt is expected",
                      token: T.sign(kid: Fixture.ecKid, typ: "client-authentication+jwt", with: Fixture.ecSigner),
                      expected: .invalidType, policy: atJWT),
        RejectionCase(name: "typ with a doubled application/ prefix",
                      token: T.sign(kid: Fixture.ecKid, typ: "application/application/at+jwt", with: Fixture.ecSigner),
                      expected: .invalidType, policy: atJWT),
    ]

    static let signatures: [RejectionCase] = {
        var cases: [RejectionCase] = []
        let adminPayload = T.segment(T.payload(.set("sub", T.json("admin"))))
        for (name, token) in [("ES256", validES256), ("EdDSA", validEdDSA), ("RS256", validRS256), ("PS256", validPS256)] {
            cases.append(RejectionCase(name: "\(name) token with a tampered payload",
                                       token: T.replacing(segment: 1, of: token, with: adminPayload), expected: .invalidSignature))
            var flipped = T.signature(of: token)
            flipped[flipped.count / 2] ^= 0x01
            cases.append(RejectionCase(name: "\(name) token with one signature bit flipped",
                                       token: T.replacingSignature(of: token, with: flipped), expected: .invalidSignature))
            cases.append(RejectionCase(name: "\(name) token with a truncated signature",
                                       token: T.replacingSignature(of: token, with: Array(T.signature(of: token).dropLast())),
                                       expected: .invalidSignature))
            cases.append(RejectionCase(name: "\(name) token with a zero byte prepended to the signature",
                                       token: T.replacingSignature(of: token, with: [0] + T.signature(of: token)),
                                       expected: .invalidSignature))
        }
        let tamperedHeader = T.replacing(segment: 0, of: validES256,
                                         with: T.segment(T.header(alg: "ES256", kid: Fixture.ecKid, typ: "JWT")))
        cases.append(RejectionCase(name: "ES256 token with a tampered header", token: tamperedHeader, expected: .invalidSignature))
        let ecSignature = T.signature(of: validES256)
        cases.append(RejectionCase(name: "ES256 signature in DER instead of r||s",
                                   token: T.replacingSignature(of: validES256, with: try! ECDSASignature.der(fromRaw: ecSignature)),
                                   expected: .invalidSignature))
        cases.append(RejectionCase(name: "ES256 signature with r = 0",
                                   token: T.replacingSignature(of: validES256, with: [UInt8](repeating: 0, count: 32) + ecSignature[32...]),
                                   expected: .invalidSignature))
        cases.append(RejectionCase(name: "ES256 signature with s = n",
                                   token: T.replacingSignature(of: validES256, with: Array(ecSignature[..<32]) + p256Order),
                                   expected: .invalidSignature))
        cases.append(RejectionCase(name: "ES256 signature all zero",
                                   token: T.replacingSignature(of: validES256, with: [UInt8](repeating: 0, count: 64)),
                                   expected: .invalidSignature))
        cases.append(RejectionCase(name: "signature lifted from another token of the same key",
                                   token: T.replacingSignature(of: signed(.set("sub", T.json("admin"))), with: ecSignature),
                                   expected: .invalidSignature))
        cases.append(RejectionCase(name: "attacker-signed token with bad claims reports the signature, not the claims",
                                   token: T.sign(payload: T.payload(.set("exp", "1"), .set("iss", T.json("x"))), kid: Fixture.ecKid,
                                                 with: Fixture.attackerECSigner),
                                   expected: .invalidSignature))
        return cases
    }()

    static let issuer: [RejectionCase] = {
        var cases: [RejectionCase] = []
        let variants = [
            "https://evil.example.com", "HTTPS://issuer.example.com", "https://Issuer.Example.com", "https://issuer.example.com/",
            "http://issuer.example.com", " https://issuer.example.com", "https://issuer.example.com ",
            "https://issuer.example.com.evil.com", "https://issuer.example.com#", "https://issuer.example.com:443", "",
        ]
        for variant in variants {
            cases.append(RejectionCase(name: "iss \"\(variant)\"", token: signed(.set("iss", T.json(variant))), expected: .invalidIssuer))
        }
        cases.append(RejectionCase(name: "iss with an escaped character that decodes to a different issuer",
                                   token: signed(.set("iss", #""https:\/\/issuer.example.com\/""#)), expected: .invalidIssuer))
        cases.append(RejectionCase(name: "missing iss", token: signed(.remove("iss")), expected: .missingClaim))
        // Canonically equivalent spellings are other issuers (`String ==` would call them equal).
        let unicodeIssuer = Fixture.policy { $0.issuer = "https://K.example.com/\u{00C9}quipe" }
        for variant in ["https://\u{212A}.example.com/\u{00C9}quipe", "https://K.example.com/E\u{0301}quipe"] {
            cases.append(RejectionCase(name: "iss canonically equivalent to the issuer: \(variant.unicodeScalars.map { String($0.value, radix: 16) })",
                                       token: signed(.set("iss", T.json(variant))), expected: .invalidIssuer, policy: unicodeIssuer))
        }
        cases.append(RejectionCase(name: "iss is a number", token: signed(.set("iss", "1")), expected: .invalidClaim))
        cases.append(RejectionCase(name: "iss is an array holding the issuer",
                                   token: signed(.set("iss", "[\(T.json(Fixture.issuer))]")), expected: .invalidClaim))
        cases.append(RejectionCase(name: "iss is null", token: signed(.set("iss", "null")), expected: .invalidClaim))
        cases.append(RejectionCase(name: "sub is a number", token: signed(.set("sub", "42")), expected: .invalidClaim))
        cases.append(RejectionCase(name: "jti is an object", token: signed(.set("jti", "{}")), expected: .invalidClaim))
        return cases
    }()

    static let audience: [RejectionCase] = [
        RejectionCase(name: "missing aud", token: signed(.remove("aud")), expected: .missingClaim),
        RejectionCase(name: "aud canonically equivalent to the accepted one (KELVIN SIGN)",
                      token: signed(.set("aud", T.json("https://k8s.example.com/\u{212A}ube"))), expected: .invalidAudience,
                      policy: Fixture.policy { $0.audiences = ["https://k8s.example.com/Kube"] }),
        RejectionCase(name: "aud is an empty array", token: signed(.set("aud", "[]")), expected: .missingClaim),
        RejectionCase(name: "aud is another string", token: signed(.set("aud", T.json("https://other.example.com"))),
                      expected: .invalidAudience),
        RejectionCase(name: "aud string differs in case", token: signed(.set("aud", T.json("https://API.example.com"))),
                      expected: .invalidAudience),
        RejectionCase(name: "aud string with a trailing slash", token: signed(.set("aud", T.json(Fixture.audience + "/"))),
                      expected: .invalidAudience),
        RejectionCase(name: "aud array of other audiences",
                      token: signed(.set("aud", #"["https://a.example.com","https://b.example.com"]"#)), expected: .invalidAudience),
        RejectionCase(name: "aud is an empty string", token: signed(.set("aud", #""""#)), expected: .invalidAudience),
        RejectionCase(name: "aud is a number", token: signed(.set("aud", "1")), expected: .invalidClaim),
        RejectionCase(name: "aud array holds a number next to the audience",
                      token: signed(.set("aud", "[\(T.json(Fixture.audience)),1]")), expected: .invalidClaim),
        RejectionCase(name: "aud array nests the audience",
                      token: signed(.set("aud", "[[\(T.json(Fixture.audience))]]")), expected: .invalidClaim),
        RejectionCase(name: "aud is null", token: signed(.set("aud", "null")), expected: .invalidClaim),
        RejectionCase(name: "aud is an object", token: signed(.set("aud", "{\(T.json(Fixture.audience)):true}")), expected: .invalidClaim),
    ]

    static let time: [RejectionCase] = [
        RejectionCase(name: "expired beyond the leeway", token: signed(.set("exp", String(now - 61))), expected: .expired),
        RejectionCase(name: "expired exactly by the leeway", token: signed(.set("exp", String(now - 60))), expected: .expired),
        RejectionCase(name: "exp before 2000 is no plausible NumericDate", token: signed(.set("exp", "0")), expected: .invalidClaim),
        RejectionCase(name: "expires now with zero leeway", token: signed(.set("exp", String(now))), expected: .expired,
                      policy: Fixture.policy { $0.leeway = 0 }),
        RejectionCase(name: "exp far outside Int64 in the past", token: signed(.set("exp", "-1e300")), expected: .invalidClaim),
        RejectionCase(name: "exp at 2100-01-01 is no plausible NumericDate", token: signed(.set("exp", "4102444800")), expected: .invalidClaim),
        RejectionCase(name: "iat before 2000 is no plausible NumericDate", token: signed(.set("iat", "-1")), expected: .invalidClaim),
        RejectionCase(name: "nbf far outside Int64 in the past", token: signed(.set("nbf", "-1e300")), expected: .invalidClaim),
        RejectionCase(name: "missing exp", token: signed(.remove("exp")), expected: .missingClaim),
        RejectionCase(name: "exp is a string", token: signed(.set("exp", T.json(String(now + 600)))), expected: .invalidClaim),
        RejectionCase(name: "exp is a boolean", token: signed(.set("exp", "true")), expected: .invalidClaim),
        RejectionCase(name: "exp is null", token: signed(.set("exp", "null")), expected: .invalidClaim),
        RejectionCase(name: "exp is an array", token: signed(.set("exp", "[\(now + 600)]")), expected: .invalidClaim),
        RejectionCase(name: "nbf beyond the leeway", token: signed(.set("nbf", String(now + 61))), expected: .notYetValid),
        RejectionCase(name: "nbf far outside Int64 in the future", token: signed(.set("nbf", "1e300")), expected: .invalidClaim),
        RejectionCase(name: "nbf is a string", token: signed(.set("nbf", T.json(String(now)))), expected: .invalidClaim),
        RejectionCase(name: "iat beyond the leeway", token: signed(.set("iat", String(now + 61))), expected: .issuedInFuture),
        RejectionCase(name: "iat far in the future", token: signed(.set("iat", "1e300")), expected: .invalidClaim),
        RejectionCase(name: "iat is a string", token: signed(.set("iat", T.json(String(now)))), expected: .invalidClaim),
        RejectionCase(name: "missing iat when the policy requires it", token: signed(.remove("iat")), expected: .missingClaim,
                      policy: Fixture.policy { $0.requireIssuedAt = true }),
        RejectionCase(name: "lifetime longer than the maximum", token: signed(.set("exp", String(now + 3600))),
                      expected: .lifetimeTooLong, policy: Fixture.policy { $0.maximumLifetime = 600 }),
        RejectionCase(name: "lifetime one second beyond maximum plus leeway", token: signed(.set("exp", String(now + 661))),
                      expected: .lifetimeTooLong, policy: Fixture.policy { $0.maximumLifetime = 600 }),
        RejectionCase(name: "exp astronomically far in the future with a maximum lifetime", token: signed(.set("exp", "1e300")),
                      expected: .invalidClaim, policy: Fixture.policy { $0.maximumLifetime = 600 }),
        RejectionCase(name: "huge leeway is clamped: expired by 301 s", token: signed(.set("exp", String(now - 301))),
                      expected: .expired, policy: Fixture.policy { $0.leeway = 10_000 }),
        RejectionCase(name: "huge leeway given to init is clamped: expired by 301 s", token: signed(.set("exp", String(now - 301))),
                      expected: .expired,
                      policy: VerificationPolicy(issuer: Fixture.issuer, audiences: [Fixture.audience], leeway: 86_400)),
        RejectionCase(name: "huge leeway is clamped: nbf 301 s ahead", token: signed(.set("nbf", String(now + 301))),
                      expected: .notYetValid, policy: Fixture.policy { $0.leeway = .infinity }),
        RejectionCase(name: "negative leeway is clamped to zero", token: signed(.set("exp", String(now))),
                      expected: .expired, policy: Fixture.policy { $0.leeway = -3600 }),
    ]

    static let all: [RejectionCase] = structure + size + algorithms + keys + embeddedKeys + critical + type + signatures
        + issuer + audience + time
}

enum ValidTokens {
    static let all: [AcceptanceCase] = [
        AcceptanceCase(name: "ES256 with kid", token: validES256, keyID: Fixture.ecKid),
        AcceptanceCase(name: "EdDSA with kid", token: validEdDSA, keyID: Fixture.edKid),
        AcceptanceCase(name: "RS256 with kid", token: validRS256, keyID: Fixture.rsaKid),
        AcceptanceCase(name: "PS256 with kid", token: validPS256, keyID: Fixture.psKid),
        AcceptanceCase(name: "ES256 without kid finds the one ES256 key", token: T.sign(kid: nil, with: Fixture.ecSigner),
                       keyID: Fixture.ecKid),
        AcceptanceCase(name: "PS256 without kid skips the RS256-bound key", token: T.sign(kid: nil, with: Fixture.psSigner),
                       keyID: Fixture.psKid),
        AcceptanceCase(name: "without kid, tries every key of the alg",
                       token: T.sign(kid: nil, with: Fixture.ecSigner), keyID: nil,
                       keys: VerificationKeySet([
                           try! VerificationKey(keyID: nil, key: Fixture.attackerECKey.publicKey(), algorithm: .es256),
                           try! VerificationKey(keyID: nil, key: Fixture.ecKey.publicKey(), algorithm: .es256),
                       ])),
        AcceptanceCase(name: "one kid shared by keys of two algorithms picks the header's",
                       token: T.sign(kid: "shared", with: Fixture.rsaSigner), keyID: "shared",
                       keys: VerificationKeySet([
                           try! VerificationKey(keyID: "shared", key: Fixture.ecKey.publicKey(), algorithm: .es256),
                           try! VerificationKey(keyID: "shared", key: Fixture.rsaKey.publicKey(), algorithm: .rs256),
                       ])),
        AcceptanceCase(name: "legitimate token carrying jwk/jku/x5u/x5c headers (ignored)",
                       token: T.sign(kid: Fixture.ecKid,
                                     extraHeader: #""jwk":\#(attackerJWK),"jku":"https://attacker.example/jwks.json","x5u":"https://attacker.example/c","x5c":["\#(attackerX5C)"]"#,
                                     with: Fixture.ecSigner),
                       keyID: Fixture.ecKid),
        AcceptanceCase(name: "legitimate token without kid carrying an attacker jwk (ignored)",
                       token: T.sign(kid: nil, extraHeader: #""jwk":\#(attackerJWK)"#, with: Fixture.ecSigner), keyID: Fixture.ecKid),
        AcceptanceCase(name: "crit extension understood via policy",
                       token: T.sign(kid: Fixture.ecKid, extraHeader: #""crit":["tessera-ext"],"tessera-ext":{"v":1}"#, with: Fixture.ecSigner),
                       keyID: Fixture.ecKid, policy: Fixture.policy { $0.understoodCriticalHeaders = ["tessera-ext", "other"] }),
        AcceptanceCase(name: "typ at+jwt", token: T.sign(kid: Fixture.ecKid, typ: "at+jwt", with: Fixture.ecSigner),
                       keyID: Fixture.ecKid, policy: atJWT),
        AcceptanceCase(name: "typ application/at+jwt", token: T.sign(kid: Fixture.ecKid, typ: "application/at+jwt", with: Fixture.ecSigner),
                       keyID: Fixture.ecKid, policy: atJWT),
        AcceptanceCase(name: "typ compared case-insensitively", token: T.sign(kid: Fixture.ecKid, typ: "Application/AT+JWT", with: Fixture.ecSigner),
                       keyID: Fixture.ecKid, policy: atJWT),
        AcceptanceCase(name: "any typ when the policy expects none", token: T.sign(kid: Fixture.ecKid, typ: "JWT", with: Fixture.ecSigner),
                       keyID: Fixture.ecKid),
        AcceptanceCase(name: "expired within the leeway", token: signed(.set("exp", String(now - 30))), keyID: Fixture.ecKid),
        AcceptanceCase(name: "expired one second less than the leeway", token: signed(.set("exp", String(now - 59))), keyID: Fixture.ecKid),
        AcceptanceCase(name: "expires one second from now with zero leeway", token: signed(.set("exp", String(now + 1))),
                       keyID: Fixture.ecKid, policy: Fixture.policy { $0.leeway = 0 }),
        AcceptanceCase(name: "fractional exp", token: signed(.set("exp", "\(now + 600).5")), keyID: Fixture.ecKid),
        AcceptanceCase(name: "huge leeway is clamped, not refused: expired by 299 s", token: signed(.set("exp", String(now - 299))),
                       keyID: Fixture.ecKid, policy: Fixture.policy { $0.leeway = 10_000 }),
        AcceptanceCase(name: "iss spelled with escapes that decode to the exact issuer",
                       token: signed(.set("iss", #""https:\/\/issuer.example.com""#)), keyID: Fixture.ecKid),
        AcceptanceCase(name: "nbf now", token: signed(.set("nbf", String(now))), keyID: Fixture.ecKid),
        AcceptanceCase(name: "nbf within the leeway", token: signed(.set("nbf", String(now + 60))), keyID: Fixture.ecKid),
        AcceptanceCase(name: "iat within the leeway", token: signed(.set("iat", String(now + 60))), keyID: Fixture.ecKid),
        AcceptanceCase(name: "missing iat when not required", token: signed(.remove("iat")), keyID: Fixture.ecKid),
        AcceptanceCase(name: "aud array holding the audience",
                       token: signed(.set("aud", "[\"https://other.example.com\",\(T.json(Fixture.audience))]")), keyID: Fixture.ecKid),
        AcceptanceCase(name: "aud matching one of several accepted audiences",
                       token: signed(.set("aud", T.json("https://second.example.com"))), keyID: Fixture.ecKid,
                       policy: Fixture.policy { $0.audiences = [Fixture.audience, "https://second.example.com"] }),
        AcceptanceCase(name: "lifetime exactly the maximum", token: signed(.set("exp", String(now + 600))), keyID: Fixture.ecKid,
                       policy: Fixture.policy { $0.maximumLifetime = 600 }),
        AcceptanceCase(name: "token exactly at the size limit", token: validES256, keyID: Fixture.ecKid,
                       policy: Fixture.policy { $0.maximumTokenBytes = validES256.utf8.count }),
        AcceptanceCase(name: "unknown claims of any shape", token: signed(.set("x", #"{"y":[1,2.5,null,true,"\ud83d\ude00"]}"#)),
                       keyID: Fixture.ecKid),
        AcceptanceCase(name: "insignificant whitespace in header and payload",
                       token: T.sign(header: "{ \"alg\" : \"ES256\" ,\n\"kid\":\"ec-1\" }", payload: " \(T.payload())\n",
                                     with: Fixture.ecSigner),
                       keyID: Fixture.ecKid),
    ]
}

@Suite("JWTVerifier rejects hostile tokens (RFC 8725)")
struct JWTVerifierRejectionTests {
    @Test("rejects with the right error code", arguments: HostileTokens.all)
    func rejectsHostileTokenWithTheRightCode(_ testCase: RejectionCase) {
        let error = jwtError { () throws(JWTError) in
            _ = try Fixture.verify(testCase.token, policy: testCase.policy, keys: testCase.keys)
        }
        #expect(error?.code == testCase.expected, "\(error?.description ?? "no error")")
        // Messages are safe to show: they never echo the token's segments.
        for segment in T.segments(of: testCase.token) where segment.count >= 16 {
            #expect(error?.message.contains(segment) != true)
        }
    }

    @Test("accepts valid tokens", arguments: ValidTokens.all)
    func acceptsValidToken(_ testCase: AcceptanceCase) throws {
        let verified = try Fixture.verify(testCase.token, policy: testCase.policy, keys: testCase.keys)
        #expect(verified.keyID == testCase.keyID)
        #expect(verified.claims.issuer == Fixture.issuer)
    }

    @Test func rejectsNoneRegardlessOfPolicyAllowList() {
        // Even a policy that (wrongly) allows nothing special cannot make "none" acceptable.
        let token = T.assemble(header: #"{"alg":"none","typ":"at+jwt"}"#, payload: T.payload(), signature: [0])
        let error = jwtError { () throws(JWTError) in _ = try Fixture.verify(token, policy: atJWT) }
        #expect(error?.code == .unsupportedAlgorithm)
    }

    @Test func takesTheAlgorithmFromTheKeyNotTheHeader() throws {
        let verified = try Fixture.verify(validPS256)
        #expect(verified.algorithm == .ps256)
        #expect(verified.keyID == Fixture.psKid)
        // The RS256-bound key refuses a PS256 signature made by the same RSA key.
        let keys = VerificationKeySet([try VerificationKey(keyID: nil, key: Fixture.rsaKey.publicKey(), algorithm: .rs256)])
        let token = T.sign(kid: nil, with: Fixture.rsaKeyAsPS256Signer)
        let error = jwtError { () throws(JWTError) in _ = try Fixture.verify(token, keys: keys) }
        #expect(error?.code == .unknownKey)
    }

    @Test func rejectsOversizedTokenBeforeLookingAtIt() {
        // Garbage, wrong segment count and bad base64 all at once: size is reported.
        let token = String(repeating: "=.", count: 9000)
        let error = jwtError { () throws(JWTError) in _ = try UnverifiedJWS(compact: token, maximumBytes: 16 * 1024) }
        #expect(error?.code == .oversized)
    }

    @Test func checksRulesInOrderSignatureBeforeClaims() {
        // Expired, wrong issuer and wrong audience, but from the trusted key: claims are reported...
        let badClaims = T.payload(.set("exp", String(now - 3600)), .set("iss", T.json("x")), .set("aud", T.json("y")))
        let trusted = T.sign(payload: badClaims, kid: Fixture.ecKid, with: Fixture.ecSigner)
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(trusted) }?.code == .invalidIssuer)
        // ...but the same claims under a forged signature report only the signature.
        let forged = T.replacing(segment: 1, of: validES256, with: T.segment(badClaims))
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(forged) }?.code == .invalidSignature)
    }
}

@Suite("VerificationPolicy")
struct VerificationPolicyTests {
    @Test func clampsLeewayGivenToInit() {
        #expect(VerificationPolicy(issuer: "i", audiences: ["a"], leeway: 10_000).leeway == VerificationPolicy.maximumLeeway)
        #expect(VerificationPolicy(issuer: "i", audiences: ["a"], leeway: -1).leeway == 0)
        #expect(VerificationPolicy(issuer: "i", audiences: ["a"], leeway: 30).leeway == 30)
    }

    @Test func clampsLeewaySetLater() {
        var policy = VerificationPolicy(issuer: "i", audiences: ["a"])
        #expect(policy.leeway == 60)
        policy.leeway = 1_000_000
        #expect(policy.leeway == VerificationPolicy.maximumLeeway)
        policy.leeway = -5
        #expect(policy.leeway == 0)
        policy.leeway = .infinity
        #expect(policy.leeway == VerificationPolicy.maximumLeeway)
    }

    @Test func defaultsAreStrict() {
        let policy = VerificationPolicy(issuer: "i", audiences: ["a"])
        #expect(policy.maximumTokenBytes == 16 * 1024)
        #expect(policy.understoodCriticalHeaders.isEmpty)
        #expect(policy.expectedType == nil)
        #expect(policy.maximumLifetime == nil)
        #expect(policy.leeway <= VerificationPolicy.maximumLeeway)
        #expect(policy.matchesIssuer && policy.matchesAudience)
    }

    @Test func withoutIssuerMatchingAnyIssuerPassesButOneMustBeThere() {
        let policy = Fixture.policy { $0.matchesIssuer = false }
        let elsewhere = signed(.set("iss", T.json("https://elsewhere.example")))
        #expect(throws: Never.self) { try Fixture.verify(elsewhere, policy: policy) }
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(elsewhere) }?.code == .invalidIssuer)
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(signed(.remove("iss")), policy: policy) }?.code == .missingClaim)
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(signed(.set("iss", "7")), policy: policy) }?.code == .invalidClaim)
    }

    @Test func withoutAudienceMatchingAnyAudiencePassesButOneMustBeThere() {
        let policy = Fixture.policy { $0.matchesAudience = false }
        let other = signed(.set("aud", #"["https://other.example","https://more.example"]"#))
        #expect(throws: Never.self) { try Fixture.verify(other, policy: policy) }
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(other) }?.code == .invalidAudience)
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(signed(.remove("aud")), policy: policy) }?.code == .missingClaim)
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(signed(.set("aud", "[]")), policy: policy) }?.code == .missingClaim)
    }

    @Test func relaxedMatchingStillChecksSignatureTypeAndTime() {
        let policy = Fixture.policy {
            $0.matchesIssuer = false
            $0.matchesAudience = false
            $0.expectedType = "at+jwt"
        }
        let forged = T.sign(kid: Fixture.ecKid, with: Fixture.attackerECSigner)
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(forged, policy: policy) }?.code == .invalidSignature)
        let untyped = T.sign(kid: Fixture.ecKid, typ: "JWT", with: Fixture.ecSigner)
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(untyped, policy: policy) }?.code == .invalidType)
        let expired = signed(.set("exp", String(now - 3600)))
        #expect(jwtError { () throws(JWTError) in _ = try Fixture.verify(expired, policy: policy) }?.code == .expired)
    }
}

@Suite("JWTVerifier.verifyClaims")
struct VerifyClaimsTests {
    @Test func checksWhatVerifyChecksOnClaimsFromTheSignatureCheck() throws {
        let verifier = JWTVerifier(policy: Fixture.policy())
        for (token, expected) in [(signed(.set("exp", String(now - 3600))), JWTError.Code.expired),
                                  (signed(.set("aud", T.json("https://other.example"))), .invalidAudience),
                                  (signed(.set("iss", T.json("https://other.example"))), .invalidIssuer),
                                  (signed(.set("nbf", String(now + 3600))), .notYetValid)] {
            let jws = try UnverifiedJWS(compact: token, maximumBytes: 16 * 1024)
            let (_, claims) = try verifier.verifySignature(jws, keys: Fixture.keys)
            #expect(jwtError { () throws(JWTError) in try verifier.verifyClaims(claims, now: Fixture.now) }?.code == expected)
            #expect(jwtError { () throws(JWTError) in _ = try verifier.verify(jws, keys: Fixture.keys, now: Fixture.now) }?.code == expected)
        }
        let (_, claims) = try verifier.verifySignature(try UnverifiedJWS(compact: validES256, maximumBytes: 16 * 1024), keys: Fixture.keys)
        #expect(throws: Never.self) { try verifier.verifyClaims(claims, now: Fixture.now) }
    }
}

@Suite("UnverifiedJWS")
struct UnverifiedJWSTests {
    @Test func exposesHeaderAndUnverifiedClaimsWithoutCheckingTheSignature() throws {
        let forged = T.sign(payload: T.payload(.set("iss", T.json("https://upstream.example.com"))), kid: "k",
                            with: Fixture.attackerECSigner)
        let jws = try UnverifiedJWS(compact: forged, maximumBytes: 16 * 1024)
        #expect(jws.header.algorithmName == "ES256")
        #expect(jws.header.keyID == "k")
        #expect(jws.header.type == "at+jwt")
        #expect(jws.unverifiedClaims()?.issuer == "https://upstream.example.com")
        // Verifying it still fails: reading it was not trusting it.
        let error = jwtError { () throws(JWTError) in
            _ = try JWTVerifier(policy: Fixture.policy()).verify(jws, keys: Fixture.keys, now: Fixture.now)
        }
        #expect(error?.code == .unknownKey)
    }

    @Test func unverifiedClaimsAreNilForANonObjectPayload() throws {
        let token = T.assemble(header: T.header(alg: "ES256", kid: nil), payload: "[1]", signature: [1])
        let jws = try UnverifiedJWS(compact: token, maximumBytes: 1024)
        #expect(jws.unverifiedClaims() == nil)
    }

    @Test func verifiesAPreparsedToken() throws {
        let jws = try UnverifiedJWS(compact: validEdDSA, maximumBytes: 16 * 1024)
        let verified = try JWTVerifier(policy: Fixture.policy()).verify(jws, keys: Fixture.keys, now: Fixture.now)
        #expect(verified.algorithm == .edDSA)
        #expect(verified.claims.subject == "alice")
    }
}
