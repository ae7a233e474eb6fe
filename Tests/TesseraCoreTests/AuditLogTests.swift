import Foundation
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraStore

@Suite("Audit log")
struct AuditLogTests {
    func event(_ index: Int) -> AuditEvent {
        AuditEvent("test.event", outcome: .success, actor: AuditActor(subject: "alice", clientID: "cli"),
                   target: ["index": .number(Double(index))])
    }

    @Test func chainsEntriesFromTheGenesisHash() async throws {
        let store = InMemoryStorage()
        let log = AuditLog(store: store, timeSource: ManualTimeSource(testNow))
        let first = try await log.record(event(1))
        let second = try await log.record(event(2))
        #expect(first.sequence == 1)
        #expect(second.sequence == 2)
        #expect(first.hash.count == 64)
        #expect(first.hash != second.hash)
        let body = try JSONParser.parseObject(Array(first.body.utf8))
        #expect(body["entry"]?.objectValue?["event"] == "test.event")
        #expect(body["time"] == "2027-01-15T08:00:00.000Z")
        #expect(body["entry"]?.objectValue?["actor"]?.objectValue?["subject"] == "alice")
        #expect(try await AuditLog.verify(store) == .success(second.head))
    }

    @Test func sealsTheSameEntryToTheSameBytes() {
        let one = AuditChain.seal([AuditChain.Prepared(event(1))], after: nil, time: testNow)
        let two = AuditChain.seal([AuditChain.Prepared(event(1))], after: nil, time: testNow)
        #expect(one == two)
        #expect(one[0].body == #"{"entry":{"actor":{"client_id":"cli","subject":"alice"},"event":"test.event","outcome":"success","#
            + #""reasons":[],"target":{"index":1}},"sequence":1,"time":"2027-01-15T08:00:00.000Z"}"#)
    }

    /// The hashes as `hashlib.sha256(previous digest + body)` computes them (Python, not this
    /// code): the group's second entry chains on the first's digest, the first on 32 zero bytes.
    @Test func chainsAGroupToHashesComputedElsewhere() {
        let sealed = AuditChain.seal([AuditChain.Prepared(event(1)), AuditChain.Prepared(event(2))], after: nil, time: testNow)
        #expect(sealed.map(\.hash) == ["0d321acca488fc36090ffcc7b29fe18a2614eafe345e7ed556a4d805d2a79c37",
                                       "cb6607b1f2d057f9f353785bfd6a59b53bf01b130fbfd71acea7c343be3e0c03"])
        // Sealed after the first alone, the second gets the same hash: a group continues from a
        // head exactly as from its own first entry.
        let after = AuditChain.seal([AuditChain.Prepared(event(2))], after: sealed[0].head, time: testNow)
        #expect(after.map(\.hash) == [sealed[1].hash])
    }

    @Test func concurrentRecordsAreGroupedIntoOneValidChain() async throws {
        let store = InMemoryStorage()
        let log = AuditLog(store: store, timeSource: ManualTimeSource(testNow))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { try await log.record(event(index)) }
            }
            try await group.waitForAll()
        }
        guard case .success(let head?) = try await AuditLog.verify(store, pageSize: 7) else {
            Issue.record("the chain does not verify")
            return
        }
        #expect(head.sequence == 200)
    }

    @Test func verificationPinpointsAnEditedEntry() async throws {
        let store = InMemoryStorage()
        let log = AuditLog(store: store, timeSource: ManualTimeSource(testNow))
        for index in 1...5 { try await log.record(event(index)) }
        let original = try await store.auditEntries(after: 2, limit: 1)[0]
        await store.tamper(sequence: 3, body: original.body.replacingOccurrences(of: "alice", with: "mallory"))
        guard case .failure(let broken) = try await AuditLog.verify(store) else {
            Issue.record("an edited entry went unnoticed")
            return
        }
        #expect(broken.sequence == 3)
        #expect(broken.reason.contains("hash mismatch"))
    }

    @Test func verificationPinpointsADeletedEntry() async throws {
        let store = InMemoryStorage()
        let log = AuditLog(store: store, timeSource: ManualTimeSource(testNow))
        for index in 1...5 { try await log.record(event(index)) }
        await store.delete(sequence: 2)
        guard case .failure(let broken) = try await AuditLog.verify(store) else {
            Issue.record("a deleted entry went unnoticed")
            return
        }
        #expect(broken.sequence == 2)
        #expect(broken.reason.contains("missing"))
    }

    @Test func aFailingStoreFailsTheRecord() async throws {
        let log = AuditLog(store: FailingAuditStore(), timeSource: ManualTimeSource(testNow))
        await #expect(throws: FailingAuditStore.Down.self) { try await log.record(event(1)) }
    }
}

@Suite("Audit checkpoints")
struct AuditCheckpointTests {
    func log(_ subjects: [String]) async throws -> InMemoryStorage {
        let store = InMemoryStorage()
        let log = AuditLog(store: store, timeSource: ManualTimeSource(testNow))
        for subject in subjects {
            try await log.record(AuditEvent("test.event", outcome: .success, actor: AuditActor(subject: subject)))
        }
        return store
    }

    func keys() throws -> SigningKeys {
        let directory = KeyDirectory(path: try temporaryDirectory())
        try directory.generate(algorithm: .es256, now: testNow)
        return try SigningKeys(keys: directory.load())
    }

    @Test func aCheckpointConfirmsTheLogItWasTakenFrom() async throws {
        let store = try await log(["a", "b", "c"])
        let keys = try keys()
        let head = try #require(await store.auditHead())
        let signed = try AuditCheckpoint(issuer: testIssuer, head: head, time: testNow).signed(with: keys)
        let checkpoint = try AuditCheckpoint.verified(signed, issuer: testIssuer, keys: keys)
        #expect(checkpoint.head == head)
        #expect(try await checkpoint.confirm(in: store).isConfirmed)
        // Entries appended later do not matter.
        try await AuditLog(store: store, timeSource: ManualTimeSource(testNow)).record(AuditEvent("later", outcome: .success))
        #expect(try await checkpoint.confirm(in: store).isConfirmed)
    }

    @Test func aConsistentlyRewrittenLogFailsTheCheckpoint() async throws {
        let original = try await log(["a", "b", "c"])
        let checkpoint = AuditCheckpoint(issuer: testIssuer, head: try #require(await original.auditHead()), time: testNow)
        // Every hash recomputed: the chain itself verifies, only the checkpoint can tell.
        let rewritten = try await log(["a", "mallory", "c"])
        guard case .success = try await AuditLog.verify(rewritten) else {
            Issue.record("the rewritten chain should verify on its own")
            return
        }
        guard case .failure(let broken) = try await checkpoint.confirm(in: rewritten) else {
            Issue.record("a rewritten log passed the checkpoint")
            return
        }
        #expect(broken.reason.contains("rewritten"))
    }

    @Test func refusesCheckpointsSignedByOthersOrForgedTokens() throws {
        let keys = try keys()
        let head = AuditChainHead(sequence: 3, hash: String(repeating: "a", count: 64))
        let foreign = try AuditCheckpoint(issuer: testIssuer, head: head, time: testNow).signed(with: self.keys())
        #expect(throws: AuditCheckpoint.Invalid.self) { try AuditCheckpoint.verified(foreign, issuer: testIssuer, keys: keys) }
        let otherIssuer = try AuditCheckpoint(issuer: "https://elsewhere", head: head, time: testNow).signed(with: keys)
        #expect(throws: AuditCheckpoint.Invalid.self) { try AuditCheckpoint.verified(otherIssuer, issuer: testIssuer, keys: keys) }
        // An access token signed by the same key is not a checkpoint (typ differs).
        var writer = JSONWriter()
        writer.value(.object(["iss": .string(testIssuer), "sequence": 3, "hash": .string(head.hash), "iat": 1]))
        let token = try keys.signer.sign(payload: writer.bytes)
        #expect(throws: AuditCheckpoint.Invalid.self) { try AuditCheckpoint.verified(token, issuer: testIssuer, keys: keys) }
    }
}

extension Result where Success == Void {
    var isConfirmed: Bool {
        if case .success = self { return true }
        return false
    }
}
