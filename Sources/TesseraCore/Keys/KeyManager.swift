import Foundation
import Logging
import TesseraCrypto
import TesseraJWT
import TesseraStore

/// Runs the key lifecycle over a `SigningKeyStore` (the keys folder of a single node, or the
/// database replicas share) and keeps `keys` (what signs and what the JWKS publishes) in step.
///
/// Every change reads the whole set, changes it, and writes it back with a compare-and-swap on
/// its version; when another replica (or `tessera keys` on the same folder) got there first, the
/// change is worked out again on what that writer left. So two replicas rotating at the same
/// moment create exactly one key, and the loser simply adopts it.
public actor KeyManager {
    /// What signs now and what the JWKS publishes; replaced whenever the set changes.
    public nonisolated let keys: CurrentValue<SigningKeys>
    let store: any SigningKeyStore
    let codec: KeyMaterialCodec
    /// The database's set MAC; nil for a keys folder.
    let authenticator: KeySetAuthenticator?
    /// Names the store in errors and logs: the keys folder, or "the database".
    let location: String
    let timings: @Sendable () -> KeyTimings
    let audit: AuditLog
    let tokens: any IssuedTokenStore
    let timeSource: any TimeSource
    let logger: Logger
    private var loadedVersion: Int64
    /// The entries of the set at `loadedVersion`: what each tick plans on without reading the store.
    private var loadedEntries: [SigningKeyEntry] = []
    /// Private keys opened so far, by kid: opening (and unsealing) happens once per key.
    private var opened: [String: PrivateKey]
    /// The last version refused as tampered with, so that a set refused on every tick is
    /// audited once, not every few seconds.
    private var rejectedVersion: Int64?

    private init(keys: SigningKeys, version: Int64, opened: [String: PrivateKey], store: any SigningKeyStore, codec: KeyMaterialCodec,
                 authenticator: KeySetAuthenticator?, location: String, timings: @escaping @Sendable () -> KeyTimings, audit: AuditLog,
                 tokens: any IssuedTokenStore, timeSource: any TimeSource, logger: Logger) {
        self.keys = CurrentValue(keys)
        self.loadedVersion = version
        self.opened = opened
        self.store = store
        self.codec = codec
        self.authenticator = authenticator
        self.location = location
        self.timings = timings
        self.audit = audit
        self.tokens = tokens
        self.timeSource = timeSource
        self.logger = logger
    }

    /// Loads the key set and applies what is due (on a first start: a current key for every
    /// algorithm the policy needs). Any problem is fatal here: a server must not start without
    /// keys it can trust. A database set written before sets had a MAC is upgraded first.
    public static func open(store: any SigningKeyStore, codec: KeyMaterialCodec, location: String,
                            timings: @escaping @Sendable () -> KeyTimings, audit: AuditLog, tokens: any IssuedTokenStore,
                            timeSource: any TimeSource, logger: Logger, applyDueChanges: Bool = true) async throws(KeyDirectoryError) -> KeyManager {
        try codec.checkUsable(location: location)
        let authenticator = try codec.setAuthenticator()
        var snapshot = try await read(store, location: location)
        if let authenticator {
            snapshot = try await KeySetUpgrade.run(snapshot, store: store, codec: codec, authenticator: authenticator,
                                                   location: location, audit: audit, logger: logger)
            do throws(KeyDirectoryError) {
                try authenticator.check(snapshot, location: location)
            } catch {
                _ = try? await audit.record(rejection(snapshot, error))
                throw error
            }
        }
        let (keys, opened) = try build(snapshot, codec: codec, location: location, defaultAlgorithm: nil, previouslyOpened: [:],
                                       allowEmpty: applyDueChanges)
        let manager = KeyManager(keys: keys ?? placeholder, version: snapshot.version, opened: opened, store: store, codec: codec,
                                 authenticator: authenticator, location: location, timings: timings, audit: audit, tokens: tokens,
                                 timeSource: timeSource, logger: logger)
        if applyDueChanges {
            try await manager.advance()
        }
        // A tool (`tessera keys`) may open a set that has no key yet; a server never serves one.
        try await manager.reload(allowEmpty: !applyDueChanges)
        return manager
    }

    // MARK: - Scheduled work

    /// What the rotation service calls every few seconds: picks up changes made elsewhere and
    /// applies what is due. The poll is only the set's version; the plan runs on the entries in
    /// memory, and the store is read and written only when something is due. A failure is logged
    /// and the keys in force stay in force.
    @discardableResult
    public func tick() async -> [KeyChange] {
        do {
            if try await store.signingKeysVersion() != loadedVersion { try await reload() }
            guard !KeyLifecycle.dueChanges(loadedEntries, now: timeSource.now(), timings: timings()).isEmpty else { return [] }
            return try await advance()
        } catch {
            logger.error("signing keys unchanged: \(error)", metadata: ["tessera.keys": .string(location)])
            return []
        }
    }

    /// Applies the lifecycle's due changes; returns them.
    @discardableResult
    func advance() async throws(KeyDirectoryError) -> [KeyChange] {
        let timings = timings()
        return try await mutate { (set: inout KeyWorkingSet, now: Date) throws(KeyDirectoryError) -> [KeyChange] in
            let changes = KeyLifecycle.dueChanges(set.entries, now: now, timings: timings)
            for change in changes { try set.apply(change, now: now, timings: timings) }
            return changes
        }
    }

    // MARK: - Admin operations

    /// Schedules a rotation: a new `next` key of `algorithm`, published now and signing after the
    /// pre-publication time. If one is already waiting, that one is the answer (so two admins or
    /// replicas asking at once still make one key).
    public func rotate(algorithm: SignatureAlgorithm?, actor: AuditActor = AuditActor()) async throws(KeyDirectoryError) -> SigningKeyEntry {
        let timings = timings()
        let algorithm = algorithm ?? timings.defaultAlgorithm ?? keys.value.defaultAlgorithm
        return try await mutate { (set: inout KeyWorkingSet, now: Date) throws(KeyDirectoryError) -> SigningKeyEntry in
            if let waiting = set.entries.first(where: { $0.alg == algorithm && $0.state == .next }) { return waiting }
            try set.apply(.generate(algorithm, .next, activatesAt: now + timings.prepublish), now: now, timings: timings, actor: actor)
            return set.entries.last!
        }
    }

    /// Emergency revocation: the key stops signing and leaves the JWKS now; if it was current, a
    /// replacement signs at once (a waiting `next` key of its algorithm, or a new one, without
    /// pre-publication: verifiers fetch it on its unknown kid); every unexpired token it signed
    /// is revoked.
    public func revoke(kid: String, reason: String, actor: AuditActor = AuditActor()) async throws(KeyDirectoryError) -> KeyRevocation {
        let timings = timings()
        let revoked = try await mutate { (set: inout KeyWorkingSet, now: Date) throws(KeyDirectoryError) -> (entry: SigningKeyEntry, replacement: String?) in
            guard let entry = set.entries.first(where: { $0.kid == kid }) else {
                throw KeyDirectoryError(path: location, message: "no key has kid \(kid)")
            }
            guard entry.state != .revoked else { throw KeyDirectoryError(path: location, message: "key \(kid) is already revoked") }
            try set.revoke(kid: kid, reason: reason, now: now, actor: actor)
            var replacement: String?
            if entry.state == .current {
                if let waiting = set.entries.first(where: { $0.alg == entry.alg && $0.state == .next }) {
                    try set.apply(.promote(kid: waiting.kid), now: now, timings: timings, actor: actor)
                    replacement = waiting.kid
                } else {
                    try set.apply(.generate(entry.alg, .current, activatesAt: now), now: now, timings: timings, actor: actor)
                    replacement = set.entries.last?.kid
                }
            }
            return (entry, replacement)
        }
        let now = timeSource.now()
        let count: Int
        do {
            count = try await tokens.revokeTokens(signedBy: kid, at: now)
        } catch {
            throw KeyDirectoryError(path: location, message: "key \(kid) is revoked and unpublished, but revoking its tokens failed: \(error); "
                + "they no longer verify against the JWKS or introspection; run the revocation again to record them")
        }
        _ = try? await audit.record(AuditEvent("key.tokens_revoked", outcome: .success, actor: actor, target: [
            "kid": .string(kid), "tokens": .number(Double(count)),
        ], reasons: [reason]))
        return KeyRevocation(entry: revoked.entry, replacementKeyID: revoked.replacement, tokensRevoked: count)
    }

    /// Adds an existing private key (a migration from another issuer) as `next`: published now,
    /// signing after the pre-publication time like any new key.
    public func importKey(_ key: PrivateKey, algorithm: SignatureAlgorithm, actor: AuditActor = AuditActor()) async throws(KeyDirectoryError) -> SigningKeyEntry {
        guard key.supports(algorithm) else {
            throw KeyDirectoryError(path: location, message: "a \(key.family.rawValue) key cannot sign \(algorithm)")
        }
        let kid: String
        do {
            kid = try key.publicKey().thumbprint()
        } catch {
            throw KeyDirectoryError(path: location, message: "cannot compute the key's thumbprint: \(error.message)")
        }
        let timings = timings()
        return try await mutate { (set: inout KeyWorkingSet, now: Date) throws(KeyDirectoryError) -> SigningKeyEntry in
            guard !set.entries.contains(where: { $0.kid == kid }) else {
                throw KeyDirectoryError(path: location, message: "key \(kid) is already in the key set")
            }
            let hasCurrent = set.entries.contains { $0.alg == algorithm && $0.state == .current }
            let entry = SigningKeyEntry(kid: kid, alg: algorithm, state: hasCurrent ? .next : .current, created: now,
                                        activatesAt: hasCurrent ? now + timings.prepublish : now)
            try set.add(entry, key: key, event: "key.imported", actor: actor)
            return entry
        }
    }

    /// Every key of the set, revoked ones included, as stored now.
    public func entries() async throws(KeyDirectoryError) -> [SigningKeyEntry] {
        try await readAuthenticated().records.map { (record) throws(KeyDirectoryError) in try SigningKeyEntry(record: record) }
    }

    // MARK: - Reading and writing the set

    /// Reads the set, lets `change` edit it, and writes it back if it changed, retrying on a
    /// compare-and-swap conflict. Audit entries for the changes are written once they landed.
    private func mutate<T>(_ change: (inout KeyWorkingSet, Date) throws(KeyDirectoryError) -> T) async throws(KeyDirectoryError) -> T {
        for _ in 0..<20 {
            let snapshot = try await readAuthenticated()
            var set = try KeyWorkingSet(snapshot, codec: codec, location: location)
            let now = timeSource.now()
            let result = try change(&set, now)
            guard set.changed else {
                if snapshot.version != loadedVersion { try await reload() }
                return result
            }
            let records = set.records
            let mac = try authenticator?.mac(version: snapshot.version + 1, records: records)
            let written: Bool
            do {
                written = try await store.replaceSigningKeys(records, mac: mac, expectedVersion: snapshot.version)
            } catch let error as KeyDirectoryError {
                throw error
            } catch {
                throw KeyDirectoryError(path: location, message: "cannot write the key set: \(error)")
            }
            guard written else { continue }  // another writer moved first: decide again on its result
            for event in set.events {
                do {
                    try await audit.record(event)
                } catch {
                    logger.error("key change made but not audited: \(error)", metadata: ["tessera.event": .string(event.event)])
                }
                logger.notice("signing keys: \(event.event)", metadata: ["tessera.key": .string(Self.readable(event.target))])
            }
            try await reload()
            return result
        }
        throw KeyDirectoryError(path: location, message: "the key set kept changing under this replica; try again")
    }

    /// `alg=ES256 kid=noUs... state=active`: an audit target as a person reads it in the log.
    static func readable(_ target: [String: JSONValue]) -> String {
        target.sorted { $0.key < $1.key }.map { key, value in
            let text: String
            switch value {
            case .string(let string): text = string
            case .number(let number): text = number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
            case .bool(let bool): text = String(bool)
            default:
                var writer = JSONWriter()
                writer.value(value)
                text = String(decoding: writer.bytes, as: UTF8.self)
            }
            return "\(key)=\(text)"
        }.joined(separator: " ")
    }

    /// Rebuilds `keys` from the stored set. A set that cannot be used (a corrupt or unreadable
    /// key) throws and leaves the keys in force untouched.
    private func reload(allowEmpty: Bool = false) async throws(KeyDirectoryError) {
        let snapshot = try await readAuthenticated()
        let entries = try snapshot.records.map { (record) throws(KeyDirectoryError) in try SigningKeyEntry(record: record) }
        let (built, opened) = try Self.build(snapshot, codec: codec, location: location, defaultAlgorithm: timings().defaultAlgorithm,
                                             previouslyOpened: opened, allowEmpty: allowEmpty)
        self.opened = opened
        loadedVersion = snapshot.version
        loadedEntries = entries
        guard let built else { return }
        let changed = built.jwksETag != keys.value.jwksETag || built.signers.mapValues(\.keyID) != keys.value.signers.mapValues(\.keyID)
        keys.replace(with: built)
        if changed {
            logger.info("signing keys loaded", metadata: [
                "tessera.signing": .string(built.signers.values.map { "\($0.algorithm.jwsName):\($0.keyID)" }.sorted().joined(separator: ",")),
                "tessera.published": .stringConvertible(built.published.count),
            ])
        }
    }

    /// The stored set, refused unless it is authentic (for the database: its MAC verifies, and
    /// its version has not gone back below the one loaded). A refusal is logged by the caller
    /// and audited here, once per version refused; the keys in force stay in force.
    private func readAuthenticated() async throws(KeyDirectoryError) -> SigningKeySnapshot {
        let snapshot = try await Self.read(store, location: location)
        guard let authenticator else { return snapshot }
        do throws(KeyDirectoryError) {
            try authenticator.check(snapshot, location: location)
            if snapshot.version < loadedVersion {
                throw KeyDirectoryError(path: location, message: "the key set went back from version \(loadedVersion) to \(snapshot.version) "
                    + "(an earlier copy put back?); refused, the keys in force stay in force. If the database was restored on purpose, restart the servers")
            }
        } catch {
            if rejectedVersion != snapshot.version {
                rejectedVersion = snapshot.version
                do {
                    try await audit.record(Self.rejection(snapshot, error))
                } catch {
                    logger.error("key set refused but not audited", metadata: [
                        "tessera.keys": .string(location), "tessera.error": .string("\(error)"),
                    ])
                }
            }
            throw error
        }
        return snapshot
    }

    private static func rejection(_ snapshot: SigningKeySnapshot, _ error: KeyDirectoryError) -> AuditEvent {
        AuditEvent("key.set_rejected", outcome: .failure, target: [
            "version": .number(Double(snapshot.version)), "kids": .array(snapshot.records.map { .string($0.kid) }),
        ], reasons: [error.message])
    }

    private static func read(_ store: any SigningKeyStore, location: String) async throws(KeyDirectoryError) -> SigningKeySnapshot {
        do {
            return try await store.signingKeys()
        } catch let error as KeyDirectoryError {
            throw error
        } catch {
            throw KeyDirectoryError(path: location, message: "cannot read the key set: \(error)")
        }
    }

    /// The signing keys of a snapshot; nil for an empty set when `allowEmpty` (a first start,
    /// before the lifecycle generates the first key).
    private static func build(_ snapshot: SigningKeySnapshot, codec: KeyMaterialCodec, location: String, defaultAlgorithm: SignatureAlgorithm?,
                              previouslyOpened: [String: PrivateKey], allowEmpty: Bool) throws(KeyDirectoryError) -> (SigningKeys?, [String: PrivateKey]) {
        var opened: [String: PrivateKey] = [:]
        var stored: [StoredSigningKey] = []
        for record in snapshot.records where !record.material.isEmpty {
            let entry = try SigningKeyEntry(record: record)
            guard entry.state != .revoked else { continue }
            let key: PrivateKey
            if let known = previouslyOpened[record.kid] {
                key = known
            } else {
                key = try codec.open(record.material, for: entry, location: "\(location) (kid \(record.kid))")
            }
            opened[record.kid] = key
            stored.append(StoredSigningKey(entry: entry, privateKey: key))
        }
        if stored.isEmpty, allowEmpty { return (nil, opened) }
        // The configured default may not have a key yet (the lifecycle is about to make one).
        let usable = defaultAlgorithm.flatMap { alg in stored.contains { $0.entry.alg == alg && $0.entry.state == .current } ? alg : nil }
        return (try SigningKeys(keys: stored, defaultAlgorithm: usable), opened)
    }

    /// Stands in until the first key exists; never served, `open` replaces it before returning.
    private static var placeholder: SigningKeys {
        let key = try! PrivateKey.generate(.p256)
        let kid = try! key.publicKey().thumbprint()
        return try! SigningKeys(keys: [StoredSigningKey(entry: SigningKeyEntry(kid: kid, alg: .es256, state: .current, created: Date()),
                                                        privateKey: key)])
    }
}

/// What an emergency revocation did.
public struct KeyRevocation: Sendable {
    public let entry: SigningKeyEntry
    /// The key that signs instead, when the revoked key was current.
    public let replacementKeyID: String?
    public let tokensRevoked: Int
}

/// A key set being changed: entries, their stored material, and the audit events of the changes.
struct KeyWorkingSet {
    private(set) var entries: [SigningKeyEntry]
    private var materials: [String: [UInt8]]
    private(set) var events: [AuditEvent] = []
    private(set) var changed = false
    let codec: KeyMaterialCodec
    let location: String

    init(_ snapshot: SigningKeySnapshot, codec: KeyMaterialCodec, location: String) throws(KeyDirectoryError) {
        entries = try snapshot.records.map { (record) throws(KeyDirectoryError) in try SigningKeyEntry(record: record) }
        materials = Dictionary(snapshot.records.map { ($0.kid, $0.material) }, uniquingKeysWith: { first, _ in first })
        self.codec = codec
        self.location = location
    }

    var records: [SigningKeyRecord] { entries.map { $0.record(material: materials[$0.kid] ?? []) } }

    mutating func apply(_ change: KeyChange, now: Date, timings: KeyTimings, actor: AuditActor = AuditActor()) throws(KeyDirectoryError) {
        switch change {
        case .generate(let alg, let state, let activatesAt):
            let key = try SigningKeyFactory.generate(algorithm: alg)
            let entry = SigningKeyEntry(kid: key.kid, alg: alg, state: state, created: now, activatesAt: activatesAt)
            try add(entry, key: key.privateKey, event: "key.generated", actor: actor)
        case .promote(let kid):
            try update(kid, event: "key.activated", actor: actor) { $0.state = .current; $0.activatesAt = now }
        case .retire(let kid, let removeAfter):
            try update(kid, event: "key.retired", actor: actor) {
                $0.state = .previous
                $0.retiredAt = now
                $0.removeAfter = removeAfter
            }
        case .remove(let kid):
            guard let entry = entries.first(where: { $0.kid == kid }) else { return }
            entries.removeAll { $0.kid == kid }
            materials[kid] = nil
            record("key.removed", entry, actor: actor)
        }
    }

    mutating func add(_ entry: SigningKeyEntry, key: PrivateKey, event: String, actor: AuditActor) throws(KeyDirectoryError) {
        materials[entry.kid] = try codec.seal(key, for: entry)
        entries.append(entry)
        record(event, entry, actor: actor)
    }

    mutating func revoke(kid: String, reason: String, now: Date, actor: AuditActor) throws(KeyDirectoryError) {
        // The private part is deleted: nothing may sign with a compromised key again.
        materials[kid] = []
        try update(kid, event: "key.revoked", actor: actor, reasons: [reason]) {
            $0.state = .revoked
            $0.revokedAt = now
            $0.revocationReason = reason
        }
    }

    /// Edits a key's entry; in the database its sealed material follows, re-sealed for the new
    /// row (the state and times are its associated data).
    private mutating func update(_ kid: String, event: String, actor: AuditActor, reasons: [String] = [],
                                 _ edit: (inout SigningKeyEntry) -> Void) throws(KeyDirectoryError) {
        guard let index = entries.firstIndex(where: { $0.kid == kid }) else { return }
        let old = entries[index]
        edit(&entries[index])
        if let material = materials[kid] {
            materials[kid] = try codec.reseal(material, from: old, to: entries[index], location: "\(location) (kid \(kid))")
        }
        record(event, entries[index], actor: actor, reasons: reasons)
    }

    private mutating func record(_ event: String, _ entry: SigningKeyEntry, actor: AuditActor, reasons: [String] = []) {
        changed = true
        var target: [String: JSONValue] = ["kid": .string(entry.kid), "alg": .string(entry.alg.jwsName), "state": .string(entry.state.rawValue)]
        if let activatesAt = entry.activatesAt { target["activates_at"] = .string(ManifestTime.format(activatesAt)) }
        if let removeAfter = entry.removeAfter { target["remove_after"] = .string(ManifestTime.format(removeAfter)) }
        events.append(AuditEvent(event, outcome: .success, actor: actor, target: target, reasons: reasons))
    }
}
