import Foundation
import Logging
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraStore
import TesseraTestLogging

/// The database key set under the key-encryption key, through `KeyManager` on an in-memory
/// store edited directly (as a database writer without the KEK would): only what a holder of
/// the KEK wrote is used. `DatabaseKeyTamperingTests` does the same on PostgreSQL with psql.
@Suite("database key set integrity")
struct KeySetIntegrityTests {
    static let timings = KeyTimings(prepublish: 3600, retention: 7200, defaultAlgorithm: .es256)
    let clock = ManualTimeSource(testNow)
    let store = InMemoryStorage()
    let kek: KeyEncryptionKey

    init() throws {
        kek = try KeyEncryptionKey.generate()
    }

    func manager() async throws -> KeyManager {
        var logger = Logger.forCurrentTest()
        logger.logLevel = .critical
        return try await KeyManager.open(store: store, codec: KeyMaterialCodec(kek: kek, form: .database), location: "test store",
                                         timings: { Self.timings }, audit: AuditLog(store: store, timeSource: clock), tokens: store,
                                         timeSource: clock, logger: logger)
    }

    func attackerRecord(state: String = "current") throws -> SigningKeyRecord {
        let key = try PrivateKey.generate(.p256)
        return SigningKeyRecord(kid: try key.publicKey().thumbprint(), algorithm: "ES256", state: state, createdAt: testNow,
                                activatesAt: testNow, material: Array(try key.pkcs8PEM().utf8))
    }

    @Test func aPlainKeyIsNeverOpenedFromTheDatabase() throws {
        let record = try attackerRecord()
        let entry = SigningKeyEntry(kid: record.kid, alg: .es256, state: .current, created: testNow)
        let error = #expect(throws: KeyDirectoryError.self) {
            try KeyMaterialCodec(kek: kek, form: .database).open(record.material, for: entry, location: "db")
        }
        #expect(error?.message.contains("unsealed") == true, "\(String(describing: error))")
    }

    @Test func aSealedKeyOpensOnlyForTheRowItWasSealedFor() throws {
        let codec = KeyMaterialCodec(kek: kek, form: .database)
        let key = try PrivateKey.generate(.p256)
        let entry = SigningKeyEntry(kid: try key.publicKey().thumbprint(), alg: .es256, state: .next, created: testNow, activatesAt: testNow + 3600)
        let sealed = try codec.seal(key, for: entry)
        _ = try codec.open(sealed, for: entry, location: "db")
        var promoted = entry
        promoted.state = .current
        #expect(throws: KeyDirectoryError.self) { try codec.open(sealed, for: promoted, location: "db") }
        var earlier = entry
        earlier.activatesAt = testNow
        #expect(throws: KeyDirectoryError.self) { try codec.open(sealed, for: earlier, location: "db") }
    }

    @Test func rowsAddedWithoutTheKEKAreRefusedAndTheKeysInForceKeepSigning() async throws {
        let manager = try await manager()
        let signing = manager.keys.value.currentKeyID
        let etag = manager.keys.value.jwksETag
        var snapshot = await store.signingKeys()
        let attacker = try attackerRecord(state: "next")
        snapshot.records.append(attacker)
        snapshot.version += 1
        await store.tamperSigningKeys(snapshot)
        await manager.tick()
        await manager.tick()
        #expect(manager.keys.value.jwksETag == etag)
        #expect(manager.keys.value.currentKeyID == signing)
        await #expect(throws: KeyDirectoryError.self) { try await manager.entries() }
        await #expect(throws: KeyDirectoryError.self) { try await manager.rotate(algorithm: .es256) }
        let rejected = try await store.auditEntries(after: 0, limit: 100).filter { $0.event == "key.set_rejected" }
        #expect(rejected.count == 1, "audited \(rejected.count) times")
        #expect(rejected.first?.body.contains(attacker.kid) == true)
    }

    @Test func aSetPutBackToAnEarlierVersionIsRefusedWhileRunning() async throws {
        let manager = try await manager()
        let earlier = await store.signingKeys()
        let next = try await manager.rotate(algorithm: .es256)
        await store.tamperSigningKeys(earlier)
        // The earlier set carries its own valid MAC: only the version going back gives it away.
        await manager.tick()
        #expect(manager.keys.value.published.map(\.kid).contains(next.kid), "the running server went back to an earlier set")
        let rejected = try await store.auditEntries(after: 0, limit: 100).filter { $0.event == "key.set_rejected" }
        #expect(rejected.count == 1)
    }

    @Test func anOldSetHoldingAPlainKeyIsNotUpgraded() async throws {
        #expect(try await store.replaceSigningKeys([try attackerRecord()], mac: nil, expectedVersion: 0))
        let error = await #expect(throws: KeyDirectoryError.self) { try await manager() }
        #expect(error?.message.contains("unsealed") == true, "\(String(describing: error))")
        #expect(await store.signingKeys().mac == nil, "a set holding a plain key was authenticated")
    }
}
