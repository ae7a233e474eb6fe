import Foundation
import Logging
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraStore
import TesseraTestLogging

/// Key rotation with an injected clock: pre-publication, promotion, retention, removal, and
/// emergency revocation, through `KeyManager` on a real store.
@Suite("signing-key lifecycle")
struct KeyLifecycleTests {
    static let week: TimeInterval = 7 * 86_400
    static let hour: TimeInterval = 3600
    static let timings = KeyTimings(prepublish: hour, retention: hour + KeyTimings.clockLeeway, rotationPeriods: [.es256: week],
                                    defaultAlgorithm: .es256)

    let clock = ManualTimeSource(testNow)
    let store = InMemoryStorage()
    /// One KEK for every replica of a test, as replicas share theirs.
    let kek: KeyEncryptionKey

    init() throws {
        kek = try KeyEncryptionKey.generate()
    }

    func manager(_ store: InMemoryStorage? = nil, timings: KeyTimings = timings) async throws -> KeyManager {
        let store = store ?? self.store
        var logger = Logger.forCurrentTest()
        logger.logLevel = .critical
        return try await KeyManager.open(store: store, codec: KeyMaterialCodec(kek: kek, form: .database),
                                         location: "test store", timings: { timings }, audit: AuditLog(store: store, timeSource: clock),
                                         tokens: store, timeSource: clock, logger: logger)
    }

    func publishedKIDs(_ manager: KeyManager) throws -> [String] {
        try JSONDecoder().decode(PublicJWKSet.self, from: Data(manager.keys.value.jwksDocument)).keys.compactMap(\.kid)
    }

    func verify(_ token: String, with manager: KeyManager) throws {
        let verifier = JWTVerifier(policy: VerificationPolicy(issuer: testIssuer, audiences: ["https://api.example"], expectedType: "at+jwt"))
        _ = try verifier.verify(token, keys: manager.keys.value.verificationKeys, now: clock.now())
    }

    func mint(_ manager: KeyManager, lifetime: Int = 3600) throws -> MintedToken {
        try TokenMinter(issuer: testIssuer, keys: manager.keys, timeSource: clock).mint(TokenGrantDecision(
            subject: "app", clientID: "app", audiences: ["https://api.example"], scopes: [], lifetimeSeconds: lifetime))
    }

    @Test func aFullRotationCycle() async throws {
        let manager = try await manager()
        let first = manager.keys.value.currentKeyID
        #expect(try publishedKIDs(manager) == [first])

        // One second before the next key is due: nothing happens.
        clock.advance(by: Self.week - Self.hour - 1)
        #expect(await manager.tick().isEmpty)
        #expect(try publishedKIDs(manager) == [first])

        // Exactly prepublish before the period ends: the next key is published, not signing.
        clock.advance(by: 1)
        let publishedAt = clock.now()
        await manager.tick()
        let published = try publishedKIDs(manager)
        #expect(published.count == 2)
        let second = try #require(published.first { $0 != first })
        #expect(manager.keys.value.currentKeyID == first, "a new key signed before it was pre-published")
        let waiting = try #require(try await manager.entries().first { $0.kid == second })
        #expect(waiting.state == .next)
        #expect(waiting.activatesAt == publishedAt + Self.hour, "published \(Self.hour) s before it signs")

        // A token from the old key, a second before the switch, valid for an hour.
        clock.advance(by: Self.hour - 1)
        await manager.tick()
        let old = try mint(manager)
        #expect(old.keyID == first)

        clock.advance(by: 1)
        await manager.tick()
        #expect(manager.keys.value.currentKeyID == second, "the next key did not start signing on time")
        #expect(try mint(manager).keyID == second)
        let retired = try #require(try await manager.entries().first { $0.kid == first })
        #expect(retired.state == .previous)
        #expect(retired.removeAfter == clock.now() + Self.timings.retention)

        // The old key's token verifies until it expires; the key stays published until then plus leeway.
        clock.advance(by: Self.hour - 1)
        await manager.tick()
        try verify(old.token, with: manager)
        #expect(try publishedKIDs(manager).contains(first))
        clock.advance(by: KeyTimings.clockLeeway)
        await manager.tick()
        #expect(try publishedKIDs(manager).contains(first), "removed before its last token expired plus the leeway")
        clock.advance(by: 1)
        await manager.tick()
        #expect(try publishedKIDs(manager) == [second], "the retired key stayed published after its tokens expired")
        #expect(try await manager.entries().map(\.kid) == [second])

        let events = try await store.auditEntries(after: 0, limit: 100).map(\.event)
        #expect(events == ["key.generated", "key.generated", "key.retired", "key.activated", "key.removed"])
    }

    @Test func rotateOnDemandPrepublishesAndIsIdempotent() async throws {
        let manager = try await manager()
        let first = manager.keys.value.currentKeyID
        let next = try await manager.rotate(algorithm: nil)
        #expect(next.state == .next)
        #expect(next.activatesAt == clock.now() + Self.hour)
        #expect(try publishedKIDs(manager).contains(next.kid))
        #expect(try await manager.rotate(algorithm: .es256).kid == next.kid, "a second rotate made a second key")
        clock.advance(by: Self.hour)
        await manager.tick()
        #expect(manager.keys.value.currentKeyID == next.kid)
        #expect(try publishedKIDs(manager).contains(first))
    }

    @Test func twoReplicasRotatingAtOnceMakeOneKey() async throws {
        let first = try await manager()
        let second = try await manager()
        #expect(first.keys.value.currentKeyID == second.keys.value.currentKeyID, "both replicas made a first key")
        async let a = first.rotate(algorithm: .es256)
        async let b = second.rotate(algorithm: .es256)
        let (made, other) = try await (a, b)
        #expect(made.kid == other.kid)
        #expect(try await first.entries().count == 2)
        await second.tick()
        #expect(first.keys.value.jwksETag == second.keys.value.jwksETag)
    }

    @Test func emergencyRevocationUnpublishesReplacesAndRevokesItsTokens() async throws {
        let manager = try await manager()
        let compromised = manager.keys.value.currentKeyID
        let minted = try mint(manager)
        let decision = TokenGrantDecision(subject: "app", clientID: "app", audiences: ["https://api.example"], scopes: [], lifetimeSeconds: 3600)
        _ = try await AuditLog(store: store, timeSource: clock).record(AuditEvent("token.issued", outcome: .success),
                                                                         issuedToken: IssuedTokenRecord(minted, decision: decision))
        let revocation = try await manager.revoke(kid: compromised, reason: "laptop stolen")
        #expect(revocation.tokensRevoked == 1)
        let replacement = try #require(revocation.replacementKeyID)
        #expect(manager.keys.value.currentKeyID == replacement)
        #expect(try !publishedKIDs(manager).contains(compromised), "the revoked key is still published")
        #expect(throws: JWTError.self) { try verify(minted.token, with: manager) }
        #expect(await store.issuedToken(jwtID: minted.jwtID)?.revokedAt != nil)
        let entry = try #require(try await manager.entries().first { $0.kid == compromised })
        #expect(entry.state == .revoked && entry.revocationReason == "laptop stolen")
        // The private part is gone from the store.
        #expect(await store.signingKeys().records.first { $0.kid == compromised }?.material.isEmpty == true)
        let events = try await store.auditEntries(after: 0, limit: 100).map(\.event)
        #expect(events == ["key.generated", "token.issued", "key.revoked", "key.generated", "key.tokens_revoked"])
        await #expect(throws: KeyDirectoryError.self) { try await manager.revoke(kid: compromised, reason: "again") }
    }

    @Test func aBrokenStoredKeyLeavesTheKeysInForce() async throws {
        let manager = try await manager()
        let before = manager.keys.value.jwksETag
        var snapshot = await store.signingKeys()
        snapshot.records[0].material[snapshot.records[0].material.count - 5] ^= 0xFF
        #expect(try await store.replaceSigningKeys(snapshot.records, mac: snapshot.mac, expectedVersion: snapshot.version))
        await manager.tick()
        #expect(manager.keys.value.jwksETag == before)
        #expect(try mint(manager).keyID == manager.keys.value.currentKeyID)
    }

    @Test func aWrongKeyEncryptionKeyIsRefusedAtStart() async throws {
        _ = try await manager()
        var logger = Logger.forCurrentTest()
        logger.logLevel = .critical
        let error = await #expect(throws: KeyDirectoryError.self) {
            try await KeyManager.open(store: store, codec: KeyMaterialCodec(kek: try KeyEncryptionKey.generate(), form: .database),
                                      location: "test store", timings: { Self.timings }, audit: AuditLog(store: store, timeSource: clock),
                                      tokens: store, timeSource: clock, logger: logger)
        }
        #expect(error?.message.contains("fingerprint") == true, "\(String(describing: error))")
    }

    @Test func theDatabaseNeedsAKeyEncryptionKey() async throws {
        #expect(throws: KeyDirectoryError.self) { try KeyMaterialCodec(kek: nil, form: .database).checkUsable(location: "db") }
    }

    @Test func aNewSetWithoutADefaultGetsES256BesideWhatClientsAsk() {
        let timings = KeyTimings(prepublish: 900, retention: 3900, algorithms: [.rs256])
        #expect(KeyLifecycle.dueChanges([], now: testNow, timings: timings)
            == [.generate(.es256, .current, activatesAt: testNow), .generate(.rs256, .current, activatesAt: testNow)])
        // An existing RS256-only set without a named default keeps signing RS256 alone.
        let existing = SigningKeyEntry(kid: "k", alg: .rs256, state: .current, created: testNow)
        #expect(KeyLifecycle.dueChanges([existing], now: testNow, timings: KeyTimings(prepublish: 900, retention: 3900)).isEmpty)
    }

    @Test func plannerGeneratesEveryRequiredAlgorithmOnce() {
        let timings = KeyTimings(prepublish: 900, retention: 3900, algorithms: [.rs256], defaultAlgorithm: .es256)
        let changes = KeyLifecycle.dueChanges([], now: testNow, timings: timings)
        #expect(changes == [.generate(.es256, .current, activatesAt: testNow), .generate(.rs256, .current, activatesAt: testNow)])
    }

    /// The keys folder of a running server turns bad (a key file made world-readable, then a
    /// corrupt manifest): each change is refused with a logged error, nothing is rewritten, and
    /// the keys in force keep signing.
    @Test func aBrokenKeysFolderLeavesTheKeysInForceAndTheFilesUntouched() async throws {
        let directory = KeyDirectory(path: try temporaryDirectory())
        var logger = Logger.forCurrentTest()
        logger.logLevel = .critical
        let manager = try await KeyManager.open(store: directory, codec: KeyMaterialCodec(kek: nil, form: .file), location: directory.path,
                                                timings: { Self.timings }, audit: AuditLog(store: store, timeSource: clock), tokens: store,
                                                timeSource: clock, logger: logger)
        let signing = manager.keys.value.currentKeyID
        let keyFile = directory.path + "/\(signing).pem"
        let manifest = try String(contentsOfFile: directory.path + "/manifest.json", encoding: .utf8)

        chmod(keyFile, 0o644)
        clock.advance(by: Self.week)  // a rotation is due, but the folder cannot be trusted
        #expect(await manager.tick().isEmpty)
        #expect(manager.keys.value.currentKeyID == signing)
        #expect(try String(contentsOfFile: directory.path + "/manifest.json", encoding: .utf8) == manifest, "the manifest was rewritten")
        await #expect(throws: KeyDirectoryError.self) { try await manager.rotate(algorithm: .es256) }

        chmod(keyFile, 0o600)
        try "{broken".write(toFile: directory.path + "/manifest.json", atomically: true, encoding: .utf8)
        #expect(await manager.tick().isEmpty)
        #expect(try mint(manager).keyID == signing)

        // Repaired: the overdue rotation happens.
        try manifest.write(toFile: directory.path + "/manifest.json", atomically: true, encoding: .utf8)
        #expect(await manager.tick().contains { if case .generate(.es256, .next, _) = $0 { true } else { false } })
    }
}
