import Foundation
import Testing
@testable import TesseraStore
import TesseraStoreConformance
import TesseraTestLogging

@Suite("Store conformance")
struct StorageConformanceTests {
    @Test("SQLite", arguments: StoreConformance.checks)
    func sqlite(_ check: StoreConformance.Check) async throws {
        let directory = NSTemporaryDirectory() + "tessera-sqlite-\(UUID())"
        try await closing(try await SQLiteStorage.open(directory: directory, logger: .forCurrentTest())) { try await check.run($0) }
    }

    @Test("in memory", arguments: StoreConformance.checks)
    func inMemory(_ check: StoreConformance.Check) async throws {
        try await check.run(InMemoryStorage())
    }

    @Test("in memory signing keys", arguments: StoreConformance.signingKeyChecks)
    func inMemorySigningKeys(_ check: StoreConformance.SigningKeyCheck) async throws {
        try await check.run(InMemoryStorage())
    }
}

@Suite("SQLite store")
struct SQLiteStorageTests {
    @Test func keepsEverythingAcrossReopening() async throws {
        let directory = NSTemporaryDirectory() + "tessera-sqlite-\(UUID())"
        let first = try await SQLiteStorage.open(directory: directory, logger: .forCurrentTest())
        let token = IssuedTokenRecord(jwtID: "j", subject: "s", clientID: "c", audiences: ["a"], scope: nil, keyID: "k",
                                      issuedAt: Date(timeIntervalSince1970: 1_800_000_000), expiresAt: Date(timeIntervalSince1970: 1_800_000_300))
        let written = try await first.appendAudit { _ in
            [SealedAuditEntry(sequence: 1, time: Date(timeIntervalSince1970: 1_800_000_000), event: "e", subject: nil, clientID: nil,
                              outcome: "success", body: #"{"sequence":1}"#, hash: "h", issuedToken: token)]
        }
        try await first.close()
        // Opening again finds the schema applied and the data there.
        let second = try await SQLiteStorage.open(directory: directory, logger: .forCurrentTest())
        #expect(try await second.auditEntries(after: 0, limit: 10) == written)
        #expect(try await second.issuedToken(jwtID: "j") == token)
        try await second.close()
    }

    /// Two stores on one file stand for two processes: each keeps the chain head in memory, so
    /// each append after the other's finds its head stale, fails on the sequence key, rereads
    /// the head and seals again. The result is one chain.
    @Test func twoProcessesOnOneFileShareDatedEntries() async throws {
        let directory = NSTemporaryDirectory() + "tessera-sqlite-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await SQLiteStorage.open(directory: directory, logger: .forCurrentTest())
        let second = try await SQLiteStorage.open(directory: directory, logger: .forCurrentTest())
        try await StoreConformance.datedEntriesAreSharedByReplicas(first, second)
        try await first.close()
        try await second.close()
    }

    /// The request path's reads (activations, requests) take the reader connection: while the
    /// writer holds a transaction open (as a group's fsync does), they still answer. Through the
    /// writer's gate they would wait until the transaction ends.
    @Test func readsDoNotWaitForAnOpenWriteTransaction() async throws {
        let directory = NSTemporaryDirectory() + "tessera-sqlite-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let storage = try await SQLiteStorage.open(directory: directory, logger: .forCurrentTest())
        let (entered, enteredSignal) = AsyncStream<Void>.makeStream()
        let (released, releaseSignal) = AsyncStream<Void>.makeStream()
        let writer = Task {
            try await storage.transaction { _ in
                enteredSignal.yield()
                for await _ in released {}
            }
        }
        for await _ in entered { break }
        let answered = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                let activation = try? await storage.activation(id: "a")
                let request = try? await storage.activationRequest(id: "r")
                return activation == .some(nil) && request == .some(nil)
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                // Let the writer finish, so reads stuck behind it end too and the test fails
                // instead of hanging.
                releaseSignal.finish()
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        releaseSignal.finish()
        try await writer.value
        #expect(answered, "reads waited for the open write transaction (or failed)")
        try await storage.close()
    }

    @Test func twoWritersOnOneFileKeepOneChain() async throws {
        let directory = NSTemporaryDirectory() + "tessera-sqlite-\(UUID())"
        let first = try await SQLiteStorage.open(directory: directory, logger: .forCurrentTest())
        let second = try await SQLiteStorage.open(directory: directory, logger: .forCurrentTest())
        for round in 0..<5 {
            for store in [first, second] {
                _ = try await store.appendAudit { head in
                    let sequence = (head?.sequence ?? 0) + 1
                    return [SealedAuditEntry(sequence: sequence, time: Date(), event: "round \(round)", subject: nil, clientID: nil,
                                             outcome: "success", body: #"{"sequence":\#(sequence)}"#,
                                             hash: "\(head?.hash ?? "genesis")>\(sequence)")]
                }
            }
        }
        let all = try await first.auditEntries(after: 0, limit: 100)
        #expect(all.map(\.sequence) == Array(1...10))
        var previous = "genesis"
        for entry in all {
            #expect(entry.hash == "\(previous)>\(entry.sequence)")
            previous = entry.hash
        }
        try await first.close()
        try await second.close()
    }

    /// The cache is what a restart during a paging-system outage reads.
    @Test func keepsTheOnCallCacheAcrossReopening() async throws {
        let directory = NSTemporaryDirectory() + "tessera-sqlite-\(UUID())"
        let entry = OnCallCacheEntry(source: "ical:team-feed", data: Array(#"{"shifts":[]}"#.utf8),
                                     syncedAt: Date(timeIntervalSince1970: 1_800_000_000), fingerprint: "etag")
        let first = try await SQLiteStorage.open(directory: directory)
        let written = try await first.writeOnCallCacheEntry(entry)
        try await first.close()
        #expect(written)
        let second = try await SQLiteStorage.open(directory: directory)
        let read = try await second.onCallCacheEntry(source: "ical:team-feed")
        try await second.close()
        #expect(read == entry)
    }

    @Test func forgetsExpiredAssertionJTIs() async throws {
        let store = try await SQLiteStorage.open(directory: NSTemporaryDirectory() + "tessera-sqlite-\(UUID())", logger: .forCurrentTest())
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        for index in 0..<5 {
            #expect(try await store.recordFirstUse(jti: "old-\(index)", clientID: "c", expiresAt: now + 60, now: now))
        }
        #expect(try await store.assertionJTICount() == 5)
        // Past their expiry and the prune interval, the next use removes them.
        let later = now + 60 + SQLiteStorage.assertionPruneInterval
        #expect(try await store.recordFirstUse(jti: "new", clientID: "c", expiresAt: later + 60, now: later))
        #expect(try await store.assertionJTICount() == 1)
        #expect(try await !store.recordFirstUse(jti: "new", clientID: "c", expiresAt: later + 60, now: later + 1))
        try await store.close()
    }

    @Test func twoProcessesOpeningAtOnceMigrateOnce() async throws {
        let directory = NSTemporaryDirectory() + "tessera-sqlite-\(UUID())"
        // Each open's outcome is kept, so a store that did open is closed even when the other
        // failed: a SQLite connection released unclosed stops the whole test process.
        func open() async -> Result<SQLiteStorage, any Error> {
            do { return .success(try await SQLiteStorage.open(directory: directory, logger: .forCurrentTest())) } catch { return .failure(error) }
        }
        async let a = open()
        async let b = open()
        let (first, second) = await (a, b)
        for case .success(let store) in [first, second] { try await store.close() }
        _ = try first.get()
        _ = try second.get()
        // Migrated once and usable.
        let reopened = try await SQLiteStorage.open(directory: directory, logger: .forCurrentTest())
        _ = try await reopened.appendAudit { _ in [] }
        try await reopened.close()
    }
}

/// Runs `body` on `store`, then closes it, also when `body` throws.
func closing<Store: TesseraStorage>(_ store: Store, _ body: (Store) async throws -> Void) async throws {
    do {
        try await body(store)
    } catch {
        try? await store.close()
        throw error
    }
    try await store.close()
}
