import Foundation

/// The audit log's storage: an append-only chain of sealed entries.
public protocol AuditStore: Sendable {
    /// Appends entries atomically. `seal` gets the current chain head (nil for an empty log) and
    /// returns the entries to write; if another writer moved the head meanwhile, the store calls
    /// `seal` again on the new head, so two writers never build on the same one. The tokens the
    /// entries carry (`issuedToken`) are recorded in the same write. A token issued under an
    /// activation recorded before (`countsOnActivation`) is written only while that activation
    /// covers it, and counted on it by the same write; when one is not covered, nothing is
    /// written and the error is `ActivationNoLongerCovers`, naming every such token.
    func appendAudit(seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry]

    /// Entries matching `query`, in sequence order, at most `query.limit`.
    func auditEntries(matching query: AuditQuery) async throws -> [SealedAuditEntry]

    /// The last entry's sequence and hash, nil for an empty log.
    func auditHead() async throws -> AuditChainHead?
}

extension AuditStore {
    /// Entries with a sequence greater than `sequence`, in order, at most `limit`.
    public func auditEntries(after sequence: Int64, limit: Int) async throws -> [SealedAuditEntry] {
        try await auditEntries(matching: AuditQuery(afterSequence: sequence, limit: limit))
    }
}

/// Tokens issued, for introspection and revocation.
public protocol IssuedTokenStore: Sendable {
    func issuedToken(jwtID: String) async throws -> IssuedTokenRecord?

    /// Marks the token revoked if `clientID` owns it, atomically: of two concurrent
    /// revocations exactly one answers `.revoked`.
    func revokeToken(jwtID: String, clientID: String, at time: Date) async throws -> RevocationOutcome

    /// Revokes every token signed by `keyID` that has not expired at `time` and is not revoked yet, in one
    /// statement; returns how many it revoked. Used when a signing key is revoked for compromise.
    func revokeTokens(signedBy keyID: String, at time: Date) async throws -> Int
}

/// Everything Tessera persists, behind one value: the SQLite file of a single node, or (with
/// the PostgreSQL backend) a database several replicas share.
///
/// Each feature keeps its state through a protocol of its own added to this list: activation
/// requests, activations and the notification outbox (the approval workflow), the cache of synced
/// on-call data (`OnCallCacheStore`), on-call overrides and eligibility assignments made at run
/// time (`DatedEntryStore`). Signing-key states (key
/// rotation shared by replicas) are `SigningKeyStore`, which only the backends replicas can share
/// implement (in memory and PostgreSQL): a single node keeps its keys as files.
public protocol TesseraStorage: AuditStore, IssuedTokenStore, AssertionReplayStore, ActivationStore, NotificationOutbox,
    OnCallCacheStore, DatedEntryStore {
    /// Deletes what can no longer matter at `now`: issued tokens (with their revocations) and
    /// assertion jtis past their expiry, delivered notifications a day old. The audit log,
    /// requests and activations are never pruned.
    func pruneExpired(now: Date) async throws -> PrunedRecords

    func close() async throws
}

/// A persistent store whose schema is versioned by migrations applied when it opens.
public protocol MigratedStorage: TesseraStorage {
    /// The newest schema version applied to the database; a newer Tessera sharing it may have
    /// gone past the versions this build knows.
    func appliedSchemaVersion() async throws -> Int
}
