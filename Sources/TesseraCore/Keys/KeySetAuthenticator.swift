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
