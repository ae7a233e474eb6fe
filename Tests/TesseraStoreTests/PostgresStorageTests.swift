import Foundation
import Testing
@testable import TesseraStore
import TesseraStoreConformance

/// The PostgreSQL backend, against the server named by `TESSERA_TEST_POSTGRES` (see
/// `PostgresTestServer`): skipped without one, failed without one under `CI=true`.
@Suite("PostgreSQL store", .enabled(if: PostgresTestServer.testsRun, PostgresTestServer.skipReason))
struct PostgresStorageTests {
    @Test("conformance", arguments: StoreConformance.checks)
    func conformance(_ check: StoreConformance.Check) async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            try await closing(try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)) { try await check.run($0) }
        }
    }

    @Test("signing-key conformance", arguments: StoreConformance.signingKeyChecks)
    func signingKeyConformance(_ check: StoreConformance.SigningKeyCheck) async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            try await closing(try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)) { try await check.run($0) }
        }
    }

    /// Two replicas share assignments and overrides: what one adds or removes, the other sees.
    @Test func twoReplicasShareDatedEntries() async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            let first = try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)
            let second = try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)
            try await StoreConformance.datedEntriesAreSharedByReplicas(first, second)
            try await first.close()
            try await second.close()
        }
    }

    /// Two stores on one database stand for two replicas rotating at the same moment, from
    /// several tasks each, all from the version both read: exactly one replacement wins, and
    /// both replicas then read the winner's set at the next version.
    @Test func twoReplicasReplacingSigningKeysAtOnceHaveOneWinner() async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            let replicas = [try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger), try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)]
            #expect(try await replicas[0].replaceSigningKeys(StoreConformance.sampleSigningKeys(), mac: nil, expectedVersion: 0))
            let version = try await replicas[1].signingKeysVersion()
            #expect(version == 1)
            let winners = try await withThrowingTaskGroup(of: String?.self) { group in
                for (replica, store) in replicas.enumerated() {
                    for task in 0..<4 {
                        group.addTask {
                            let tag = "-r\(replica)-t\(task)"
                            return try await store.replaceSigningKeys(StoreConformance.sampleSigningKeys(tag: tag), mac: nil, expectedVersion: version)
                                ? tag : nil
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { if let tag = $1 { $0.append(tag) } }
            }
            #expect(winners.count == 1, "winners: \(winners)")
            let first = try await replicas[0].signingKeys(), second = try await replicas[1].signingKeys()
            #expect(first == second)
            #expect(first.version == 2)
            #expect(first.records.allSatisfy { $0.kid.hasSuffix(winners.first ?? "none") })
            #expect(first.records.count == 4)
            for store in replicas { try await store.close() }
        }
    }

    /// Two replicas polling one paging system write their syncs at once, from several tasks
    /// each, in no particular order: the newest sync is what both read afterwards, and a
    /// replica starting later finds it.
    @Test func twoReplicasCachingOnCallSyncsAtOnceKeepTheNewest() async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            let replicas = [try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger),
                            try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)]
            let base = Date(timeIntervalSince1970: 1_800_000_000)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for sync in [5, 2, 7, 0, 3, 6, 1, 4] {
                    let store = replicas[sync % 2]
                    group.addTask {
                        _ = try await store.writeOnCallCacheEntry(OnCallCacheEntry(source: "pagerduty:payments", data: [UInt8(sync)],
                                                                                   syncedAt: base + TimeInterval(sync)))
                    }
                }
                try await group.waitForAll()
            }
            for store in replicas {
                #expect(try await store.onCallCacheEntry(source: "pagerduty:payments")?.data == [7])
            }
            for store in replicas { try await store.close() }
            let restarted = try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)
            #expect(try await restarted.onCallSyncTimes() == [OnCallSyncTime(source: "pagerduty:payments", syncedAt: base + 7)])
            try await restarted.close()
        }
    }

    /// Revoking a leaked key's tokens through one replica is seen by the other at once.
    @Test func revokingAKeysTokensThroughOneReplicaIsSeenByTheOther() async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            let first = try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger), second = try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)
            _ = try await first.appendAudit { head in Self.entries(3, after: head, tokenID: "signed-by-k") }
            #expect(try await second.revokeTokens(signedBy: "k", at: Date(timeIntervalSince1970: 1_800_000_010)) == 1)
            #expect(try await first.issuedToken(jwtID: "signed-by-k")?.revokedAt == Date(timeIntervalSince1970: 1_800_000_010))
            try await first.close()
            try await second.close()
        }
    }

    /// Two stores on one database stand for two replicas, appending at the same time from
    /// several tasks each. Each keeps the head in memory, so they keep colliding on the
    /// sequence key; the result must still be one chain, every hash built on its predecessor,
    /// with every token recorded.
    @Test func twoReplicasAppendingAtOnceKeepOneChain() async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            let replicas = [try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger), try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)]
            let tasksPerReplica = 4, appendsPerTask = 15
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (replica, store) in replicas.enumerated() {
                    for task in 0..<tasksPerReplica {
                        group.addTask {
                            for round in 0..<appendsPerTask {
                                let jti = "r\(replica)-t\(task)-\(round)"
                                _ = try await store.appendAudit { head in Self.entries(2, after: head, tokenID: jti) }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let total = replicas.count * tasksPerReplica * appendsPerTask * 2
            let all = try await replicas[1].auditEntries(after: 0, limit: total + 10)
            #expect(all.map(\.sequence) == (1...Int64(total)).map { $0 })
            var previous = "genesis"
            for entry in all {
                #expect(entry.hash == "\(previous)>\(entry.sequence)", "entry \(entry.sequence) was sealed on a stale head")
                previous = entry.hash
            }
            #expect(try await replicas[0].issuedToken(jwtID: "r1-t3-14") != nil)
            #expect(try await replicas[1].issuedToken(jwtID: "r0-t0-0") != nil)
            for store in replicas { try await store.close() }
        }
    }

    /// Replicas starting together each migrate at opening; the advisory lock lets one apply
    /// the migrations while the others wait, then find them applied.
    @Test func storesOpeningAtOnceMigrateOnce() async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            let stores = try await withThrowingTaskGroup(of: PostgresStorage.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger) }
                }
                return try await group.reduce(into: [PostgresStorage]()) { $0.append($1) }
            }
            #expect(stores.count == 4)
            let applied = try await PostgresTestServer.integer(url, "SELECT count(*)::BIGINT FROM schema_migrations")
            #expect(applied == PostgresMigrations.migrations.count)
            for store in stores {
                #expect(try await store.appliedSchemaVersion() == PostgresMigrations.latestVersion)
                try await store.close()
            }
        }
    }

    /// Replicas share revocations: no cache stands between a revocation and introspection.
    @Test func aRevocationThroughOneReplicaIsSeenByTheOtherAtOnce() async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            let first = try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger), second = try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let token = IssuedTokenRecord(jwtID: "shared", subject: "alice", clientID: "cli", audiences: ["https://a"], scope: nil,
                                          keyID: "k", issuedAt: now, expiresAt: now + 300)
            _ = try await first.appendAudit { head in
                [SealedAuditEntry(sequence: (head?.sequence ?? 0) + 1, time: now, event: "token.issued", subject: "alice", clientID: "cli",
                                  outcome: "success", body: "{}", hash: "h", issuedToken: token)]
            }
            #expect(try await second.issuedToken(jwtID: "shared")?.revokedAt == nil)
            #expect(try await first.revokeToken(jwtID: "shared", clientID: "cli", at: now + 5) == .revoked)
            #expect(try await second.issuedToken(jwtID: "shared")?.revokedAt == now + 5)
            #expect(try await second.revokeToken(jwtID: "shared", clientID: "cli", at: now + 6) == .alreadyRevoked)
            try await first.close()
            try await second.close()
        }
    }

    /// More rows than one INSERT takes go in several statements of one transaction, on the
    /// first attempt and on the locked retry alike; a refused row refuses the whole group.
    @Test func groupsLargerThanOneStatementAreWrittenWholeOrNotAtAll() async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            let first = try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger), second = try await PostgresStorage.open(url: url, logger: PostgresTestServer.logger)
            let size = PostgresStorage.rowsPerStatement * 2 + 7
            _ = try await first.appendAudit { head in Self.entries(size, after: head, tokenID: "big-1") }
            // `second` caches no head yet, so it reads the real one; then `first` moves it, and
            // `second`'s next group collides and is written by the locked retry.
            _ = try await second.appendAudit { head in Self.entries(1, after: head, tokenID: "small") }
            _ = try await first.appendAudit { head in Self.entries(1, after: head, tokenID: "small-2") }
            _ = try await second.appendAudit { head in Self.entries(size, after: head, tokenID: "big-2") }
            let total = size * 2 + 2
            #expect(try await first.auditEntries(after: 0, limit: total + 10).map(\.sequence) == (1...Int64(total)).map { $0 })
            // A group whose last chunk repeats a recorded jti is refused entirely.
            await #expect(throws: StoreError.self) {
                _ = try await first.appendAudit { head in
                    Self.entries(size - 1, after: head, tokenID: "fresh")
                        + Self.entries(1, after: AuditChainHead(sequence: (head?.sequence ?? 0) + Int64(size - 1), hash: "x"), tokenID: "big-1")
                }
            }
            #expect(try await second.auditHead()?.sequence == Int64(total))
            #expect(try await second.issuedToken(jwtID: "fresh") == nil)
            try await first.close()
            try await second.close()
        }
    }

    @Test func aWrongPasswordFailsOpeningWithTheServersReasonAndNoPassword() async throws {
        try await PostgresTestServer.withFreshDatabase { url in
            var wrong = url
            wrong.password = "not-the-password-\(UUID())"
            do {
                let store = try await PostgresStorage.open(url: wrong, logger: PostgresTestServer.logger)
                try await store.close()
                Issue.record("a wrong password opened the store")
            } catch {
                let message = "\(error)"
                #expect(message.contains("password authentication failed"), "\(message)")
                #expect(!message.contains(wrong.password ?? ""))
            }
        }
    }

    /// A stand-in chain as in the conformance checks: each hash names its predecessor.
    static func entries(_ count: Int, after head: AuditChainHead?, tokenID: String) -> [SealedAuditEntry] {
        var sequence = head?.sequence ?? 0
        var previous = head?.hash ?? "genesis"
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        return (0..<count).map { index in
            sequence += 1
            let hash = "\(previous)>\(sequence)"
            defer { previous = hash }
            let token = index == 0
                ? IssuedTokenRecord(jwtID: tokenID, subject: "s", clientID: "c", audiences: ["a"], scope: nil, keyID: "k",
                                    issuedAt: now, expiresAt: now + 60)
                : nil
            return SealedAuditEntry(sequence: sequence, time: now, event: "test", subject: "s", clientID: "c", outcome: "success",
                                    body: #"{"sequence":\#(sequence)}"#, hash: hash, issuedToken: token)
        }
    }
}

@Suite("PostgreSQL store URL")
struct PostgresStoreURLTests {
    @Test func parsesEveryPart() throws {
        let url = try PostgresStoreURL("postgresql://tessera:s%40cret@db.example.com:6432/issuer?sslmode=verify-full")
        #expect(url.user == "tessera")
        #expect(url.password == "s@cret")
        #expect(url.host == "db.example.com")
        #expect(url.port == 6432)
        #expect(url.database == "issuer")
        #expect(url.tls == .verifyFull)
    }

    @Test func defaultsToPlainTCPOnLoopbackAndVerifiedTLSElsewhere() throws {
        #expect(try PostgresStoreURL("postgres://u:p@127.0.0.1/d").tls == .disable)
        #expect(try PostgresStoreURL("postgres://u:p@[::1]:5432/d").tls == .disable)
        #expect(try PostgresStoreURL("postgres://u:p@db.internal/d").tls == .require)
        #expect(try PostgresStoreURL("postgres://u:p@db.internal/d?sslmode=disable").tls == .disable)
    }

    @Test func takesTheDatabaseNamedLikeTheUserWhenThereIsNone() throws {
        let url = try PostgresStoreURL("postgres://tessera@localhost")
        #expect(url.database == "tessera")
        #expect(url.port == 5432)
    }

    @Test func neverShowsThePassword() throws {
        let url = try PostgresStoreURL("postgres://tessera:hunter2@[::1]:5433/issuer")
        #expect(url.description == "postgres://tessera@[::1]:5433/issuer")
        #expect(StoreLocation.postgres(url).description == "postgres://tessera@[::1]:5433/issuer")
    }

    @Test(arguments: [
        ("mysql://u:hunter2@h/d", "not a postgres://"),
        ("postgres://u:hunter2@/d", "names no host"),
        ("postgres://h/d", "names no user"),
        ("postgres://u:hunter2@h/d?sslmode=allow", "sslmode must be one of"),
        ("postgres://u:hunter2@h/d?timeout=5", "unknown parameter timeout"),
        ("postgres://u:hunter2@h/a/b", "must be a database name"),
    ])
    func refusesWithAClearMessageThatHidesThePassword(_ text: String, _ expected: String) {
        do {
            _ = try PostgresStoreURL(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test func selectsTheStoreByScheme() throws {
        #expect(try StoreLocation(storeURL: nil, dataDirectory: "/d") == .sqlite(directory: "/d"))
        #expect(try StoreLocation(storeURL: "", dataDirectory: "/d") == .sqlite(directory: "/d"))
        #expect(try StoreLocation(storeURL: "POSTGRES://u@h/db", dataDirectory: "/d") == .postgres(try PostgresStoreURL("postgres://u@h/db")))
        #expect(throws: StoreError.self) { try StoreLocation(storeURL: "sqlite:///tmp/x", dataDirectory: "/d") }
        #expect(throws: StoreError.self) { try StoreLocation(storeURL: "/var/lib/tessera", dataDirectory: "/d") }
    }
}
