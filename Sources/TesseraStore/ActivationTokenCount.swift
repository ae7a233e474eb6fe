import Foundation

/// Tokens issued under an activation recorded before (`SealedAuditEntry.countsOnActivation`)
/// are written with their audit group, not by a transition of their own: each group checks,
/// in its transaction, that every such activation still covers its tokens and counts them on
/// it by a compare-and-swap. So a window that ended (or was cut short) before the group
/// commits refuses its tokens, and one that ends after it revokes them with the rest.
enum ActivationTokenCount {
    /// The ids of the activations `entries` issue tokens under, for the store to read (and lock).
    static func activationIDs(_ entries: [SealedAuditEntry]) -> [String] {
        var seen = Set<String>()
        return entries.compactMap { entry in
            guard entry.countsOnActivation, let id = entry.issuedToken?.activationID, seen.insert(id).inserted else { return nil }
            return id
        }
    }

    /// The next version of each activation `entries` issue tokens under, counting them, given
    /// the stored versions (`current`). Throws naming every token whose activation is missing,
    /// no longer active, or ends before the token expires: then nothing may be written.
    static func counted(_ entries: [SealedAuditEntry], current: [String: ActivationRecord]) throws(ActivationNoLongerCovers)
        -> [ActivationRecord] {
        var next: [String: ActivationRecord] = [:]
        var refused: Set<String> = []
        for entry in entries where entry.countsOnActivation {
            guard let token = entry.issuedToken, let id = token.activationID else { continue }
            guard var activation = next[id] ?? current[id].map({ $0.nextVersion(at: entry.time) }),
                  activation.covers(tokenExpiringAt: token.expiresAt) else {
                refused.insert(token.jwtID)
                continue
            }
            activation.tokens += 1
            next[id] = activation
        }
        guard refused.isEmpty else { throw ActivationNoLongerCovers(jwtIDs: refused) }
        return activationIDs(entries).compactMap { next[$0] }
    }
}

/// An audit group was refused because some of its tokens' activations no longer cover them
/// (ended, revoked, or ending before the token would): nothing of the group was written. The
/// log writes the group again without them.
public struct ActivationNoLongerCovers: Error, Sendable, CustomStringConvertible {
    /// The jtis of the tokens refused.
    public let jwtIDs: Set<String>

    public init(jwtIDs: Set<String>) { self.jwtIDs = jwtIDs }

    public var description: String {
        "the activation of token\(jwtIDs.count == 1 ? "" : "s") \(jwtIDs.sorted().joined(separator: ", ")) no longer covers it"
    }
}

extension ActivationRecord {
    /// Whether a token expiring at `expiresAt` may be issued under this window now: it is
    /// active and does not end before the token does.
    public func covers(tokenExpiringAt expiresAt: Date) -> Bool {
        state == .active && (endsAt ?? .distantPast) >= expiresAt
    }

}
