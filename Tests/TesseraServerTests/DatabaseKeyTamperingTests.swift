import Foundation
import Logging
import Synchronization
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraStore
import TesseraTestLogging

/// Someone who can write the PostgreSQL database but does not hold the key-encryption key edits
/// the signing keys there, with psql (code nobody here wrote), under a running `KeyManager`:
/// nothing they wrote is published or signs, the keys in force keep signing, the refusal is
/// logged and audited, and a restart on the edited set refuses to start.
@Suite("signing keys tampered with in PostgreSQL")
struct DatabaseKeyTamperingTests {
    enum Tampering: String, CaseIterable, Sendable {
        /// The review's attack: a key of the attacker's, as plain PKCS#8 PEM, due to sign, and the version moved on.
        case plaintextKeyInserted
        /// The retired ES256 key signs again, the current one is demoted.
        case statesSwapped
        /// The RSA key's algorithm changed from RS256 to PS256 (one RSA key can do both).
        case algorithmChanged
        /// The sealed keys of two rows traded places.
        case materialSwapped
        /// The current key's removal time moved, which decides when it leaves the JWKS.
        case timeChanged
        /// Only the version moved on: replicas reload a set nobody with the KEK wrote.
        case versionBumped
        /// The set's MAC removed, as if the set predated MACs.
        case macRemoved
    }

    /// A database of its own on the test server, with psql to edit it and a closure that drops
    /// it; nil (reported as a missing peer) without PostgreSQL.
    static func freshDatabase() async throws -> (psql: String, storeURL: String, drop: @Sendable () -> Void)? {
        guard let serverURL = ReplicaTests.postgresURL, let psql = which("psql") else {
            peerMissing("PostgreSQL (TESSERA_TEST_POSTGRES and psql; .ci/run starts it)")
            return nil
        }
        let database = "tessera_keys_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        let created = try await run(psql, [serverURL, "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(database)"])
        try #require(created.status == 0, "\(created.error)")
        let storeURL = ReplicaTests.replacingDatabase(in: serverURL, with: String(database))
        return (psql, storeURL, { Task { _ = try? await run(psql, [serverURL, "-q", "-c", "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"]) } })
    }

    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let timings = KeyTimings(prepublish: 3600, retention: 7200, algorithms: [.rs256], defaultAlgorithm: .es256)
    static let audience = "https://api.example"

    @Test("refused, logged and audited; the keys in force keep signing", arguments: Tampering.allCases)
    func tamperingIsRefused(_ tampering: Tampering) async throws {
        guard let database = try await Self.freshDatabase() else { return }
        defer { database.drop() }
        let (psql, storeURL) = (database.psql, database.storeURL)
        func sql(_ statement: String) async throws {
            let result = try await run(psql, [storeURL, "-v", "ON_ERROR_STOP=1", "-q", "-c", statement])
            try #require(result.status == 0, "\(statement): \(result.error)")
        }

        let storage = try await PostgresStorage.open(url: storeURL, logger: Self.quiet)
        let kek = try KeyEncryptionKey.generate()
        let clock = ManualTimeSource(Self.now)
        let records = LogRecords()
        let logger = Logger(label: "test") { _ in RecordingLogHandler(records: records) }
        func open() async throws -> KeyManager {
            try await KeyManager.open(store: storage, codec: KeyMaterialCodec(kek: kek, form: .database), location: "signing keys in the database",
                                      timings: { Self.timings }, audit: AuditLog(store: storage, timeSource: clock), tokens: storage,
                                      timeSource: clock, logger: logger)
        }
        // ES256 and RS256 current keys; then an ES256 rotation, so the first ES256 key is `previous`.
        let manager = try await open()
        let first = manager.keys.value.currentKeyID
        _ = try await manager.rotate(algorithm: .es256)
        clock.advance(by: Self.timings.prepublish)
        await manager.tick()
        let second = manager.keys.value.currentKeyID
        let rsa = try #require(manager.keys.value.signers[.rs256]?.keyID)
        try #require(second != first)
        // What the rotation re-sealed (promotion, retirement) opens on a fresh start.
        #expect(try await open().keys.value.jwksETag == manager.keys.value.jwksETag)
        let etag = manager.keys.value.jwksETag
        let published = try Self.publishedKIDs(manager)
        try #require(Set(published) == [first, second, rsa])

        // The attacker's key, and a token they forged with it offline.
        let attackerKey = try PrivateKey.generate(.p256)
        let attackerKID = try attackerKey.publicKey().thumbprint()
        let attackerKeys = try SigningKeys(keys: [StoredSigningKey(entry: SigningKeyEntry(kid: attackerKID, alg: .es256, state: .current,
                                                                                          created: Self.now), privateKey: attackerKey)])
        let forged = try Self.mint(attackerKeys, clock)

        let bump = "UPDATE signing_key_set SET version = version + 1 WHERE id = 1"
        switch tampering {
        case .plaintextKeyInserted:
            let pem = Array(try attackerKey.pkcs8PEM().utf8).map { String(format: "%02x", $0) }.joined()
            let due = Int64(clock.now().timeIntervalSince1970 * 1000) - 1000
            try await sql("""
                INSERT INTO signing_keys (kid, algorithm, state, created_at_ms, activates_at_ms, material)
                VALUES ('\(attackerKID)', 'ES256', 'next', \(due), \(due), decode('\(pem)', 'hex')); \(bump)
                """)
        case .statesSwapped:
            try await sql("""
                UPDATE signing_keys SET state = CASE kid WHEN '\(first)' THEN 'current' ELSE 'previous' END
                WHERE kid IN ('\(first)', '\(second)'); \(bump)
                """)
        case .algorithmChanged:
            try await sql("UPDATE signing_keys SET algorithm = 'PS256' WHERE kid = '\(rsa)'; \(bump)")
        case .materialSwapped:
            try await sql("""
                UPDATE signing_keys s SET material = o.material FROM signing_keys o
                WHERE (s.kid, o.kid) IN (('\(first)', '\(second)'), ('\(second)', '\(first)')); \(bump)
                """)
        case .timeChanged:
            try await sql("UPDATE signing_keys SET remove_after_ms = remove_after_ms + 86400000 WHERE kid = '\(first)'; \(bump)")
        case .versionBumped:
            try await sql(bump)
        case .macRemoved:
            try await sql("UPDATE signing_key_set SET mac = NULL WHERE id = 1; \(bump)")
        }

        #expect(await manager.tick().isEmpty, "a change was applied on a tampered set")
        #expect(manager.keys.value.jwksETag == etag, "the JWKS changed after \(tampering)")
        #expect(try Self.publishedKIDs(manager) == published)
        #expect(!(try Self.publishedKIDs(manager)).contains(attackerKID), "the attacker's key is published")
        #expect(manager.keys.value.currentKeyID == second, "the key in force no longer signs")
        #expect(manager.keys.value.signers[.rs256]?.keyID == rsa && manager.keys.value.signers[.ps256] == nil)
        #expect(try Self.mint(manager.keys.value, clock).keyID == second)
        #expect(throws: JWTError.self, "a token forged with the attacker's key verifies") {
            try Self.verifier.verify(forged.token, keys: manager.keys.value.verificationKeys, now: clock.now())
        }
        let logged = records.lines.withLock { $0 }.filter { $0.contains("signing keys unchanged") }
        #expect(logged.contains { $0.contains("refused") }, "no readable error was logged: \(records.lines.withLock { $0 })")

        // Audited once, however many ticks see the same tampered set.
        await manager.tick()
        let rejections = try await storage.auditEntries(matching: AuditQuery(limit: 1000, event: "key.set_rejected"))
        #expect(rejections.count == 1, "\(rejections.count) key.set_rejected entries")

        // A restart on the tampered set refuses to start rather than use it.
        let restart = await #expect(throws: KeyDirectoryError.self) { try await open() }
        #expect(restart?.message.contains("refused") == true, "\(String(describing: restart))")
        try await storage.close()
    }

    /// A database written before key sets had a MAC (keys sealed with their kid alone): the first
    /// start holding the KEK re-seals every key with its row and stores the MAC; the keys stay the same.
    @Test func anOldSetIsResealedAndAuthenticatedOnTheFirstStartWithTheKEK() async throws {
        guard let database = try await Self.freshDatabase() else { return }
        defer { database.drop() }
        let storeURL = database.storeURL

        let storage = try await PostgresStorage.open(url: storeURL, logger: Self.quiet)
        let kek = try KeyEncryptionKey.generate()
        // As the previous release wrote it: sealed with the kid as associated data, no MAC.
        let key = try PrivateKey.generate(.p256)
        let kid = try key.publicKey().thumbprint()
        let legacy = try kek.seal(Array(key.pkcs8PEM().utf8), associatedData: Array(kid.utf8))
        let record = SigningKeyRecord(kid: kid, algorithm: "ES256", state: "current", createdAt: Self.now, activatesAt: Self.now, material: legacy)
        #expect(try await storage.replaceSigningKeys([record], mac: nil, expectedVersion: 0))

        let clock = ManualTimeSource(Self.now)
        var logger = Logger.forCurrentTest()
        logger.logLevel = .critical
        let manager = try await KeyManager.open(store: storage, codec: KeyMaterialCodec(kek: kek, form: .database),
                                                location: "signing keys in the database",
                                                timings: { KeyTimings(prepublish: 3600, retention: 7200, defaultAlgorithm: .es256) },
                                                audit: AuditLog(store: storage, timeSource: clock), tokens: storage, timeSource: clock, logger: logger)
        #expect(manager.keys.value.currentKeyID == kid, "the upgrade changed the signing key")
        let upgraded = try await storage.signingKeys()
        #expect(upgraded.version == 2 && upgraded.mac?.count == 32, "version \(upgraded.version), MAC \(upgraded.mac?.count ?? 0) bytes")
        #expect(upgraded.records.first?.material != legacy, "the key was not re-sealed")
        #expect(throws: CryptoError.self, "the key still opens with the kid alone as associated data") {
            try kek.open(upgraded.records[0].material, associatedData: Array(kid.utf8))
        }
        let events = try await storage.auditEntries(after: 0, limit: 100).map(\.event)
        #expect(events.contains("key.set_resealed"), "\(events)")
        try await storage.close()
    }

    /// The store's migration notices are not what these tests look at. A new logger on each use,
    /// for the test running then.
    static var quiet: Logger {
        var logger = Logger.forCurrentTest(label: "test.store")
        logger.logLevel = .warning
        return logger
    }

    static let verifier = JWTVerifier(policy: VerificationPolicy(issuer: "https://tessera.test", audiences: [audience], expectedType: "at+jwt"))

    static func mint(_ keys: SigningKeys, _ clock: ManualTimeSource) throws -> MintedToken {
        try TokenMinter(issuer: "https://tessera.test", keys: keys, timeSource: clock).mint(TokenGrantDecision(
            subject: "app", clientID: "app", audiences: [audience], scopes: [], lifetimeSeconds: 600))
    }

    static func publishedKIDs(_ manager: KeyManager) throws -> [String] {
        try JSONDecoder().decode(PublicJWKSet.self, from: Data(manager.keys.value.jwksDocument)).keys.compactMap(\.kid).sorted()
    }
}
