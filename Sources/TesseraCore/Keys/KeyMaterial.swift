import Foundation
import TesseraCrypto

/// How a private key is kept at rest: PKCS#8 PEM, or sealed with the key-encryption key (KEK).
///
/// In a keys folder the kid is the sealing's associated data, so a sealed key moved to another
/// record fails to open. In the database every key is sealed, and its associated data is its row
/// (`SigningKeyRowBinding`: kid, algorithm, state and lifecycle times), so a row edited without
/// the KEK fails to open; the set as a whole is covered by `KeySetAuthenticator`.
public struct KeyMaterialCodec: Sendable {
    public enum Form: Sendable {
        /// Text for files: PEM, or the armored sealed form when a KEK is configured.
        case file
        /// Bytes for the database: always sealed, so a KEK is required.
        case database
    }

    public let kek: KeyEncryptionKey?
    public let form: Form

    public init(kek: KeyEncryptionKey?, form: Form) {
        self.kek = kek
        self.form = form
    }

    /// Refuses a database without a KEK: private keys never go into a shared database in clear.
    public func checkUsable(location: String) throws(KeyDirectoryError) {
        if form == .database, kek == nil {
            throw KeyDirectoryError(path: location, message: "signing keys in a shared database are stored encrypted: give a key-encryption key "
                + "with --key-encryption-key-file or TESSERA_KEY_ENCRYPTION_KEY (`tessera keys kek` makes one)")
        }
    }

    /// What authenticates the whole set: the database's set MAC; nil for a keys folder, whose
    /// integrity rests on the folder's permissions (see the README).
    func setAuthenticator() throws(KeyDirectoryError) -> KeySetAuthenticator? {
        guard form == .database else { return nil }
        guard let kek else {
            try checkUsable(location: "signing keys in the database")
            return nil
        }
        return try KeySetAuthenticator(kek: kek)
    }

    /// The stored form of `key`, for the row `entry` describes.
    public func seal(_ key: PrivateKey, for entry: SigningKeyEntry) throws(KeyDirectoryError) -> [UInt8] {
        do {
            var pem = Array(try key.pkcs8PEM().utf8)
            defer { for index in pem.indices { pem[index] = 0 } }
            guard let kek else {
                try checkUsable(location: entry.kid)
                return pem
            }
            let sealed = try kek.seal(pem, associatedData: associatedData(for: entry))
            return form == .file ? Array(KeyEncryptionKey.armor(sealed).utf8) : sealed
        } catch let error as KeyDirectoryError {
            throw error
        } catch {
            throw KeyDirectoryError(path: entry.kid, message: "cannot seal the private key: \(error)")
        }
    }

    /// The private key stored as `material` for the row `entry` describes, checked to be that
    /// key (its RFC 7638 thumbprint is the kid) and usable with its algorithm.
    ///
    /// `legacyBinding`: a database key may be sealed with the kid alone as associated data, as
    /// before rows were bound (only while `KeySetUpgrade` re-seals a set that has no MAC).
    public func open(_ material: [UInt8], for entry: SigningKeyEntry, location: String,
                     legacyBinding: Bool = false) throws(KeyDirectoryError) -> PrivateKey {
        let key: PrivateKey
        do {
            var pem = try pemBytes(material, entry: entry, location: location, legacyBinding: legacyBinding)
            defer { for index in pem.indices { pem[index] = 0 } }
            key = try PrivateKey(pem: String(decoding: pem, as: UTF8.self))
        } catch let error as KeyDirectoryError {
            throw error
        } catch let error as CryptoError {
            throw KeyDirectoryError(path: location, message: "not a usable private key: \(error.message)")
        } catch {
            throw KeyDirectoryError(path: location, message: "not a usable private key: \(error)")
        }
        guard key.supports(entry.alg) else {
            throw KeyDirectoryError(path: location, message: "the key set says \(entry.alg) but this is a \(key.family.rawValue) key")
        }
        guard (try? key.publicKey().thumbprint()) == entry.kid else {
            throw KeyDirectoryError(path: location, message: "the key's RFC 7638 thumbprint does not match its kid \(entry.kid)")
        }
        return key
    }

    /// `material` sealed for `new` instead of `old` (a state change in the database: the row
    /// binding changes with it). Unchanged for a keys folder, whose binding is the kid alone.
    /// `legacyBinding`: `material` is sealed with the kid alone (the upgrade of an old set).
    func reseal(_ material: [UInt8], from old: SigningKeyEntry, to new: SigningKeyEntry, location: String,
                legacyBinding: Bool = false) throws(KeyDirectoryError) -> [UInt8] {
        guard form == .database, !material.isEmpty else { return material }
        guard let kek else {
            try checkUsable(location: location)
            return material
        }
        var pem = try pemBytes(material, entry: old, location: location, legacyBinding: legacyBinding)
        defer { for index in pem.indices { pem[index] = 0 } }
        do {
            return try kek.seal(pem, associatedData: associatedData(for: new))
        } catch {
            throw KeyDirectoryError(path: location, message: "cannot seal the private key: \(error.message)")
        }
    }

    private func associatedData(for entry: SigningKeyEntry) -> [UInt8] {
        form == .database ? SigningKeyRowBinding.associatedData(entry) : SigningKeyRowBinding.kidAssociatedData(entry.kid)
    }

    /// The PEM bytes of `material` (the caller zeroes them). A database key must be sealed:
    /// anyone who can write the database could put a plain PEM key of their own there, and
    /// without this rule it would be published and sign.
    private func pemBytes(_ material: [UInt8], entry: SigningKeyEntry, location: String,
                          legacyBinding: Bool) throws(KeyDirectoryError) -> [UInt8] {
        let sealed: [UInt8]
        switch form {
        case .database:
            guard KeyEncryptionKey.isSealed(material) else {
                throw KeyDirectoryError(path: location, message: "the database holds this key unsealed (not sealed with the key-encryption key); "
                    + "refused: keys in the database are used only sealed, so that writing the database is not enough to add a signing key")
            }
            sealed = material
        case .file:
            let text = String(decoding: material, as: UTF8.self)
            guard let found = KeyEncryptionKey.unarmor(text) ?? (KeyEncryptionKey.isSealed(material) ? material : nil) else { return material }
            sealed = found
        }
        guard let kek else {
            throw KeyDirectoryError(path: location, message: "the key is encrypted; give the key-encryption key it was sealed with "
                + "(--key-encryption-key-file or TESSERA_KEY_ENCRYPTION_KEY)")
        }
        let associatedData = legacyBinding ? SigningKeyRowBinding.kidAssociatedData(entry.kid) : associatedData(for: entry)
        do {
            return try kek.open(sealed, associatedData: associatedData)
        } catch let error where error.code == .authenticationFailed && form == .database {
            throw KeyDirectoryError(path: location, message: "the sealed key does not belong to this row: its kid, algorithm, state or times "
                + "were changed, or the key was moved from another row, without the key-encryption key; refused")
        } catch {
            throw KeyDirectoryError(path: location, message: error.message)
        }
    }
}
