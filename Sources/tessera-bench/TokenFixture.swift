import Foundation
import TesseraCore
import TesseraCrypto
import TesseraJWT

/// Access tokens for one algorithm, made the way the issuer makes them: a key generated into a
/// keys folder, `SigningKeys`, `TokenMinter` (fresh `jti` and clock per token), and a verifier
/// holding the issuer's published keys with a full RFC 9068 policy.
struct TokenFixture {
    static let issuer = "https://issuer.tessera-bench.example"
    static let audience = "https://api.tessera-bench.example"
    static let clientID = "bench-client"
    static let scopes = ["orders.read", "orders.write"]

    let algorithm: SignatureAlgorithm
    let privateKey: PrivateKey
    private let minter: TokenMinter
    private let verificationKeys: VerificationKeySet
    private let verifier: JWTVerifier
    /// A token minted at setup, for the verification benchmarks.
    let sampleToken: String

    /// `keysDirectory` must be empty: the first key of a folder is the one that signs.
    init(algorithm: SignatureAlgorithm, keysDirectory: String) throws {
        let stored = try KeyDirectory(path: keysDirectory).generate(algorithm: algorithm, now: Date())
        let keys = try SigningKeys(keys: [stored])
        self.algorithm = algorithm
        privateKey = stored.privateKey
        minter = TokenMinter(issuer: Self.issuer, keys: keys, timeSource: SystemTimeSource())
        verificationKeys = keys.verificationKeys
        verifier = JWTVerifier(policy: VerificationPolicy(
            issuer: Self.issuer, audiences: [Self.audience], allowedAlgorithms: [algorithm],
            expectedType: "at+jwt", requireIssuedAt: true, maximumLifetime: 3600))
        sampleToken = try minter.mint(Self.decision).token
        try verify(sampleToken)  // a fixture whose tokens do not verify would measure nothing
    }

    static let decision = TokenGrantDecision(subject: clientID, clientID: clientID, audiences: [audience],
                                             scopes: scopes, lifetimeSeconds: 300)

    /// The full issuing path: claims, JSON, base64url, signature, compact JWT.
    func mint() throws {
        _ = try minter.mint(Self.decision)
    }

    /// The full verification path: split, decode, header checks, signature, claims policy.
    func verify(_ token: String) throws {
        _ = try verifier.verify(token, keys: verificationKeys, now: Date())
    }

    /// `header.payload` of the sample token: what the raw baseline signs, so both sides sign
    /// inputs of the same size.
    var signingInput: [UInt8] {
        let bytes = Array(sampleToken.utf8)
        return Array(bytes[..<(bytes.lastIndex(of: UInt8(ascii: ".")) ?? bytes.endIndex)])
    }
}
