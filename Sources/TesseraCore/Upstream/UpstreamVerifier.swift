import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraText

/// Verifies subject tokens from the configured upstream identity providers into an `Identity`.
///
/// The unverified `iss` is read only to pick the upstream (exact match; unknown issuers are
/// refused); the token is then verified with that upstream's keys only, so keys of upstream A
/// never verify a token claiming issuer B. Every RFC 8725 rule of `JWTVerifier` applies: size
/// limit before parsing, the algorithm from the trusted key, `none` and HMAC refused,
/// `jku`/`x5u`/`jwk`/`x5c` never used, unknown `crit` refused, exact `iss`, `aud` required and
/// accepted, `exp`/`nbf`/`iat` within the upstream's leeway; then the upstream's maximum token
/// age and maximum authentication age.
public struct UpstreamVerifier: Sendable {
    /// Subject tokens larger than this are refused before anything is decoded. ID tokens with
    /// many groups run to a few KiB; 16 KiB leaves room without inviting abuse.
    public static let maximumTokenBytes = 16 * 1024

    enum KeyProvider: Sendable {
        /// Keys read from a `jwks_file` when the registry was built.
        case fixed(VerificationKeySet)
        case cached(UpstreamKeyCache)
    }

    struct Upstream: Sendable {
        let definition: UpstreamDefinition
        let keys: KeyProvider
        let verifier: JWTVerifier
    }

    let upstreams: [String: Upstream]

    init(upstreams: [Upstream]) {
        self.upstreams = Dictionary(upstreams.map { ($0.definition.issuer, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func verify(_ subjectToken: String, now: Date) async throws(UpstreamVerificationError) -> Identity {
        let jws: UnverifiedJWS
        do {
            jws = try UnverifiedJWS(compact: subjectToken, maximumBytes: Self.maximumTokenBytes)
        } catch {
            throw UpstreamVerificationError(error, upstream: nil)
        }
        // Unverified: used only to choose whose keys to try, then checked exactly by the verifier.
        guard let claimedIssuer = jws.unverifiedClaims()?.issuer else {
            throw UpstreamVerificationError(.init(.missingClaim), "the subject token has no \"iss\" naming its issuer")
        }
        guard let upstream = upstreams[exactly: claimedIssuer] else {
            throw UpstreamVerificationError(.unknownIssuer, "the issuer \"\(displayed(claimedIssuer))\" is not a configured upstream")
        }
        let id = upstream.definition.id

        // The header rules first (alg none, HMAC, algorithms the upstream does not use, unknown
        // crit), so a hostile token is refused before it can make the cache fetch anything.
        // With no keys at all, a header that passes every rule ends at `unknownKey`.
        do {
            _ = try upstream.verifier.verifySignature(jws, keys: VerificationKeySet([]))
        } catch where error.code != .unknownKey {
            throw UpstreamVerificationError(error, upstream: id)
        } catch {}

        let verified: VerifiedJWT
        switch upstream.keys {
        case .fixed(let keys):
            do {
                verified = try upstream.verifier.verify(jws, keys: keys, now: now)
            } catch {
                throw UpstreamVerificationError(error, upstream: id)
            }
        case .cached(let cache):
            let (keys, generation) = try await cache.currentKeys()
            do {
                verified = try upstream.verifier.verify(jws, keys: keys, now: now)
            } catch where error.code == .unknownKey || (error.code == .invalidSignature && jws.header.keyID == nil) {
                // A kid the cache does not know (or, for IdPs that omit kid, a signature no cached
                // key verifies) may mean the upstream rotated: one rate-limited refetch, one retry.
                guard let fresh = await cache.refreshed(after: generation) else { throw UpstreamVerificationError(error, upstream: id) }
                do {
                    verified = try upstream.verifier.verify(jws, keys: fresh, now: now)
                } catch {
                    throw UpstreamVerificationError(error, upstream: id)
                }
            } catch {
                throw UpstreamVerificationError(error, upstream: id)
            }
        }
        return try Self.identity(from: verified.claims, upstream: upstream.definition, now: now)
    }

    /// The age limits of the upstream, then the claim mapping.
    static func identity(from claims: JWTClaims, upstream: UpstreamDefinition, now: Date) throws(UpstreamVerificationError) -> Identity {
        let id = upstream.id
        let leeway = TimeInterval(upstream.leewaySeconds)
        if let maximumAge = upstream.maximumTokenAgeSeconds {
            // `iat` is required by the verification policy when a maximum age is set.
            guard let issuedAt = claims.issuedAt else { throw UpstreamVerificationError(.init(.missingClaim), upstream: id, "the token has no \"iat\"") }
            guard now.timeIntervalSince(issuedAt) <= TimeInterval(maximumAge) + leeway else {
                throw UpstreamVerificationError(.tokenTooOld, upstream: id,
                                                "the token was issued more than \(describe(seconds: maximumAge)) ago (max_token_age)")
            }
        }
        let mapping = upstream.claims
        var authenticatedAt: Date?
        if let value = claims[mapping.authenticationTime] {
            guard let seconds = value.numberValue else {
                throw UpstreamVerificationError(.init(.invalidClaim), upstream: id, "\"\(displayed(mapping.authenticationTime))\" must be a number")
            }
            guard NumericDate.isPlausible(seconds) else {
                throw UpstreamVerificationError(.init(.invalidClaim), upstream: id, NumericDate.implausible(displayed(mapping.authenticationTime)))
            }
            let time = Date(timeIntervalSince1970: seconds)
            guard time.timeIntervalSince(now) <= leeway else {
                throw UpstreamVerificationError(.init(.invalidClaim), upstream: id, "\"\(displayed(mapping.authenticationTime))\" lies in the future")
            }
            authenticatedAt = time
        }
        if let maximumAge = upstream.maximumAuthenticationAgeSeconds {
            guard let authenticatedAt else {
                throw UpstreamVerificationError(.init(.missingClaim), upstream: id,
                                                "the token has no \"\(displayed(mapping.authenticationTime))\" and max_auth_age requires one")
            }
            guard now.timeIntervalSince(authenticatedAt) <= TimeInterval(maximumAge) + leeway else {
                throw UpstreamVerificationError(.authenticationTooOld, upstream: id,
                                                "the person authenticated more than \(describe(seconds: maximumAge)) ago (max_auth_age); sign in again")
            }
        }
        guard let subject = claims[mapping.subject]?.stringValue, !subject.isEmpty else {
            throw UpstreamVerificationError(.missingSubject, upstream: id,
                                            "the token has no non-empty string claim \"\(displayed(mapping.subject))\" for the subject")
        }
        return Identity(
            upstream: id, subject: subject, email: claims[mapping.email]?.stringValue,
            groups: strings(claims[mapping.groups]), authenticationMethods: strings(claims[mapping.authenticationMethods]),
            authenticationContext: claims[mapping.authenticationContext]?.stringValue, authenticatedAt: authenticatedAt,
            deviceCompliant: mapping.deviceCompliance.flatMap { deviceCompliance(claims[$0.claim], $0) },
            claims: claims.members.mapValues(ClaimValue.init))
    }

    /// A string is a list of one; in an array, elements that are not strings are left out. A
    /// claim of another type gives nothing: groups and methods only ever grant, so dropping
    /// what cannot be read can only deny.
    static func strings(_ value: JSONValue?) -> [String] {
        switch value {
        case .string(let string): return string.isEmpty ? [] : [string]
        case .array(let values): return values.compactMap(\.stringValue)
        default: return []
        }
    }

    /// Nil when the claim is absent; true when it (or, for an array, one element) equals one of
    /// the configured values; false otherwise.
    static func deviceCompliance(_ value: JSONValue?, _ mapping: DeviceComplianceMapping) -> Bool? {
        guard let value, value != .null else { return nil }
        let claim = ClaimValue(value)
        let accepted = { (element: ClaimValue) in mapping.values.contains { $0.isExactly(element) } }
        if case .array(let elements) = claim { return elements.contains(where: accepted) }
        return accepted(claim)
    }

    static func describe(seconds: Int) -> String {
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

extension ClaimValue {
    /// The policy engine's view of a JSON claim.
    public init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let bool): self = .bool(bool)
        case .number(let number): self = .number(number)
        case .string(let string): self = .string(string)
        case .array(let values): self = .array(values.map(ClaimValue.init))
        case .object(let members): self = .object(members.mapValues(ClaimValue.init))
        }
    }
}
