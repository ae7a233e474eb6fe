import Foundation

/// A store that keeps everything in memory: for tests, and for tools that need no durability.
/// It runs the same conformance suite as the persistent backends.
public actor InMemoryStorage: TesseraStorage, SigningKeyStore {
    private var entries: [SealedAuditEntry] = []
    private var tokens: [String: IssuedTokenRecord] = [:]
    private var signingKeySet = SigningKeySnapshot(version: 0, records: [])
    private let replay = InMemoryAssertionReplayStore()

    public init() {}

    public func appendAudit(seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) throws -> [SealedAuditEntry] {
        // No suspension point between reading the head and appending: the actor makes it atomic.
        let sealed = try seal(entries.last?.head)
        let jtis = sealed.compactMap(\.issuedToken?.jwtID)
        if let repeated = jtis.first(where: { tokens[$0] != nil }) ?? (Set(jtis).count < jtis.count ? jtis.first : nil) {
            throw StoreError("token \(repeated) was already recorded")
        }
        entries.append(contentsOf: sealed)
        for token in sealed.compactMap(\.issuedToken) { tokens[token.jwtID] = token }
        return sealed
    }

    public func auditEntries(matching query: AuditQuery) -> [SealedAuditEntry] {
        Array(entries.lazy.filter { $0.sequence > query.afterSequence && query.matches($0) }.prefix(query.limit))
    }

    public func auditHead() -> AuditChainHead? { entries.last?.head }

    public func issuedToken(jwtID: String) -> IssuedTokenRecord? { tokens[jwtID] }

    public func revokeToken(jwtID: String, clientID: String, at time: Date) -> RevocationOutcome {
        guard var token = tokens[jwtID] else { return .unknown }
        guard token.clientID == clientID else { return .notOwner }
        guard token.revokedAt == nil else { return .alreadyRevoked }
        token.revokedAt = time
        tokens[jwtID] = token
        return .revoked
    }

    public func revokeTokens(signedBy keyID: String, at time: Date) -> Int {
        let affected = tokens.values.filter { $0.keyID == keyID && $0.expiresAt > time && $0.revokedAt == nil }.map(\.jwtID)
        for jti in affected { tokens[jti]?.revokedAt = time }
        return affected.count
    }

    // MARK: SigningKeyStore

    public func signingKeys() -> SigningKeySnapshot { signingKeySet }

    public func signingKeysVersion() -> Int64 { signingKeySet.version }

    /// No suspension point between the version check and the write: the actor makes it a
    /// compare-and-swap. A set repeating a kid is refused, as the database's primary key does.
    public func replaceSigningKeys(_ records: [SigningKeyRecord], mac: [UInt8]?, expectedVersion: Int64) throws -> Bool {
        guard signingKeySet.version == expectedVersion else { return false }
        var kids = Set<String>()
        for record in records where !kids.insert(record.kid).inserted {
            throw StoreError("signing_keys: the set repeats kid \(record.kid)")
        }
        signingKeySet = SigningKeySnapshot(version: expectedVersion + 1, records: records.sorted(by: SigningKeyRecord.snapshotOrder), mac: mac)
        return true
    }

    public func recordFirstUse(jti: String, clientID: String, expiresAt: Date, now: Date) async throws -> Bool {
        await replay.recordFirstUse(jti: jti, clientID: clientID, expiresAt: expiresAt, now: now)
    }

    public func pruneExpired(now: Date) async throws -> PrunedRecords {
        let expired = tokens.values.filter { $0.expiresAt <= now }.map(\.jwtID)
        for jti in expired { tokens[jti] = nil }
        return PrunedRecords(issuedTokens: expired.count, assertionJTIs: await replay.prune(now: now))
    }

    public func close() {}

    /// Replaces an entry's stored body, to test that verification catches tampering.
    public func tamper(sequence: Int64, body: String) {
        guard let index = entries.firstIndex(where: { $0.sequence == sequence }) else { return }
        let old = entries[index]
        entries[index] = SealedAuditEntry(sequence: old.sequence, time: old.time, event: old.event, subject: old.subject,
                                          clientID: old.clientID, role: old.role, outcome: old.outcome, body: body, hash: old.hash,
                                          issuedToken: old.issuedToken)
    }

    /// Replaces the stored key set as someone with write access to a database would, without
    /// going through the compare-and-swap: to test that readers refuse what they did not write.
    public func tamperSigningKeys(_ snapshot: SigningKeySnapshot) {
        signingKeySet = snapshot
    }

    /// Removes an entry, to test that verification catches deletion.
    public func delete(sequence: Int64) {
        entries.removeAll { $0.sequence == sequence }
    }
}
