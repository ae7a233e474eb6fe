import Foundation

/// The audit log's storage: an append-only chain of sealed entries.
public protocol AuditStore: Sendable {
    /// Appends entries in one transaction. `seal` is called inside the transaction with the
    /// current chain head (nil for an empty log) and returns the entries to write, so that two
    /// writers can never build on the same head. `issuedTokens` are recorded in the same
    /// transaction: a token is durable exactly when its audit entry is.
    func appendAudit(issuedTokens: [IssuedTokenRecord],
                     seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry]

    /// Entries with a sequence greater than `sequence`, in order, at most `limit`.
    func auditEntries(after sequence: Int64, limit: Int) async throws -> [SealedAuditEntry]

    /// The last entry's sequence and hash, nil for an empty log.
    func auditHead() async throws -> AuditChainHead?
}

/// Tokens issued, for introspection and revocation.
public protocol IssuedTokenStore: Sendable {
    func issuedToken(jwtID: String) async throws -> IssuedTokenRecord?

    /// Marks the token revoked if `clientID` owns it, atomically: of two concurrent
    /// revocations exactly one answers `.revoked`.
    func revokeToken(jwtID: String, clientID: String, at time: Date) async throws -> RevocationOutcome
}

/// Everything Tessera persists, behind one value: the SQLite file of a single node, or (with
/// the PostgreSQL backend) a database several replicas share.
public protocol TesseraStorage: AuditStore, IssuedTokenStore, AssertionReplayStore {
    func close() async throws
}
