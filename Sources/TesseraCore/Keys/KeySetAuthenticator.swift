import Foundation
import TesseraCrypto
import TesseraStore

/// The set MAC of the database's signing keys: HMAC-SHA256, under a key derived from the
/// key-encryption key for this purpose alone, over the set's version and every row.
///
/// Whoever can write the database but does not hold the KEK could otherwise add a key of their
/// own, flip a retired key back to `current`, change when a key activates or leaves the JWKS,
/// resurrect a deleted row, or move the version so replicas reload. Each key's sealing already
/// binds its row (see `SigningKeyRowBinding`); the MAC covers what sealing cannot: rows without
/// material (revoked keys), rows added or removed, and the version. It is checked on every read
/// of the set before anything in it is used.
///
/// Not covered: putting back a whole earlier set with its MAC (a database restored from a
/// backup). A running server refuses a version lower than the one it has loaded; a restart
/// cannot tell, which is why the README says to keep database backups as private as the KEK.
struct KeySetAuthenticator: Sendable {
    /// HKDF's info: the MAC key is used for nothing else.
    static let purpose = "tessera signing-key set MAC v1"
    private let key: MessageAuthenticationKey
    /// The KEK's public fingerprint, to tell a wrong KEK from tampering in errors.
    let kekFingerprint: String

    init(kek: KeyEncryptionKey) throws(KeyDirectoryError) {
        kekFingerprint = kek.fingerprint
        do {
            key = try kek.authenticationKey(purpose: Self.purpose)
        } catch {
            throw KeyDirectoryError(path: "key-encryption key", message: "cannot derive the key-set MAC key: \(error.message)")
        }
    }

    /// The MAC of the set that `records` form at `version`.
    func mac(version: Int64, records: [SigningKeyRecord]) throws(KeyDirectoryError) -> [UInt8] {
        do {
            return try key.tag(Self.message(version: version, records: records))
        } catch {
            throw KeyDirectoryError(path: "signing keys", message: "cannot compute the key set's MAC: \(error.message)")
        }
    }

    /// Whether `snapshot` carries the MAC of its own version and rows.
    func isAuthentic(_ snapshot: SigningKeySnapshot) -> Bool {
        guard let mac = snapshot.mac else { return false }
        return key.isValid(mac, for: Self.message(version: snapshot.version, records: snapshot.records))
    }

    /// Refuses a database set whose MAC is missing or wrong: its rows or version were written by
    /// someone without the key-encryption key.
    func check(_ snapshot: SigningKeySnapshot, location: String) throws(KeyDirectoryError) {
        // A database nobody has written keys to yet has nothing to authenticate.
        if snapshot.mac == nil, snapshot.version == 0, snapshot.records.isEmpty { return }
        guard isAuthentic(snapshot) else {
            // Most often a replica started with the wrong KEK: say so rather than cry tampering.
            let fingerprints = Set(snapshot.records.compactMap { KeyEncryptionKey.sealingFingerprint($0.material) })
            if let other = fingerprints.first(where: { $0 != kekFingerprint }) {
                throw KeyDirectoryError(path: location, message: "the key set was sealed with the key-encryption key of fingerprint \(other), "
                    + "not with this one (\(kekFingerprint)): give the KEK the replicas share")
            }
            let what = snapshot.mac == nil ? "has no MAC" : "fails authentication"
            throw KeyDirectoryError(path: location, message: "the key set at version \(snapshot.version) \(what) with the key-encryption key: "
                + "its rows or its version were changed by someone without the KEK (tampering, or a writer with another KEK); "
                + "refused, no key of it is used")
        }
    }

    /// Every field of every row, in kid order (the order a store returns them in does not
    /// matter), and the SHA-256 of each row's material, so no byte of the set can change alone.
    static func message(version: Int64, records: [SigningKeyRecord]) -> [UInt8] {
        var encoder = CanonicalEncoder(label: "tessera signing-key set v1")
        encoder.integer(version)
        encoder.integer(Int64(records.count))
        for record in records.sorted(by: { $0.kid.utf8.lexicographicallyPrecedes($1.kid.utf8) }) {
            encoder.text(record.kid)
            encoder.text(record.algorithm)
            encoder.text(record.state)
            encoder.time(record.createdAt)
            encoder.time(record.activatesAt)
            encoder.time(record.retiredAt)
            encoder.time(record.removeAfter)
            encoder.time(record.revokedAt)
            encoder.text(record.revocationReason)
            encoder.blob(SHA256.hash(record.material))
        }
        return encoder.bytes
    }
}

/// The associated data a database key is sealed with: what of its row decides what is
/// published and what signs. The kid (a sealed key moved to another row fails to open), the
/// algorithm, the state, and the times that drive the lifecycle (when a `next` key starts
/// signing, when a `previous` one leaves the JWKS). So every state change re-seals the key
/// (`KeyMaterialCodec.reseal`). Not the revocation fields: a revoked key has no material left.
enum SigningKeyRowBinding {
    static func associatedData(_ entry: SigningKeyEntry) -> [UInt8] {
        var encoder = CanonicalEncoder(label: "tessera signing key row v2")
        encoder.text(entry.kid)
        encoder.text(entry.alg.jwsName)
        encoder.text(entry.state.rawValue)
        encoder.time(entry.created)
        encoder.time(entry.activatesAt)
        encoder.time(entry.retiredAt)
        encoder.time(entry.removeAfter)
        return encoder.bytes
    }

    /// What keys sealed before the row binding were sealed with: the kid alone. Accepted only
    /// while upgrading a set that has no MAC yet (`KeyManager.open`), and re-sealed at once.
    static func legacyAssociatedData(kid: String) -> [UInt8] { Array(kid.utf8) }
}

/// Bytes for authenticated data with exactly one encoding per value: a label naming the format,
/// then fields of fixed width or with their length in front, and optional fields with a
/// presence byte, so that no two different inputs give the same bytes.
struct CanonicalEncoder {
    private(set) var bytes: [UInt8] = []

    init(label: String) {
        text(label)
    }

    mutating func integer(_ value: Int64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func blob(_ value: [UInt8]) {
        integer(Int64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func text(_ value: String) {
        blob(Array(value.utf8))
    }

    mutating func text(_ value: String?) {
        guard let value else { return bytes.append(0) }
        bytes.append(1)
        text(value)
    }

    /// Milliseconds since 1970, rounded to the nearest: the stores keep keys' times to the
    /// millisecond (PostgreSQL rounds the same way), so what is read back encodes as written.
    mutating func time(_ value: Date) {
        integer(Int64((value.timeIntervalSince1970 * 1000).rounded()))
    }

    mutating func time(_ value: Date?) {
        guard let value else { return bytes.append(0) }
        bytes.append(1)
        time(value)
    }
}
