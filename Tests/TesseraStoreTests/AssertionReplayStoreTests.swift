import Foundation
import Testing
import TesseraStore

@Suite struct InMemoryAssertionReplayStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func refusesSecondUseOfTheSameJTIWhileUnexpired() async throws {
        let store = InMemoryAssertionReplayStore()
        #expect(await store.recordFirstUse(jti: "a", clientID: "c", expiresAt: now + 60, now: now))
        #expect(await !store.recordFirstUse(jti: "a", clientID: "c", expiresAt: now + 60, now: now + 30))
    }

    @Test func scopesJTIsPerClient() async throws {
        let store = InMemoryAssertionReplayStore()
        #expect(await store.recordFirstUse(jti: "a", clientID: "c1", expiresAt: now + 60, now: now))
        #expect(await store.recordFirstUse(jti: "a", clientID: "c2", expiresAt: now + 60, now: now))
    }

    @Test func forgetsExpiredEntries() async throws {
        let store = InMemoryAssertionReplayStore(pruneInterval: 0)
        #expect(await store.recordFirstUse(jti: "a", clientID: "c", expiresAt: now + 60, now: now))
        #expect(await store.recordFirstUse(jti: "b", clientID: "c", expiresAt: now + 600, now: now + 61))
        #expect(await store.count == 1)
    }

    @Test func concurrentUsesOfOneJTIAdmitExactlyOne() async throws {
        let store = InMemoryAssertionReplayStore()
        let now = self.now
        let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 {
                group.addTask { await store.recordFirstUse(jti: "same", clientID: "c", expiresAt: now + 60, now: now) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 1)
    }
}
