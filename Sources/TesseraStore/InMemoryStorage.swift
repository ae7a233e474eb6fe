import Foundation

/// A store that keeps everything in memory: for tests, and for tools that need no durability.
/// It runs the same conformance suite as the persistent backends.
public actor InMemoryStorage: TesseraStorage, SigningKeyStore, ActivationStore, NotificationOutbox {
    private var entries: [SealedAuditEntry] = []
    private var tokens: [String: IssuedTokenRecord] = [:]
    private var signingKeySet = SigningKeySnapshot(version: 0, records: [])
    private let replay = InMemoryAssertionReplayStore()
    private var requests: [String: ActivationRequestRecord] = [:]
    private var activationRecords: [String: ActivationRecord] = [:]
    private var outbox: [String: StoredNotification] = [:]
    private var onCallCache: [String: OnCallCacheEntry] = [:]
    private var datedEntryRecords: [String: DatedEntryRecord] = [:]

    private struct StoredNotification {
        var notification: OutboxNotification
        var state: NotificationState = .pending
        var claimant: String?
        var leaseUntil: Date?
        var deliveredAt: Date?
    }

    public init() {}

    public func appendAudit(seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) throws -> [SealedAuditEntry] {
        // No suspension point between reading the head and appending: the actor makes it atomic.
        let sealed = try seal(entries.last?.head)
        try checkNew(sealed)
        let counted = try ActivationTokenCount.counted(sealed, current: activationRecords)
        write(sealed)
        for activation in counted { activationRecords[activation.id] = activation }
        return sealed
    }

    /// Refuses a group that repeats a token's jti or an opened activation's id.
    private func checkNew(_ sealed: [SealedAuditEntry]) throws {
        let jtis = sealed.compactMap(\.issuedToken?.jwtID)
        if let repeated = jtis.first(where: { tokens[$0] != nil }) ?? (Set(jtis).count < jtis.count ? jtis.first : nil) {
            throw StoreError("token \(repeated) was already recorded")
        }
        let opened = sealed.compactMap(\.openedActivation?.id)
        if let repeated = opened.first(where: { activationRecords[$0] != nil }) ?? (Set(opened).count < opened.count ? opened.first : nil) {
            throw StoreError("activation \(repeated) was already recorded")
        }
    }

    private func write(_ sealed: [SealedAuditEntry]) {
        entries.append(contentsOf: sealed)
        for token in sealed.compactMap(\.issuedToken) { tokens[token.jwtID] = token }
        for activation in sealed.compactMap(\.openedActivation) { activationRecords[activation.id] = activation }
        for notification in sealed.flatMap(\.notifications) { outbox[notification.id] = StoredNotification(notification: notification) }
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

    // MARK: ActivationStore

    public func activationRequest(id: String) -> ActivationRequestRecord? { requests[id] }

    public func activationRequests(matching query: ActivationRequestQuery) -> [ActivationRequestRecord] {
        Array(requests.values.filter(query.matches).sorted(by: Self.creationOrder).prefix(query.limit))
    }

    public func activation(id: String) -> ActivationRecord? { activationRecords[id] }

    public func activations(matching query: ActivationQuery) -> [ActivationRecord] {
        Array(activationRecords.values.filter(query.matches).sorted(by: Self.creationOrder).prefix(query.limit))
    }

    private static func creationOrder(_ first: some ActivationOrdered, _ second: some ActivationOrdered) -> Bool {
        let (a, b) = (first.createdAt.millisecondsSince1970, second.createdAt.millisecondsSince1970)
        return a < b || (a == b && first.id < second.id)
    }

    /// No suspension point between the version checks and the writes: the actor makes the
    /// whole change one compare-and-swap.
    public func commit(_ change: ActivationChange,
                       seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) throws -> [SealedAuditEntry]? {
        for request in change.requests where (requests[request.id]?.version ?? 0) != request.version - 1 { return nil }
        for activation in change.activations where (activationRecords[activation.id]?.version ?? 0) != activation.version - 1 { return nil }
        for entry in change.datedEntries where (datedEntryRecords[entry.id]?.version ?? 0) != entry.version - 1 { return nil }
        if let repeated = change.notifications.first(where: { outbox[$0.id] != nil }) {
            throw StoreError("notification \(repeated.id) was already recorded")
        }
        let sealed = try seal(entries.last?.head)
        try checkNew(sealed)
        write(sealed)
        for request in change.requests { requests[request.id] = request }
        for activation in change.activations { activationRecords[activation.id] = activation }
        for entry in change.datedEntries { datedEntryRecords[entry.id] = entry }
        for notification in change.notifications { outbox[notification.id] = StoredNotification(notification: notification) }
        for id in change.revokeTokensOf {
            for (jti, token) in tokens where token.activationID == id && token.revokedAt == nil && token.expiresAt > change.time {
                tokens[jti]?.revokedAt = change.time
            }
        }
        return sealed
    }

    // MARK: NotificationOutbox

    public func claimNotifications(now: Date, claimant: String, leaseUntil: Date, limit: Int) -> [OutboxNotification] {
        let due = outbox.values.filter { stored in
            stored.state == .pending && stored.notification.dueAt <= now && (stored.leaseUntil.map { $0 <= now } ?? true)
        }
        let claimed = due.map(\.notification).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.prefix(limit)
        for notification in claimed {
            outbox[notification.id]?.claimant = claimant
            outbox[notification.id]?.leaseUntil = leaseUntil
        }
        return Array(claimed)
    }

    public func finishNotification(id: String, claimant: String, outcome: NotificationDeliveryOutcome) -> Bool {
        guard var stored = outbox[id], stored.claimant == claimant, stored.state == .pending else { return false }
        stored.claimant = nil
        stored.leaseUntil = nil
        switch outcome {
        case .delivered(let time):
            stored.state = .delivered
            stored.deliveredAt = time
            stored.notification.attempts += 1
        case .retry(let time, let attempts, let error):
            stored.notification.dueAt = time
            stored.notification.attempts = attempts
            stored.notification.lastError = error
        case .failed(let attempts, let error):
            stored.state = .failed
            stored.notification.attempts = attempts
            stored.notification.lastError = error
        }
        outbox[id] = stored
        return true
    }

    public func notifications(in state: NotificationState, limit: Int) -> [OutboxNotification] {
        Array(outbox.values.filter { $0.state == state }.map(\.notification).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
            .prefix(limit))
    }

    // MARK: DatedEntryStore

    public func datedEntry(id: String) -> DatedEntryRecord? { datedEntryRecords[id] }

    public func datedEntries(kind: DatedEntryRecord.Kind, state: DatedEntryRecord.State?) -> [DatedEntryRecord] {
        datedEntryRecords.values.filter { $0.kind == kind && (state == nil || $0.state == state) }.inStoreOrder()
    }

    public func datedEntriesRevision(kind: DatedEntryRecord.Kind) -> Int64 {
        datedEntryRecords.values.reduce(0) { $0 + ($1.kind == kind ? $1.version : 0) }
    }

    // MARK: OnCallCacheStore

    public func onCallCacheEntry(source: String) -> OnCallCacheEntry? { onCallCache[source] }

    public func onCallSyncTimes() -> [OnCallSyncTime] {
        onCallCache.values.map { OnCallSyncTime(source: $0.source, syncedAt: $0.syncedAt) }
            .sorted { $0.source.utf8.lexicographicallyPrecedes($1.source.utf8) }
    }

    /// No suspension point between the comparison and the write: the actor makes it a
    /// compare-and-swap. Times compare to the millisecond, as the persistent backends keep them.
    public func writeOnCallCacheEntry(_ entry: OnCallCacheEntry) -> Bool {
        if let stored = onCallCache[entry.source], stored.syncedAt.millisecondsSince1970 >= entry.syncedAt.millisecondsSince1970 {
            return false
        }
        onCallCache[entry.source] = entry
        return true
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
        let cutoff = now.addingTimeInterval(-OutboxNotification.deliveredRetention)
        outbox = outbox.filter { $0.value.state != .delivered || ($0.value.deliveredAt ?? now) > cutoff }
        return PrunedRecords(issuedTokens: expired.count, assertionJTIs: await replay.prune(now: now))
    }

    public func close() {}

    /// Replaces an entry's stored body, to test that verification catches tampering.
    public func tamper(sequence: Int64, body: String) {
        guard let index = entries.firstIndex(where: { $0.sequence == sequence }) else { return }
        let old = entries[index]
        entries[index] = SealedAuditEntry(sequence: old.sequence, time: old.time, event: old.event, subject: old.subject,
                                          clientID: old.clientID, role: old.role, outcome: old.outcome, body: body, hash: old.hash,
                                          issuedToken: old.issuedToken, openedActivation: old.openedActivation,
                                          notifications: old.notifications)
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
