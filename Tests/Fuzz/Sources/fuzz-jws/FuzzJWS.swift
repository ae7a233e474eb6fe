import Foundation
import FuzzSupport
import TesseraCrypto
import TesseraJWT

/// The compact JWS parser and verifier (TesseraJWT), through the public API the token endpoint
/// and the upstream verifier use: `UnverifiedJWS(compact:maximumBytes:)`, then
/// `JWTVerifier.verify` against a fixed trusted key set (one ES256 key, under a `kid` and
/// without one, and one Ed25519 key).
///
/// The first byte picks what the rest is, and which verification policy applies:
/// - mode 0: a compact token, verified as it is. Whatever verifies must really carry the trusted
///   key's signature over its first two segments (checked again with the key itself), must
///   stop verifying when one bit of its signature flips, and must have the claims the policy
///   demands; the two entry points (`verify(String)` and parse-then-`verify(UnverifiedJWS)`)
///   must agree on every token.
/// - mode 1: `header JSON`, a zero byte, `payload JSON` (without the zero byte: the standard
///   header and the whole rest as payload), encoded and signed with the trusted ES256 key.
///   The signature step can then never be the reason for a refusal, and the verified claims
///   are the payload.
/// - mode 2: a payload signed by `JWSSigner` (the minter's signer) with the trusted key: a JSON
///   object payload must pass the signature check, and its claims come back unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWS(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let selector = input.first else { return 0 }
    let rest = Array(input.dropFirst())
    let verifier = Fixture.verifiers[Int(selector / 3) % Fixture.verifiers.count]
    switch selector % 3 {
    case 0: checkToken(String(decoding: rest, as: UTF8.self), verifier: verifier)
    case 1: checkSignedByTrustedKey(rest, verifier: verifier)
    default: checkSignedByJWSSigner(rest, verifier: verifier)
    }
    return 0
}

enum Fixture {
    /// 2025-06-15T15:06:40Z, the instant every check runs at (the JWT tests' `Fixture.now`).
    static let now = Date(timeIntervalSince1970: 1_750_000_000)
    static let issuer = "https://issuer.example.com"
    static let audience = "https://api.example.com"
    static let ecKid = "fuzz-ec"
    static let edKid = "fuzz-ed"

    /// Fixed keys, so that a crash input reproduces; generated for the fuzzer and used nowhere else.
    static let ecKey = try! PrivateKey(pem: """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgz3GDeWEGWL1v+yqn
        mKJaawtvzu8tx+TC3LzwpQk0odKhRANCAARte4p4KoxRkhzC9QoblimkmwGUzPji
        eR6eXDBTmzWXnLlU6FjYmqX9cql8FKy/YxjIDDbepCCZGffwR8y5HbRK
        -----END PRIVATE KEY-----
        """)
    static let edKey = try! PrivateKey(pem: """
        -----BEGIN PRIVATE KEY-----
        MC4CAQAwBQYDK2VwBCIEIGw5P78ZcES1Cpb/Fh7LPxqR39RCW9g0NTn9dJ8aTPIb
        -----END PRIVATE KEY-----
        """)
    static let ecSigner = try! Signer(key: ecKey, algorithm: .es256)
    static let jwsSigner = JWSSigner(keyID: ecKid, signer: ecSigner)
    static let ecVerifier = try! ecKey.publicKey().verifier(for: .es256)
    static let edVerifier = try! edKey.publicKey().verifier(for: .edDSA)

    static let keys = VerificationKeySet([
        try! VerificationKey(keyID: ecKid, key: ecKey.publicKey(), algorithm: .es256),
        try! VerificationKey(keyID: nil, key: ecKey.publicKey(), algorithm: .es256),
        try! VerificationKey(keyID: edKid, key: edKey.publicKey(), algorithm: .edDSA),
    ])

    /// A lenient policy, and the strict one of access tokens and client assertions.
    static let verifiers = [
        JWTVerifier(policy: VerificationPolicy(issuer: issuer, audiences: [audience])),
        JWTVerifier(policy: VerificationPolicy(issuer: issuer, audiences: [audience], allowedAlgorithms: [.es256],
                                               leeway: 30, maximumTokenBytes: 4096, expectedType: "at+jwt",
                                               requireIssuedAt: true, maximumLifetime: 3600,
                                               understoodCriticalHeaders: ["tessera-fuzz"])),
    ]
}

/// The outcome of a verification, comparable across entry points.
enum Outcome: Equatable {
    case verified(JWTClaims, keyID: String?, SignatureAlgorithm)
    case refused(JWTError.Code)

    init(_ body: () throws(JWTError) -> VerifiedJWT) {
        do {
            let verified = try body()
            self = .verified(verified.claims, keyID: verified.keyID, verified.algorithm)
        } catch {
            self = .refused(error.code)
        }
    }
}

func checkToken(_ token: String, verifier: JWTVerifier) {
    let direct = Outcome { () throws(JWTError) in try verifier.verify(token, keys: Fixture.keys, now: Fixture.now) }
    let parsed: UnverifiedJWS
    do {
        parsed = try UnverifiedJWS(compact: token, maximumBytes: verifier.policy.maximumTokenBytes)
    } catch {
        fuzzCheck(direct == .refused(error.code), "verify(String) says \(direct), parsing says \(error.code)")
        return
    }
    _ = parsed.unverifiedClaims()
    _ = parsed.header.hasType("at+jwt")
    let stepwise = Outcome { () throws(JWTError) in try verifier.verify(parsed, keys: Fixture.keys, now: Fixture.now) }
    fuzzCheck(direct == stepwise, "verify(String) says \(direct), verify(UnverifiedJWS) says \(stepwise)")
    guard case .verified(let claims, let keyID, let algorithm) = direct else { return }

    // Verified: the signature is the trusted key's over the first two segments, exactly.
    let segments = token.split(separator: ".", omittingEmptySubsequences: false)
    fuzzCheck(segments.count == 3, "a verified token has \(segments.count) segments")
    let signingInput = Array(token.utf8.prefix(segments[0].utf8.count + 1 + segments[1].utf8.count))
    guard let signature = Base64URL.decode(String(segments[2])) else {
        fuzzCheck(false, "a verified token's signature is not base64url")
        return
    }
    let keyVerifier = algorithm == .edDSA ? Fixture.edVerifier : Fixture.ecVerifier
    fuzzCheck(keyVerifier.verify(signature: signature, message: signingInput), "a verified token's signature does not verify with the key")
    fuzzCheck(keyID == nil || keyID == (algorithm == .edDSA ? Fixture.edKid : Fixture.ecKid), "verified by an unexpected key \(String(describing: keyID))")
    var flipped = signature
    flipped[flipped.count / 2] ^= 0x01
    let tampered = segments[0] + "." + segments[1] + "." + Base64URL.encode(flipped)
    let afterFlip = Outcome { () throws(JWTError) in try verifier.verify(tampered, keys: Fixture.keys, now: Fixture.now) }
    fuzzCheck(afterFlip == .refused(.invalidSignature), "a token with a flipped signature bit gives \(afterFlip)")

    // The claims the policy demands.
    fuzzCheck(claims.issuer.map { Array($0.utf8) == Array(Fixture.issuer.utf8) } == true, "verified with issuer \(String(describing: claims.issuer))")
    fuzzCheck(claims.audiences.contains { Array($0.utf8) == Array(Fixture.audience.utf8) }, "verified with audiences \(claims.audiences)")
    guard let expiresAt = claims.expiresAt else {
        fuzzCheck(false, "verified without exp")
        return
    }
    fuzzCheck(Fixture.now.timeIntervalSince(expiresAt) < verifier.policy.leeway, "verified although expired at \(expiresAt)")
    if verifier.policy.requireIssuedAt { fuzzCheck(claims.issuedAt != nil, "verified without iat") }
    if let expectedType = verifier.policy.expectedType { fuzzCheck(parsed.header.hasType(expectedType), "verified with typ \(String(describing: parsed.header.type))") }
}

func checkSignedByTrustedKey(_ bytes: [UInt8], verifier: JWTVerifier) {
    let header: [UInt8]
    let payload: [UInt8]
    if let zero = bytes.firstIndex(of: 0) {
        header = Array(bytes[..<zero])
        payload = Array(bytes[(zero + 1)...])
    } else {
        header = Array(#"{"alg":"ES256","typ":"at+jwt","kid":"fuzz-ec"}"#.utf8)
        payload = bytes
    }
    let input = Base64URL.encode(header) + "." + Base64URL.encode(payload)
    let signature = try! Fixture.ecSigner.sign(Array(input.utf8))
    let token = input + "." + Base64URL.encode(signature)
    let outcome = Outcome { () throws(JWTError) in try verifier.verify(token, keys: Fixture.keys, now: Fixture.now) }
    // The ES256 key signed it, so only a header naming another algorithm or kid may make the
    // signature check fail, never the signature itself.
    if outcome == .refused(.invalidSignature) {
        let jws = try? UnverifiedJWS(compact: token, maximumBytes: .max)
        fuzzCheck(jws?.header.algorithmName != "ES256", "a token the trusted ES256 key signed fails its signature check")
    }
    if case .verified(let claims, _, let algorithm) = outcome {
        fuzzCheck(algorithm == .es256, "verified as \(algorithm)")
        fuzzCheck((try? JSONParser.parseObject(payload)) == claims.members, "the verified claims are not the payload")
    }
    checkToken(token, verifier: verifier)
}

func checkSignedByJWSSigner(_ payload: [UInt8], verifier: JWTVerifier) {
    let token: String
    do {
        token = try Fixture.jwsSigner.sign(payload: payload)
    } catch {
        fuzzCheck(false, "JWSSigner failed: \(error)")
        return
    }
    guard let members = try? JSONParser.parseObject(payload) else { return }
    do {
        let jws = try UnverifiedJWS(compact: token, maximumBytes: .max)
        let (key, claims) = try verifier.verifySignature(jws, keys: Fixture.keys)
        fuzzCheck(key.keyID == Fixture.ecKid, "JWSSigner's token verified by \(String(describing: key.keyID))")
        fuzzCheck(claims.members == members, "JWSSigner's claims came back changed")
    } catch {
        fuzzCheck(false, "a token JWSSigner made fails the signature step: \(error)")
    }
    checkToken(token, verifier: verifier)
}
