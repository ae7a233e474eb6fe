import Foundation
import TesseraCrypto

/// The timing rules of key rotation (DESIGN.md, key lifecycle), from the policy bundle.
public struct KeyTimings: Sendable, Hashable {
    /// Verifiers cache the JWKS for `Cache-Control: max-age` (300 s), and some libraries for a
    /// fixed time of their own (PyJWT 300 s and at most one refetch per 30 s on an unknown kid;
    /// panva/jose 600 s): a new key is published for at least max-age plus this margin before it signs.
    public static let verifierCacheMargin: TimeInterval = 600
    /// What the JWKS response's `Cache-Control: max-age` says.
    public static let jwksMaxAge: TimeInterval = 300
    /// Clock skew verifiers allow; a retired key stays published this long after its last token expired.
    public static let clockLeeway: TimeInterval = 300

    /// How long a new key is published before it signs.
    public var prepublish: TimeInterval
    /// How long a retired key stays published: the longest lifetime any token can have, plus the leeway.
    public var retention: TimeInterval
    /// Scheduled rotation periods; an algorithm not listed rotates only on demand.
    public var rotationPeriods: [SignatureAlgorithm: TimeInterval]
    /// Algorithms that must always have a current key: the default, every scheduled one, and
    /// every one a role or client asks for.
    public var algorithms: Set<SignatureAlgorithm>
    /// What signs tokens whose role and client name no algorithm. Nil (no keys.yaml): whatever
    /// key signs already (ES256 when it has one), and ES256 for a new key set.
    public var defaultAlgorithm: SignatureAlgorithm?

    public init(prepublish: TimeInterval, retention: TimeInterval, rotationPeriods: [SignatureAlgorithm: TimeInterval] = [:],
                algorithms: Set<SignatureAlgorithm> = [], defaultAlgorithm: SignatureAlgorithm? = nil) {
        self.prepublish = prepublish
        self.retention = retention
        self.rotationPeriods = rotationPeriods
        self.algorithms = algorithms.union(rotationPeriods.keys).union(defaultAlgorithm.map { [$0] } ?? [])
        self.defaultAlgorithm = defaultAlgorithm
    }

    /// The shortest pre-publication that keeps every verifier working: the JWKS max-age plus
    /// the margin for libraries that cache on their own terms.
    public static func minimumPrepublish(jwksMaxAge: TimeInterval) -> TimeInterval { jwksMaxAge + verifierCacheMargin }
}

/// One step of a key's life, as the lifecycle decides it.
public enum KeyChange: Sendable, Hashable {
    /// A new key of this algorithm: `current` at once (no key signs it yet) or `next` from `activatesAt`.
    case generate(SignatureAlgorithm, KeyState, activatesAt: Date)
    /// A `next` key starts signing.
    case promote(kid: String)
    /// The `current` key stops signing; it stays published until `removeAfter`.
    case retire(kid: String, removeAfter: Date)
    /// A `previous` key whose tokens have all expired leaves the JWKS and the store.
    case remove(kid: String)
}

/// What is due in a key set at a moment: pure, so a replica can compute it, and tests can drive
/// it with any clock. Applying the changes is `KeyManager`'s job.
public enum KeyLifecycle {
    public static func dueChanges(_ entries: [SigningKeyEntry], now: Date, timings: KeyTimings) -> [KeyChange] {
        var changes: [KeyChange] = []
        var required = timings.algorithms
        if timings.defaultAlgorithm == nil, !entries.contains(where: { $0.state == .current || $0.state == .next }) {
            required.insert(.es256)  // a new key set and no default named: ES256 signs by default
        }
        let algorithms = required.union(entries.filter { $0.state != .revoked }.map(\.alg))
        for alg in algorithms.sorted(by: { $0.jwsName < $1.jwsName }) {
            let current = entries.first { $0.alg == alg && $0.state == .current }
            let pending = entries.filter { $0.alg == alg && $0.state == .next }
                .min { ($0.activatesAt ?? $0.created) < ($1.activatesAt ?? $1.created) }
            var signingSince = current?.signingSince
            var hasNext = pending != nil
            if let pending, (pending.activatesAt ?? pending.created) <= now || current == nil {
                // Due; or no key signs this algorithm at all (after a manual edit), where a key
                // some verifier may not have cached is better than none.
                if let current { changes.append(.retire(kid: current.kid, removeAfter: now + timings.retention)) }
                changes.append(.promote(kid: pending.kid))
                signingSince = now
                hasNext = entries.contains { $0.alg == alg && $0.state == .next && $0.kid != pending.kid }
            } else if current == nil, required.contains(alg) {
                changes.append(.generate(alg, .current, activatesAt: now))
                signingSince = now
            }
            if !hasNext, let since = signingSince, let period = timings.rotationPeriods[alg], since + period - timings.prepublish <= now {
                changes.append(.generate(alg, .next, activatesAt: max(now + timings.prepublish, since + period)))
            }
        }
        for entry in entries where entry.state == .previous {
            if let removeAfter = entry.removeAfter, removeAfter <= now { changes.append(.remove(kid: entry.kid)) }
        }
        return changes
    }
}
