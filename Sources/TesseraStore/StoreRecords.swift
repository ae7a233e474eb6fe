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

    public init(jwtID: String, subject: String, clientID: String, audiences: [String], scope: String?, keyID: String,
                issuedAt: Date, expiresAt: Date, revokedAt: Date? = nil) {
        self.jwtID = jwtID
        self.subject = subject
        self.clientID = clientID
        self.audiences = audiences
        self.scope = scope
        self.keyID = keyID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
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
    public let outcome: String
    /// Canonical JSON of the entry (sorted keys, no spaces), including `sequence`.
    public let body: String
    /// `SHA-256(previous hash || body)`, lowercase hex.
    public let hash: String
    /// The token this entry records the issuing of: stored in the same write, so a token is
    /// durable exactly when its audit entry is.
    public let issuedToken: IssuedTokenRecord?

    public init(sequence: Int64, time: Date, event: String, subject: String?, clientID: String?, outcome: String,
                body: String, hash: String, issuedToken: IssuedTokenRecord? = nil) {
        self.sequence = sequence
        self.time = time
        self.event = event
        self.subject = subject
        self.clientID = clientID
        self.outcome = outcome
        self.body = body
        self.hash = hash
        self.issuedToken = issuedToken
    }

    public var head: AuditChainHead { AuditChainHead(sequence: sequence, hash: hash) }
}

/// A storage failure, never to be reported to a client as success.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
