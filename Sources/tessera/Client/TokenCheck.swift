import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy

/// What `tessera verify` concluded about one token.
struct TokenVerdict {
    /// Why the token is not valid, in plain words; nil when it is.
    var failure: String?
    /// The claims, only when the signature verified: then they are the issuer's even if a claim
    /// check failed (an expired token's claims are worth showing). A payload under a signature
    /// that does not verify is anyone's, and is never shown.
    var claims: JWTClaims?
    /// The key that verified the signature.
    var key: VerificationKey?
    /// The introspection endpoint's `active`, when it was asked.
    var active: Bool?

    var isValid: Bool { failure == nil }
}

/// The local checks of `tessera verify`: `JWTVerifier` under the RFC 9068 profile (typ
/// `at+jwt`, the algorithm from the JWKS key), then each refusal explained with what the
/// token actually says.
struct TokenCheck {
    let verifier: JWTVerifier
    let keys: VerificationKeySet

    /// `issuer` or `audience` nil: that claim must be present but any value passes (the
    /// command warns that it was not checked).
    init(issuer: String?, audience: String?, leeway: Int, keys: VerificationKeySet) {
        var policy = VerificationPolicy(issuer: issuer ?? "", audiences: audience.map { [$0] } ?? [],
                                        leeway: TimeInterval(leeway), expectedType: JWSSigner.accessTokenType)
        policy.matchesIssuer = issuer != nil
        policy.matchesAudience = audience != nil
        verifier = JWTVerifier(policy: policy)
        self.keys = keys
    }

    func verify(_ token: String, now: Date) -> TokenVerdict {
        let jws: UnverifiedJWS
        do {
            jws = try UnverifiedJWS(compact: token, maximumBytes: verifier.policy.maximumTokenBytes)
        } catch {
            return TokenVerdict(failure: "not a compact JWT: \(error.message)")
        }
        let key: VerificationKey
        let claims: JWTClaims
        do {
            (key, claims) = try verifier.verifySignature(jws, keys: keys)
        } catch {
            return TokenVerdict(failure: explain(error, header: jws.header))
        }
        do {
            try verifier.verifyClaims(claims, now: now)
        } catch {
            return TokenVerdict(failure: explain(error, claims: claims, now: now), claims: claims, key: key)
        }
        return TokenVerdict(claims: claims, key: key)
    }

    /// A refusal before the payload was trusted: only the header (the token's own words) is
    /// quoted, through `displayed`, which escapes and shortens it.
    private func explain(_ error: JWTError, header: JOSEHeader) -> String {
        let algorithm = displayed(header.algorithmName)
        switch error.code {
        case .invalidType:
            return "typ is \(header.type.map(displayed) ?? "absent"), expected \(verifier.policy.expectedType ?? "")"
        case .invalidSignature:
            return "signature does not verify with any key of the JWKS"
        case .unknownKey:
            if let kid = header.keyID { return "no key of the JWKS has kid \"\(displayed(kid))\"" }
            return "the token names no kid and no key of the JWKS is for \(algorithm)"
        case .algorithmMismatch:
            return "alg \(algorithm) does not match the JWKS key \"\(displayed(header.keyID ?? ""))\" (the algorithm comes from the key)"
        case .unsupportedAlgorithm:
            return "alg \(algorithm) refused: \(error.message)"
        default:
            return error.message
        }
    }

    /// A refusal of a claim whose signature verified: the claims are the issuer's to quote.
    private func explain(_ error: JWTError, claims: JWTClaims, now: Date) -> String {
        let policy = verifier.policy
        switch error.code {
        case .expired:
            guard let exp = claims.expiresAt else { return error.message }
            return "expired \(TimeText.duration(now.timeIntervalSince(exp))) ago at \(TimeText.instant(exp))"
                + " (leeway \(TimeText.duration(policy.leeway)))"
        case .notYetValid:
            guard let nbf = claims.notBefore else { return error.message }
            return "not valid before \(TimeText.instant(nbf)), in \(TimeText.duration(nbf.timeIntervalSince(now)))"
        case .issuedInFuture:
            guard let iat = claims.issuedAt else { return error.message }
            return "issued in the future: iat is \(TimeText.instant(iat)), in \(TimeText.duration(iat.timeIntervalSince(now)))"
        case .invalidIssuer:
            return "iss is \"\(displayed(claims.issuer ?? ""))\", expected \"\(policy.issuer)\""
        case .invalidAudience:
            let expected = policy.audiences.sorted().joined(separator: ", ")
            return "audience \(expected) not in [\(claims.audiences.map(displayed).joined(separator: ", "))]"
        default:
            return error.message
        }
    }
}

/// Times as people read them. Only dates a verified token may carry reach here (the verifier
/// bounds every NumericDate to 2000-2100 before any check that reads it), but the conversions
/// still refuse anything outside that range rather than trap on it.
enum TimeText {
    /// `2026-05-01T10:30:00Z`.
    static func instant(_ date: Date) -> String {
        guard NumericDate.isPlausible(date.timeIntervalSince1970) else { return "\(date.timeIntervalSince1970)" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// `45s`, `3m`, `1h30m`: whole seconds, rounded down.
    static func duration(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite, abs(seconds) < NumericDate.latest else { return "\(seconds)s" }
        return DurationText.format(Int(seconds.rounded(.down)))
    }
}
