import Foundation
import TesseraStore

/// The behaviour every `TesseraStorage` backend must have. Each check throws a
/// `ConformanceFailure` saying what went wrong; each backend's test target runs them all
/// against a fresh store (see dex's `storage/conformance`).
public enum StoreConformance {
    public struct Check: Sendable, CustomStringConvertible {
        public let name: String
        public let run: @Sendable (any TesseraStorage) async throws -> Void
        public var description: String { name }
    }

    public struct ConformanceFailure: Error, CustomStringConvertible {
        public let description: String
    }

    public static let checks: [Check] = [
        Check(name: "an empty log has no head", run: emptyLogHasNoHead),
        Check(name: "appends are read back in order", run: appendsAreReadBackInOrder),
        Check(name: "a failed seal writes nothing", run: failedSealWritesNothing),
        Check(name: "a group that cannot be written entirely is not written at all", run: groupsAreAtomic),
        Check(name: "concurrent appends form one chain", run: concurrentAppendsFormOneChain),
        Check(name: "issued tokens are recorded with their audit entry", run: issuedTokensAreRecorded),
        Check(name: "assertion jtis are accepted once until they expire", run: assertionJTIsAreAcceptedOnce),
        Check(name: "tokens are revoked once, by their client only", run: tokensAreRevokedOnceByTheirClient),
        Check(name: "audit queries filter by subject, client, role, event and time", run: auditQueriesFilter),
        Check(name: "pruning removes expired tokens and jtis only", run: pruningRemovesExpiredRecordsOnly),
        Check(name: "revoking a key's tokens revokes its live, unrevoked tokens only", run: revokesTheLiveTokensOfOneKey),
    ] + activationChecks + onCallCacheChecks + datedEntryChecks

    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A stand-in for the real chain: each entry's "hash" names its predecessor, so a broken
    /// head hand-over shows up as a mismatch.
    static func entries(_ count: Int, after head: AuditChainHead?, tag: String = "e", token: IssuedTokenRecord? = nil) -> [SealedAuditEntry] {
        var sequence = head?.sequence ?? 0
        var previous = head?.hash ?? "genesis"
        return (0..<count).map { index in
            sequence += 1
            let hash = "\(previous)>\(sequence)"
            defer { previous = hash }
            return SealedAuditEntry(sequence: sequence, time: now.addingTimeInterval(TimeInterval(index)), event: "test.\(tag)",
                                    subject: "alice", clientID: "cli", outcome: "success",
                                    body: #"{"sequence":\#(sequence),"tag":"\#(tag)"}"#, hash: hash,
                                    issuedToken: index == 0 ? token : nil)
        }
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ConformanceFailure(description: message()) }
    }

    static func emptyLogHasNoHead(_ store: any TesseraStorage) async throws {
        try expect(try await store.auditHead() == nil, "a new store has a chain head")
        try expect(try await store.auditEntries(after: 0, limit: 10).isEmpty, "a new store has entries")
    }

    static func appendsAreReadBackInOrder(_ store: any TesseraStorage) async throws {
        let first = try await store.appendAudit { head in entries(3, after: head) }
        let second = try await store.appendAudit { head in entries(2, after: head) }
        let all = try await store.auditEntries(after: 0, limit: 100)
        try expect(all == first + second, "entries read back differ from those appended: \(all.map(\.sequence))")
        try expect(all.map(\.sequence) == [1, 2, 3, 4, 5], "sequences are \(all.map(\.sequence))")
        try expect(try await store.auditHead() == second.last?.head, "the head is not the last entry")
        let page = try await store.auditEntries(after: 2, limit: 2)
        try expect(page.map(\.sequence) == [3, 4], "paging after 2 with limit 2 gave \(page.map(\.sequence))")
        try expect(all[0].time == now, "the time did not round-trip: \(all[0].time)")
    }

    static func failedSealWritesNothing(_ store: any TesseraStorage) async throws {
        _ = try await store.appendAudit { head in entries(1, after: head) }
        struct Refused: Error {}
        do {
            _ = try await store.appendAudit { _ in throw Refused() }
            throw ConformanceFailure(description: "a throwing seal did not fail the append")
        } catch is Refused {}
        try expect(try await store.auditEntries(after: 0, limit: 10).count == 1, "a failed append left entries behind")
    }

    static func groupsAreAtomic(_ store: any TesseraStorage) async throws {
        let first = IssuedTokenRecord(jwtID: "taken", subject: "s", clientID: "c", audiences: ["a"], scope: nil, keyID: "k",
                                      issuedAt: now, expiresAt: now + 60)
        _ = try await store.appendAudit { head in entries(1, after: head, token: first) }
        // The group's second entry repeats a jti: the store must refuse the whole group.
        let fresh = IssuedTokenRecord(jwtID: "fresh", subject: "s", clientID: "c", audiences: ["a"], scope: nil, keyID: "k",
                                      issuedAt: now, expiresAt: now + 60)
        do {
            _ = try await store.appendAudit { head in
                entries(1, after: head, token: fresh) + entries(1, after: AuditChainHead(sequence: (head?.sequence ?? 0) + 1, hash: "x"), token: first)
            }
            throw ConformanceFailure(description: "a group repeating an issued jti was written")
        } catch is ConformanceFailure {
            throw ConformanceFailure(description: "a group repeating an issued jti was written")
        } catch {}
        try expect(try await store.auditEntries(after: 0, limit: 10).count == 1, "half of a refused group was written")
        try expect(try await store.issuedToken(jwtID: "fresh") == nil, "a refused group's token was recorded")
        // The log goes on from where it was.
        let next = try await store.appendAudit { head in entries(1, after: head) }
        try expect(next.first?.sequence == 2, "after a refused group the next entry is \(String(describing: next.first?.sequence))")
    }

    static func concurrentAppendsFormOneChain(_ store: any TesseraStorage) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<16 {
                group.addTask {
                    for _ in 0..<5 {
                        _ = try await store.appendAudit { head in entries(2, after: head, tag: "w\(writer)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let all = try await store.auditEntries(after: 0, limit: 1000)
        try expect(all.map(\.sequence) == Array(1...160), "concurrent appends gave sequences \(all.map(\.sequence).prefix(20))...")
        var previous = "genesis"
        for entry in all {
            try expect(entry.hash == "\(previous)>\(entry.sequence)", "entry \(entry.sequence) was sealed on a stale head")
            previous = entry.hash
        }
    }

    static func issuedTokensAreRecorded(_ store: any TesseraStorage) async throws {
        let token = IssuedTokenRecord(jwtID: "jti-1", subject: "alice", clientID: "cli", audiences: ["https://a", "https://b"],
                                      scope: "read write", keyID: "kid-1", issuedAt: now, expiresAt: now + 300)
        _ = try await store.appendAudit { head in entries(1, after: head, token: token) }
        try expect(try await store.issuedToken(jwtID: "jti-1") == token, "the issued token did not round-trip")
        try expect(try await store.issuedToken(jwtID: "unknown") == nil, "an unknown jti was found")
    }

    static func assertionJTIsAreAcceptedOnce(_ store: any TesseraStorage) async throws {
        try expect(try await store.recordFirstUse(jti: "a", clientID: "c", expiresAt: now + 60, now: now), "a first use was refused")
        try expect(!(try await store.recordFirstUse(jti: "a", clientID: "c", expiresAt: now + 60, now: now + 30)), "a replay was accepted")
        try expect(try await store.recordFirstUse(jti: "a", clientID: "other", expiresAt: now + 60, now: now), "jtis are not per client")
        try expect(try await store.recordFirstUse(jti: "a", clientID: "c", expiresAt: now + 600, now: now + 61),
                   "an expired jti was not forgotten")
        let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask { try await store.recordFirstUse(jti: "race", clientID: "c", expiresAt: now + 60, now: now) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try expect(admitted == 1, "\(admitted) concurrent uses of one jti were admitted")
    }

    static func tokensAreRevokedOnceByTheirClient(_ store: any TesseraStorage) async throws {
        let token = IssuedTokenRecord(jwtID: "to-revoke", subject: "alice", clientID: "cli", audiences: ["https://a"],
                                      scope: nil, keyID: "kid", issuedAt: now, expiresAt: now + 300)
        _ = try await store.appendAudit { head in entries(1, after: head, token: token) }
        try expect(try await store.revokeToken(jwtID: "to-revoke", clientID: "other", at: now) == .notOwner,
                   "another client revoked the token")
        try expect(try await store.issuedToken(jwtID: "to-revoke")?.revokedAt == nil, "a refused revocation took effect")
        try expect(try await store.revokeToken(jwtID: "nope", clientID: "cli", at: now) == .unknown, "an unknown jti was revoked")
        let outcomes = try await withThrowingTaskGroup(of: RevocationOutcome.self) { group in
            for _ in 0..<10 {
                group.addTask { try await store.revokeToken(jwtID: "to-revoke", clientID: "cli", at: now + 1) }
            }
            return try await group.reduce(into: [RevocationOutcome]()) { $0.append($1) }
        }
        try expect(outcomes.filter { $0 == .revoked }.count == 1, "concurrent revocations: \(outcomes)")
        try expect(outcomes.filter { $0 == .alreadyRevoked }.count == 9, "concurrent revocations: \(outcomes)")
        try expect(try await store.issuedToken(jwtID: "to-revoke")?.revokedAt == now + 1, "the revocation time did not round-trip")
    }

    static func auditQueriesFilter(_ store: any TesseraStorage) async throws {
        let people = ["alice", "bob", "alice", "carol", "alice", "bob"]
        _ = try await store.appendAudit { head in
            var sequence = head?.sequence ?? 0
            return people.enumerated().map { index, person in
                sequence += 1
                return SealedAuditEntry(sequence: sequence, time: now + TimeInterval(index * 10), event: index.isMultiple(of: 2) ? "token.issued" : "token.denied",
                                        subject: person, clientID: index < 3 ? "cli" : "web", role: index == 4 ? "db-admin" : nil,
                                        outcome: "success", body: #"{"sequence":\#(sequence)}"#, hash: "h\(sequence)")
            }
        }
        func sequences(_ query: AuditQuery) async throws -> [Int64] {
            try await store.auditEntries(matching: query).map(\.sequence)
        }
        try expect(try await sequences(AuditQuery(subject: "alice")) == [1, 3, 5], "subject filter")
        try expect(try await sequences(AuditQuery(subject: "alice", event: "token.issued")) == [1, 3, 5], "subject and event filter")
        try expect(try await sequences(AuditQuery(event: "token.denied")) == [2, 4, 6], "event filter")
        try expect(try await sequences(AuditQuery(clientID: "web")) == [4, 5, 6], "client filter")
        try expect(try await sequences(AuditQuery(role: "db-admin")) == [5], "role filter")
        try expect(try await sequences(AuditQuery(since: now + 20, until: now + 40)) == [3, 4], "time range (since inclusive, until exclusive)")
        try expect(try await sequences(AuditQuery(afterSequence: 1, limit: 1, subject: "alice")) == [3], "paging within a filter")
        try expect(try await store.auditEntries(matching: AuditQuery(role: "db-admin")).first?.role == "db-admin", "the role did not round-trip")
    }

    static func pruningRemovesExpiredRecordsOnly(_ store: any TesseraStorage) async throws {
        func token(_ jti: String, expiresIn seconds: TimeInterval) -> IssuedTokenRecord {
            IssuedTokenRecord(jwtID: jti, subject: "s", clientID: "c", audiences: ["a"], scope: nil, keyID: "k", issuedAt: now,
                              expiresAt: now + seconds)
        }
        let short = token("short", expiresIn: 60), long = token("long", expiresIn: 600)
        _ = try await store.appendAudit { head in entries(1, after: head, token: short) }
        _ = try await store.appendAudit { head in entries(1, after: head, token: long) }
        _ = try await store.revokeToken(jwtID: "short", clientID: "c", at: now + 1)
        _ = try await store.recordFirstUse(jti: "old", clientID: "c", expiresAt: now + 60, now: now)
        _ = try await store.recordFirstUse(jti: "young", clientID: "c", expiresAt: now + 600, now: now)
        let pruned = try await store.pruneExpired(now: now + 120)
        try expect(pruned == PrunedRecords(issuedTokens: 1, assertionJTIs: 1), "pruning at +120 s removed \(pruned)")
        try expect(try await store.issuedToken(jwtID: "short") == nil, "an expired token was kept")
        try expect(try await store.issuedToken(jwtID: "long") != nil, "a live token was pruned")
        try expect(!(try await store.recordFirstUse(jti: "young", clientID: "c", expiresAt: now + 600, now: now + 120)),
                   "a live assertion jti was pruned")
        try expect(try await store.auditEntries(after: 0, limit: 10).count == 2, "pruning touched the audit log")
    }

    static func revokesTheLiveTokensOfOneKey(_ store: any TesseraStorage) async throws {
        func token(_ jti: String, kid: String, expiresIn seconds: TimeInterval) -> IssuedTokenRecord {
            IssuedTokenRecord(jwtID: jti, subject: "s", clientID: "c", audiences: ["a"], scope: nil, keyID: kid, issuedAt: now,
                              expiresAt: now + seconds)
        }
        let tokens = [
            token("live-1", kid: "leaked", expiresIn: 300), token("live-2", kid: "leaked", expiresIn: 600),
            token("expired", kid: "leaked", expiresIn: 60), token("ends-now", kid: "leaked", expiresIn: 100),
            token("revoked-before", kid: "leaked", expiresIn: 300), token("other-key", kid: "safe", expiresIn: 300),
            token("prefix-key", kid: "leaked-2", expiresIn: 300),
        ]
        for token in tokens {
            _ = try await store.appendAudit { head in entries(1, after: head, token: token) }
        }
        try expect(try await store.revokeToken(jwtID: "revoked-before", clientID: "c", at: now + 10) == .revoked, "setting up a revoked token")
        let revokedAt = now + 100
        let count = try await store.revokeTokens(signedBy: "leaked", at: revokedAt)
        try expect(count == 2, "revoking kid leaked at +100 s revoked \(count) tokens, not the 2 live ones")
        for jti in ["live-1", "live-2"] {
            try expect(try await store.issuedToken(jwtID: jti)?.revokedAt == revokedAt, "\(jti) was not revoked at the given time")
        }
        for jti in ["expired", "ends-now", "other-key", "prefix-key"] {
            try expect(try await store.issuedToken(jwtID: jti)?.revokedAt == nil, "\(jti) was revoked")
        }
        try expect(try await store.issuedToken(jwtID: "revoked-before")?.revokedAt == now + 10, "an earlier revocation's time was overwritten")
        try expect(try await store.revokeTokens(signedBy: "leaked", at: revokedAt + 1) == 0, "revoking again revoked tokens again")
        try expect(try await store.revokeToken(jwtID: "live-1", clientID: "c", at: now + 200) == .alreadyRevoked,
                   "a token revoked with its key is not seen as revoked")
        try expect(try await store.revokeTokens(signedBy: "unknown", at: revokedAt) == 0, "an unknown kid revoked tokens")
    }

    // MARK: Signing keys

    /// A check of the signing-key store, which only the backends replicas share implement (in
    /// memory and PostgreSQL); each gets a fresh, empty store.
    public struct SigningKeyCheck: Sendable, CustomStringConvertible {
        public let name: String
        public let run: @Sendable (any SigningKeyStore) async throws -> Void
        public var description: String { name }
    }

    public static let signingKeyChecks: [SigningKeyCheck] = [
        SigningKeyCheck(name: "an empty key store is at version 0 with no keys", run: emptyKeyStoreIsAtVersionZero),
        SigningKeyCheck(name: "a replaced key set reads back equal, ordered, at the next version", run: replacedKeySetReadsBackEqual),
        SigningKeyCheck(name: "a replacement at a stale version changes nothing", run: staleReplacementChangesNothing),
        SigningKeyCheck(name: "of concurrent replacements at one version exactly one succeeds", run: concurrentReplacementsHaveOneWinner),
        SigningKeyCheck(name: "a key set repeating a kid is refused", run: repeatedKidIsRefused),
    ]

    /// A date the stores keep exactly: a whole number of milliseconds.
    static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
    }

    /// Keys in every state, with every optional set on one and nil on another, material with zero
    /// bytes, and two keys created at the same millisecond given out of kid order.
    public static func sampleSigningKeys(tag: String = "") -> [SigningKeyRecord] {
        let created = date(milliseconds: 1_800_000_000_123), older = date(milliseconds: 1_799_913_600_116)
        return [
            SigningKeyRecord(kid: "k-next\(tag)", algorithm: "ES256", state: "next", createdAt: date(milliseconds: 1_800_007_200_623),
                             activatesAt: date(milliseconds: 1_800_003_600_999), material: [0x54, 0x4B, 0x45, 0x31, 0, 0, 0xFF, 0, 1]),
            SigningKeyRecord(kid: "k-current\(tag)", algorithm: "EdDSA", state: "current", createdAt: created,
                             activatesAt: date(milliseconds: 1_800_000_000_124), material: [0, 0, 0]),
            SigningKeyRecord(kid: "k-b-previous\(tag)", algorithm: "RS256", state: "previous", createdAt: older,
                             retiredAt: date(milliseconds: 1_799_999_999_123), removeAfter: date(milliseconds: 1_800_003_600_122),
                             material: Array(0...255).map(UInt8.init)),
            SigningKeyRecord(kid: "k-a-revoked\(tag)", algorithm: "PS256", state: "revoked", createdAt: older,
                             activatesAt: date(milliseconds: 1_799_914_000_123), retiredAt: date(milliseconds: 1_799_950_000_001),
                             removeAfter: date(milliseconds: 1_800_000_010_999), revokedAt: date(milliseconds: 1_799_950_000_001),
                             revocationReason: "compromised: leaked in a backup \u{2014} ticket SEC-1", material: []),
        ]
    }

    /// `records` as a snapshot holds them: by creation, then kid.
    static func snapshotOrdered(_ records: [SigningKeyRecord]) -> [SigningKeyRecord] {
        records.sorted { $0.createdAt != $1.createdAt ? $0.createdAt < $1.createdAt : $0.kid < $1.kid }
    }

    static func emptyKeyStoreIsAtVersionZero(_ store: any SigningKeyStore) async throws {
        let snapshot = try await store.signingKeys()
        try expect(snapshot == SigningKeySnapshot(version: 0, records: []), "a new key store holds \(snapshot.records.count) keys at version \(snapshot.version)")
        try expect(try await store.signingKeysVersion() == 0, "a new key store is not at version 0")
    }

    static func replacedKeySetReadsBackEqual(_ store: any SigningKeyStore) async throws {
        let records = sampleSigningKeys()
        let mac = Array(0..<32).map { UInt8($0 * 7 % 256) }
        try expect(try await store.replaceSigningKeys(records, mac: mac, expectedVersion: 0), "a replacement at version 0 was refused")
        let snapshot = try await store.signingKeys()
        try expect(snapshot.version == 1, "after one replacement the version is \(snapshot.version)")
        try expect(snapshot.mac == mac, "the set's MAC did not round-trip: \(snapshot.mac?.count ?? 0) bytes read")
        try expect(try await store.signingKeysVersion() == 1, "signingKeysVersion disagrees with the snapshot")
        try expect(snapshot.records.map(\.kid) == ["k-a-revoked", "k-b-previous", "k-current", "k-next"],
                   "keys read back in the order \(snapshot.records.map(\.kid))")
        let expected = snapshotOrdered(records)
        for (read, written) in zip(snapshot.records, expected) where read != written {
            throw ConformanceFailure(description: "key \(written.kid) did not round-trip: read \(describe(read)), wrote \(describe(written))")
        }
        try expect(snapshot.records == expected, "the key set did not round-trip")
        // A second replacement replaces: keys absent from the new set are gone.
        let smaller = [records[1]]
        try expect(try await store.replaceSigningKeys(smaller, mac: nil, expectedVersion: 1), "a replacement at version 1 was refused")
        try expect(try await store.signingKeys() == SigningKeySnapshot(version: 2, records: smaller), "the second replacement did not replace (records and MAC)")
        try expect(try await store.replaceSigningKeys([], mac: nil, expectedVersion: 2), "emptying the set was refused")
        try expect(try await store.signingKeys() == SigningKeySnapshot(version: 3, records: []), "emptying the set left keys")
        try expect(try await store.signingKeysVersion() == 3, "signingKeysVersion disagrees after emptying")
    }

    /// Every field, but never the material's bytes (a sealed private key).
    static func describe(_ record: SigningKeyRecord) -> String {
        "\(record.kid) \(record.algorithm) \(record.state) created \(record.createdAt.timeIntervalSince1970) activates "
            + "\(String(describing: record.activatesAt?.timeIntervalSince1970)) retired \(String(describing: record.retiredAt?.timeIntervalSince1970)) "
            + "removeAfter \(String(describing: record.removeAfter?.timeIntervalSince1970)) revoked "
            + "\(String(describing: record.revokedAt?.timeIntervalSince1970)) reason \(String(describing: record.revocationReason)) "
            + "material \(record.material.count) bytes"
    }

    static func staleReplacementChangesNothing(_ store: any SigningKeyStore) async throws {
        let records = sampleSigningKeys()
        try expect(try await store.replaceSigningKeys(records, mac: nil, expectedVersion: 0), "a replacement at version 0 was refused")
        try expect(try await store.replaceSigningKeys(records, mac: nil, expectedVersion: 1), "a replacement at version 1 was refused")
        let before = try await store.signingKeys()
        for stale: Int64 in [0, 1, 3, -1] {
            try expect(!(try await store.replaceSigningKeys(sampleSigningKeys(tag: "-stale"), mac: nil, expectedVersion: stale)),
                       "a replacement expecting version \(stale) succeeded at version 2")
        }
        try expect(try await store.signingKeys() == before, "a refused replacement changed the key set")
        try expect(try await store.signingKeysVersion() == 2, "a refused replacement moved the version")
    }

    static func concurrentReplacementsHaveOneWinner(_ store: any SigningKeyStore) async throws {
        try expect(try await store.replaceSigningKeys(sampleSigningKeys(), mac: nil, expectedVersion: 0), "a replacement at version 0 was refused")
        let winners = try await withThrowingTaskGroup(of: Int?.self) { group in
            for writer in 0..<10 {
                group.addTask {
                    try await store.replaceSigningKeys(sampleSigningKeys(tag: "-w\(writer)"), mac: [UInt8(writer)], expectedVersion: 1) ? writer : nil
                }
            }
            return try await group.reduce(into: [Int]()) { if let writer = $1 { $0.append(writer) } }
        }
        try expect(winners.count == 1, "\(winners.count) of 10 concurrent replacements at one version succeeded")
        let snapshot = try await store.signingKeys()
        try expect(snapshot == SigningKeySnapshot(version: 2, records: snapshotOrdered(sampleSigningKeys(tag: "-w\(winners[0])")),
                                                  mac: [UInt8(winners[0])]),
                   "the key set is not the winner's: \(snapshot.records.map(\.kid)) at version \(snapshot.version)")
        try expect(try await store.signingKeysVersion() == 2, "signingKeysVersion disagrees after the race")
    }

    static func repeatedKidIsRefused(_ store: any SigningKeyStore) async throws {
        let records = sampleSigningKeys()
        var repeated = records
        repeated.append(records[0])
        do {
            _ = try await store.replaceSigningKeys(repeated, mac: nil, expectedVersion: 0)
            throw ConformanceFailure(description: "a key set repeating a kid was written")
        } catch is ConformanceFailure {
            throw ConformanceFailure(description: "a key set repeating a kid was written")
        } catch {}
        try expect(try await store.signingKeys() == SigningKeySnapshot(version: 0, records: []), "a refused key set left changes")
        try expect(try await store.replaceSigningKeys(records, mac: nil, expectedVersion: 0), "after a refused set, a good one was refused")
    }
}
