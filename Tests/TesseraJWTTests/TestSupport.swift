import Foundation
import Testing
import TesseraCrypto
@testable import TesseraJWT

/// Shared fixtures for the JWT tests. Every time check uses `Fixture.now`; no test reads the
/// wall clock for expiry logic.
enum Fixture {
    /// 2025-06-15T15:06:40Z, a fixed instant.
    static let now = Date(timeIntervalSince1970: 1_750_000_000)
    static let nowSeconds: Int64 = 1_750_000_000

    static let issuer = "https://issuer.example.com"
    static let audience = "https://api.example.com"

    // Keys are generated once per test process: RSA generation is slow.
    static let ecKey = try! PrivateKey.generate(.p256)
    static let edKey = try! PrivateKey.generate(.ed25519)
    static let rsaKey = try! PrivateKey.generate(.rsa(bits: 2048))
    static let psKey = try! PrivateKey.generate(.rsa(bits: 2048))
    /// Keys nobody trusts.
    static let attackerECKey = try! PrivateKey.generate(.p256)
    static let attackerRSAKey = try! PrivateKey.generate(.rsa(bits: 2048))

    static let ecKid = "ec-1"
    static let edKid = "ed-1"
    static let rsaKid = "rsa-1"
    static let psKid = "ps-1"

    static let ecSigner = try! Signer(key: ecKey, algorithm: .es256)
    static let edSigner = try! Signer(key: edKey, algorithm: .edDSA)
    static let rsaSigner = try! Signer(key: rsaKey, algorithm: .rs256)
    static let psSigner = try! Signer(key: psKey, algorithm: .ps256)
    static let attackerECSigner = try! Signer(key: attackerECKey, algorithm: .es256)
    /// The trusted RSA key, signing with the algorithm its verification key is *not* bound to.
    static let rsaKeyAsPS256Signer = try! Signer(key: rsaKey, algorithm: .ps256)

    /// The trusted keys: each bound to exactly one algorithm.
    static let keys = VerificationKeySet([
        try! VerificationKey(keyID: ecKid, key: ecKey.publicKey(), algorithm: .es256),
        try! VerificationKey(keyID: edKid, key: edKey.publicKey(), algorithm: .edDSA),
        try! VerificationKey(keyID: rsaKid, key: rsaKey.publicKey(), algorithm: .rs256),
        try! VerificationKey(keyID: psKid, key: psKey.publicKey(), algorithm: .ps256),
    ])

    static func policy(_ configure: (inout VerificationPolicy) -> Void = { _ in }) -> VerificationPolicy {
        var policy = VerificationPolicy(issuer: issuer, audiences: [audience])
        configure(&policy)
        return policy
    }

    static func verify(_ token: String, policy: VerificationPolicy = policy(), keys: VerificationKeySet = keys,
                       now: Date = now) throws(JWTError) -> VerifiedJWT {
        try JWTVerifier(policy: policy).verify(token, keys: keys, now: now)
    }
}

/// One change to the standard claim set.
enum ClaimEdit: Sendable {
    /// Sets a member to a raw JSON value (replacing it in place, or appending it).
    case set(String, String)
    case remove(String)
    /// Appends a raw `"name":value` member even if the name is already present.
    case appendDuplicate(String, String)
}

/// Assembles compact JWS from arbitrary header and payload JSON, so tests can build the tokens
/// a well-behaved signer never would.
enum TokenFactory {
    static func json(_ string: String) -> String { "\"\(string)\"" }

    /// The claims of a token valid at `Fixture.now`, as raw JSON, after `edits`.
    static func payload(_ edits: ClaimEdit...) -> String {
        payload(edits: edits)
    }

    static func payload(edits: [ClaimEdit]) -> String {
        var members: [(String, String)] = [
            ("iss", json(Fixture.issuer)),
            ("sub", json("alice")),
            ("aud", json(Fixture.audience)),
            ("exp", String(Fixture.nowSeconds + 600)),
            ("iat", String(Fixture.nowSeconds - 10)),
            ("jti", json("jti-1")),
        ]
        for edit in edits {
            switch edit {
            case .set(let name, let value):
                if let index = members.firstIndex(where: { $0.0 == name }) {
                    members[index].1 = value
                } else {
                    members.append((name, value))
                }
            case .remove(let name):
                members.removeAll { $0.0 == name }
            case .appendDuplicate(let name, let value):
                members.append((name, value))
            }
        }
        return "{" + members.map { "\(json($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    /// A standard header for a signer: `{"alg":...,"typ":"at+jwt","kid":...}` plus `extra` members.
    static func header(alg: String, kid: String?, typ: String? = "at+jwt", extra: String = "") -> String {
        var members = ["\"alg\":\(json(alg))"]
        if let typ { members.append("\"typ\":\(json(typ))") }
        if let kid { members.append("\"kid\":\(json(kid))") }
        if !extra.isEmpty { members.append(extra) }
        return "{" + members.joined(separator: ",") + "}"
    }

    static func segment(_ json: String) -> String { Base64URL.encode(Array(json.utf8)) }

    /// `header.payload.signature`, signed with `signer` over the exact encoded segments.
    static func sign(header: String, payload: String, with signer: Signer) -> String {
        let input = segment(header) + "." + segment(payload)
        let signature = try! signer.sign(Array(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }

    /// A token with the standard header for `signer`'s algorithm.
    static func sign(payload: String = payload(), kid: String?, typ: String? = "at+jwt", extraHeader: String = "",
                     with signer: Signer) -> String {
        sign(header: header(alg: signer.algorithm.jwsName, kid: kid, typ: typ, extra: extraHeader), payload: payload, with: signer)
    }

    /// A token whose signature is whatever bytes the caller gives.
    static func assemble(header: String, payload: String, signature: [UInt8]) -> String {
        segment(header) + "." + segment(payload) + "." + Base64URL.encode(signature)
    }

    /// A token signed with HMAC-SHA256 under `secret` (the classic "public key as HMAC secret" attack).
    static func hmacSigned(alg: String = "HS256", kid: String?, secret: [UInt8], payload: String = payload()) -> String {
        let input = segment(header(alg: alg, kid: kid)) + "." + segment(payload)
        return input + "." + Base64URL.encode(HMACSHA256.authenticate(Array(input.utf8), key: secret))
    }
}

/// HMAC-SHA256 (RFC 2104) on top of TesseraCrypto's SHA-256; only attackers use it here.
enum HMACSHA256 {
    static func authenticate(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        let blockSize = 64
        var block = key.count > blockSize ? SHA256.hash(key) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        let inner = SHA256.hash(block.map { $0 ^ 0x36 } + message)
        return SHA256.hash(block.map { $0 ^ 0x5C } + inner)
    }
}

/// Runs `body` and returns the `JWTError` it throws, recording an issue when it throws nothing.
func jwtError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(JWTError) -> Void) -> JWTError? {
    do {
        try body()
        Issue.record("expected a JWTError, but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

extension TokenFactory {
    static func segment(bytes: [UInt8]) -> String { Base64URL.encode(bytes) }

    static func segments(of token: String) -> [String] {
        token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    /// The token with segment `index` (0 header, 1 payload, 2 signature) replaced.
    static func replacing(segment index: Int, of token: String, with replacement: String) -> String {
        var parts = segments(of: token)
        parts[index] = replacement
        return parts.joined(separator: ".")
    }

    static func signature(of token: String) -> [UInt8] {
        Base64URL.decode(segments(of: token)[2])!
    }

    static func replacingSignature(of token: String, with signature: [UInt8]) -> String {
        replacing(segment: 2, of: token, with: Base64URL.encode(signature))
    }

    /// A public key as a JWK JSON object, for headers that (wrongly) carry keys.
    static func jwkJSON(_ key: PrivateKey, algorithm: SignatureAlgorithm) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let jwk = try! key.publicKey().jwk(algorithm: algorithm)
        return String(decoding: try! encoder.encode(jwk), as: UTF8.self)
    }
}
