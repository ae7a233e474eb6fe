import Foundation

/// A token Tessera issued, kept until it expires for introspection and revocation.
public struct IssuedTokenRecord: Sendable, Hashable {
    public var jwtID: String
    public var subject: String
    public var clientID: String
    public var audiences: [String]
    public var scope: String?
    public var keyID: String
    public var issuedAt: Date
    public var expiresAt: Date
    /// When the token was revoked (RFC 7009), nil while it is not.
    public var revokedAt: Date?
    /// The activation it was issued under (token exchange), whose end revokes it.
    public var activationID: String?

    public init(jwtID: String, subject: String, clientID: String, audiences: [String], scope: String?, keyID: String,
                issuedAt: Date, expiresAt: Date, revokedAt: Date? = nil, activationID: String? = nil) {
        self.jwtID = jwtID
        self.subject = subject
        self.clientID = clientID
        self.audiences = audiences
        self.scope = scope
        self.keyID = keyID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.activationID = activationID
    }
}

/// What a revocation request found.
public enum RevocationOutcome: Sendable, Hashable {
    /// Revoked now.
    case revoked
    /// Revoked before; revoking is idempotent.
    case alreadyRevoked
    /// No token with this `jti` was issued (or it has been pruned).
    case unknown
    /// The token was issued to another client, which alone may revoke it.
    case notOwner
}

/// The last entry of the audit chain, which the next entry's hash builds on.
public struct AuditChainHead: Sendable, Hashable {
    public let sequence: Int64
    /// Lowercase hex SHA-256.
    public let hash: String

    public init(sequence: Int64, hash: String) {
        self.sequence = sequence
        self.hash = hash
    }
}

/// An audit entry as stored: its canonical JSON and the chain hash over it. The store never
/// interprets `body`; the columns beside it exist for filtering.
public struct SealedAuditEntry: Sendable, Hashable {
    public let sequence: Int64
    public let time: Date
    public let event: String
    public let subject: String?
    public let clientID: String?
    /// The role the event concerns (a token's or request's role), for filtering.
    public let role: String?
    public let outcome: String
    /// Canonical JSON of the entry (sorted keys, no spaces), including `sequence`.
    public let body: String
    /// `SHA-256(previous hash || body)`, lowercase hex.
    public let hash: String
    /// The token this entry records the issuing of: stored in the same write, so a token is
    /// durable exactly when its audit entry is.
    public let issuedToken: IssuedTokenRecord?
    /// The activation this entry records the opening of (an allowed exchange's), stored in the
    /// same write; a new id, so it never conflicts (transitions of existing ones go through
    /// `ActivationStore.commit`).
    public let openedActivation: ActivationRecord?
    /// Notifications the event causes, put in the outbox by the same write.
    public let notifications: [OutboxNotification]
    /// The token is issued under an activation recorded before (`issuedToken.activationID`):
    /// the write happens only while that activation covers the token, and counts it there, in
    /// the same transaction (`ActivationNoLongerCovers` otherwise, with nothing written).
    public let countsOnActivation: Bool

    public init(sequence: Int64, time: Date, event: String, subject: String?, clientID: String?, role: String? = nil,
                outcome: String, body: String, hash: String, issuedToken: IssuedTokenRecord? = nil, openedActivation: ActivationRecord? = nil,
                notifications: [OutboxNotification] = [], countsOnActivation: Bool = false) {
        self.sequence = sequence
        self.time = time
        self.event = event
        self.subject = subject
        self.clientID = clientID
        self.role = role
        self.outcome = outcome
        self.body = body
        self.hash = hash
        self.issuedToken = issuedToken
        self.openedActivation = openedActivation
        self.notifications = notifications
        self.countsOnActivation = countsOnActivation
    }

    public var head: AuditChainHead { AuditChainHead(sequence: sequence, hash: hash) }
}

/// Which audit entries to read: those after a sequence number (the page cursor), oldest
/// first, narrowed by any of the filters. Every filter set must match.
public struct AuditQuery: Sendable, Hashable {
    public var afterSequence: Int64
    public var limit: Int
    public var subject: String?
    public var clientID: String?
    public var role: String?
    public var event: String?
    /// Entries at or after this time.
    public var since: Date?
    /// Entries strictly before this time.
    public var until: Date?

    public init(afterSequence: Int64 = 0, limit: Int = 100, subject: String? = nil, clientID: String? = nil, role: String? = nil,
                event: String? = nil, since: Date? = nil, until: Date? = nil) {
        self.afterSequence = afterSequence
        self.limit = limit
        self.subject = subject
        self.clientID = clientID
        self.role = role
        self.event = event
        self.since = since
        self.until = until
    }

    /// Whether `entry` passes the filters (not the cursor or the limit).
    public func matches(_ entry: SealedAuditEntry) -> Bool {
        (subject == nil || entry.subject == subject) && (clientID == nil || entry.clientID == clientID)
            && (role == nil || entry.role == role) && (event == nil || entry.event == event)
            && (since.map { entry.time >= $0 } ?? true) && (until.map { entry.time < $0 } ?? true)
    }
}

/// What one pruning pass removed.
public struct PrunedRecords: Sendable, Hashable {
    /// Issued tokens past their `exp`, with their revocation (a revocation matters only while
    /// the token could still be presented).
    public var issuedTokens: Int
    /// Client-assertion jtis past their expiry.
    public var assertionJTIs: Int

    public init(issuedTokens: Int = 0, assertionJTIs: Int = 0) {
        self.issuedTokens = issuedTokens
        self.assertionJTIs = assertionJTIs
    }
}

/// A storage failure, never to be reported to a client as success.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension Date {
    /// Whole milliseconds since the epoch, as the stores keep times. Rounded to the nearest: a
    /// time that came from whole milliseconds (an audit entry's, a key's) must come back as the
    /// same number, and from 2039 on `Date(ms / 1000)` lands just below it, so rounding down would
    /// store a millisecond less than was hashed or authenticated. Clamped rather than converted
    /// blindly: a Double that does not fit an Int64 would trap the process, and a date that far
    /// out is the end of time for every comparison the stores make.
    public var millisecondsSince1970: Int64 {
        let milliseconds = (timeIntervalSince1970 * 1000).rounded()
        if let exact = Int64(exactly: milliseconds) { return exact }
        return milliseconds < 0 ? Int64.min : Int64.max
    }
}
