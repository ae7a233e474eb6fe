import Foundation
import TesseraCrypto
import TesseraText

/// A trusted key and the one algorithm it may verify. The algorithm comes from here, never
/// from a token's header (RFC 8725 §3.1).
public struct VerificationKey: Sendable {
    public let keyID: String?
    public let verifier: SignatureVerifier

    public var algorithm: SignatureAlgorithm { verifier.algorithm }

    public init(keyID: String?, key: PublicKey, algorithm: SignatureAlgorithm) throws(CryptoError) {
        self.keyID = keyID
        self.verifier = try key.verifier(for: algorithm)
    }
}

/// The keys a verifier trusts for one purpose (one issuer, one client).
public struct VerificationKeySet: Sendable {
    public let keys: [VerificationKey]

    public init(_ keys: [VerificationKey]) {
        self.keys = keys
    }

    /// The keys to try for a header: the key with the header's `kid` when it names one;
    /// without a `kid`, every key of the header's algorithm (as go-oidc does for IdPs that omit it).
    func candidates(for header: JOSEHeader, algorithm: SignatureAlgorithm) throws(JWTError) -> [VerificationKey] {
        if let kid = header.keyID {
            let matching = keys.filter { $0.keyID?.isExactly(kid) == true }
            guard !matching.isEmpty else { throw JWTError(.unknownKey, "no trusted key has kid \"\(displayed(kid))\"") }
            let usable = matching.filter { $0.algorithm == algorithm }
            guard !usable.isEmpty else {
                throw JWTError(.algorithmMismatch, "key \"\(displayed(kid))\" is not for \(algorithm)")
            }
            return usable
        }
        let usable = keys.filter { $0.algorithm == algorithm }
        guard !usable.isEmpty else { throw JWTError(.unknownKey, "no trusted key for \(algorithm)") }
        return usable
    }
}

/// What a verifier demands of a token beyond a valid signature.
public struct VerificationPolicy: Sendable {
    /// Leeway is bounded: a large leeway would quietly turn expired tokens back into valid ones.
    public static let maximumLeeway: TimeInterval = 300

    public var issuer: String
    public var audiences: Set<String>
    public var allowedAlgorithms: Set<SignatureAlgorithm>
    public var leeway: TimeInterval {
        didSet { leeway = min(max(leeway, 0), Self.maximumLeeway) }
    }
    public var maximumTokenBytes: Int
    /// The `typ` the profile defines (`at+jwt`, `client-authentication+jwt`...), if any.
    public var expectedType: String?
    public var requireIssuedAt: Bool
    /// Upper bound on `exp - now`, for tokens that must be short-lived.
    public var maximumLifetime: TimeInterval?
    /// `crit` header names this verifier understands; any other makes the token invalid.
    public var understoodCriticalHeaders: Set<String>
    /// Whether `iss` must equal `issuer`. Only a person inspecting a token turns this off
    /// (`tessera verify --jwks` without `--issuer`, which warns); `iss` must then still be a
    /// string. Anything that accepts tokens leaves it on.
    public var matchesIssuer = true
    /// Whether an `aud` must be one of `audiences`; when off (`tessera verify` without
    /// `--audience`, which says so), the token must still name an audience.
    public var matchesAudience = true

    public init(issuer: String, audiences: Set<String>,
                allowedAlgorithms: Set<SignatureAlgorithm> = Set(SignatureAlgorithm.allCases),
                leeway: TimeInterval = 60, maximumTokenBytes: Int = 16 * 1024, expectedType: String? = nil,
                requireIssuedAt: Bool = false, maximumLifetime: TimeInterval? = nil,
                understoodCriticalHeaders: Set<String> = []) {
        self.issuer = issuer
        self.audiences = audiences
        self.allowedAlgorithms = allowedAlgorithms
        self.leeway = min(max(leeway, 0), Self.maximumLeeway)
        self.maximumTokenBytes = maximumTokenBytes
        self.expectedType = expectedType
        self.requireIssuedAt = requireIssuedAt
        self.maximumLifetime = maximumLifetime
        self.understoodCriticalHeaders = understoodCriticalHeaders
    }
}

/// A token whose signature and claims passed verification.
public struct VerifiedJWT: Sendable {
    public let header: JOSEHeader
    public let claims: JWTClaims
    public let keyID: String?
    public let algorithm: SignatureAlgorithm
}

/// A compact JWS split and decoded but not verified. Nothing in it may be trusted; it exists so
/// that a caller can pick the trusted key set (by `iss`) before verifying.
public struct UnverifiedJWS: Sendable {
    public let header: JOSEHeader
    public let payload: [UInt8]
    let signingInput: ArraySlice<UInt8>
    let signature: [UInt8]

    public init(compact token: String, maximumBytes: Int) throws(JWTError) {
        // The size limit comes first: nothing is decoded from an oversized token.
        guard token.utf8.count <= maximumBytes else {
            throw JWTError(.oversized, "the token is larger than \(maximumBytes) bytes")
        }
        let bytes = Array(token.utf8)
        let dots = bytes.indices.filter { bytes[$0] == UInt8(ascii: ".") }
        guard dots.count == 2 else {
            throw JWTError(.malformed, "a compact JWS has exactly three segments, this token has \(dots.count + 1)")
        }
        let headerPart = bytes[..<dots[0]]
        let payloadPart = bytes[(dots[0] + 1)..<dots[1]]
        let signaturePart = bytes[(dots[1] + 1)...]
        guard !headerPart.isEmpty, !payloadPart.isEmpty else {
            throw JWTError(.malformed, "the token has an empty header or payload")
        }
        guard !signaturePart.isEmpty else {
            throw JWTError(.malformed, "the token is unsigned")
        }
        guard let headerBytes = Base64URL.decode(utf8: headerPart),
              let payload = Base64URL.decode(utf8: payloadPart),
              let signature = Base64URL.decode(utf8: signaturePart)
        else {
            throw JWTError(.malformed, "a token segment is not base64url without padding")
        }
        self.header = try JOSEHeader(bytes: headerBytes)
        self.payload = payload
        self.signingInput = bytes[..<dots[1]]
        self.signature = signature
    }

    /// The claims, read without any verification: for choosing a key set only.
    public func unverifiedClaims() -> JWTClaims? {
        (try? JSONParser.parseObject(payload)).map(JWTClaims.init(members:))
    }
}

/// Verifies compact JWS tokens under one policy, applying every rule of RFC 8725.
public struct JWTVerifier: Sendable {
    public let policy: VerificationPolicy

    public init(policy: VerificationPolicy) {
        self.policy = policy
    }

    public func verify(_ token: String, keys: VerificationKeySet, now: Date) throws(JWTError) -> VerifiedJWT {
        try verify(UnverifiedJWS(compact: token, maximumBytes: policy.maximumTokenBytes), keys: keys, now: now)
    }

    public func verify(_ jws: UnverifiedJWS, keys: VerificationKeySet, now: Date) throws(JWTError) -> VerifiedJWT {
        let (key, claims) = try verifySignature(jws, keys: keys)
        try verifyClaims(claims, now: now)
        return VerifiedJWT(header: jws.header, claims: claims, keyID: key.keyID, algorithm: key.algorithm)
    }

    /// The claim checks of `verify`, for claims whose signature `verifySignature` has checked.
    /// Separate so that a caller explaining a refusal (`tessera verify`) knows the claims it
    /// shows are authentic: they came out of `verifySignature`.
    public func verifyClaims(_ claims: JWTClaims, now: Date) throws(JWTError) {
        try claims.verifyRegisteredClaimTypes()
        if policy.matchesIssuer {
            try claims.verifyIssuer(policy.issuer)
        } else if claims.issuer == nil {
            throw JWTError(.missingClaim, "the token has no \"iss\"")
        }
        if policy.matchesAudience {
            try claims.verifyAudience(acceptsAnyOf: policy.audiences)
        } else if claims.audiences.isEmpty {
            throw JWTError(.missingClaim, "the token has no \"aud\"")
        }
        try claims.verifyNotExpired(currentDate: now, leeway: policy.leeway)
        try claims.verifyNotBefore(currentDate: now, leeway: policy.leeway)
        try claims.verifyIssuedInPast(currentDate: now, leeway: policy.leeway, required: policy.requireIssuedAt)
        if let maximumLifetime = policy.maximumLifetime {
            try claims.verifyLifetime(atMost: maximumLifetime, currentDate: now, leeway: policy.leeway)
        }
    }

    /// Checks the header rules and the signature only, and returns the key that verified it with
    /// the payload parsed as claims. For signed documents that are not access tokens (audit
    /// checkpoints); tokens go through `verify`, which adds the claim checks.
    public func verifySignature(_ jws: UnverifiedJWS, keys: VerificationKeySet) throws(JWTError) -> (VerificationKey, JWTClaims) {
        let header = jws.header
        let algorithm = try acceptedAlgorithm(header.algorithmName)
        for name in header.critical where !policy.understoodCriticalHeaders.contains(name) {
            throw JWTError(.unsupportedCritical, "the token marks the header \"\(displayed(name))\" critical, which is not understood")
        }
        if let expectedType = policy.expectedType, !header.hasType(expectedType) {
            throw JWTError(.invalidType, "the token type must be \"\(expectedType)\"")
        }
        let candidates = try keys.candidates(for: header, algorithm: algorithm)
        let verifiedBy = jws.signingInput.withUnsafeBytes { input in
            candidates.first { $0.verifier.verify(signature: jws.signature, message: input) }
        }
        guard let key = verifiedBy else { throw JWTError(.invalidSignature, "the token signature is invalid") }

        // Only now is the payload trusted enough to parse.
        do {
            return (key, JWTClaims(members: try JSONParser.parseObject(jws.payload)))
        } catch {
            throw JWTError(.malformed, "the token payload is not a JSON object: \(error)")
        }
    }

    /// The header's algorithm, if it is one this verifier accepts at all.
    private func acceptedAlgorithm(_ name: String) throws(JWTError) -> SignatureAlgorithm {
        if name.lowercased() == "none" {
            throw JWTError(.unsupportedAlgorithm, "unsigned tokens (alg \"none\") are never accepted")
        }
        if name.uppercased().hasPrefix("HS") {
            throw JWTError(.unsupportedAlgorithm, "HMAC algorithms are never accepted")
        }
        guard let algorithm = SignatureAlgorithm(jwsName: name) else {
            throw JWTError(.unsupportedAlgorithm, "unsupported algorithm \"\(displayed(name))\"")
        }
        guard policy.allowedAlgorithms.contains(algorithm) else {
            throw JWTError(.unsupportedAlgorithm, "algorithm \(displayed(name)) is not allowed here")
        }
        return algorithm
    }
}
