import Foundation
import TesseraCrypto

/// How a private key is kept at rest: PKCS#8 PEM, or sealed with the key-encryption key (KEK).
/// The kid is the sealing's associated data, so a sealed key moved to another record fails to open.
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

    /// The stored form of `key`.
    public func seal(_ key: PrivateKey, kid: String) throws(KeyDirectoryError) -> [UInt8] {
        do {
            var pem = Array(try key.pkcs8PEM().utf8)
            defer { for index in pem.indices { pem[index] = 0 } }
            guard let kek else {
                try checkUsable(location: kid)
                return pem
            }
            let sealed = try kek.seal(pem, associatedData: Array(kid.utf8))
            return form == .file ? Array(KeyEncryptionKey.armor(sealed).utf8) : sealed
        } catch let error as KeyDirectoryError {
            throw error
        } catch {
            throw KeyDirectoryError(path: kid, message: "cannot seal the private key: \(error)")
        }
    }

    /// The private key stored as `material` for `kid`, checked to be that key (its RFC 7638
    /// thumbprint is the kid) and usable with `alg`.
    public func open(_ material: [UInt8], kid: String, alg: SignatureAlgorithm, location: String) throws(KeyDirectoryError) -> PrivateKey {
        let key: PrivateKey
        do {
            key = try PrivateKey(pem: try pemText(material, kid: kid, location: location))
        } catch let error as KeyDirectoryError {
            throw error
        } catch let error as CryptoError {
            throw KeyDirectoryError(path: location, message: "not a usable private key: \(error.message)")
        } catch {
            throw KeyDirectoryError(path: location, message: "not a usable private key: \(error)")
        }
        guard key.supports(alg) else {
            throw KeyDirectoryError(path: location, message: "the key set says \(alg) but this is a \(key.family.rawValue) key")
        }
        guard (try? key.publicKey().thumbprint()) == kid else {
            throw KeyDirectoryError(path: location, message: "the key's RFC 7638 thumbprint does not match its kid \(kid)")
        }
        return key
    }

    private func pemText(_ material: [UInt8], kid: String, location: String) throws(KeyDirectoryError) -> String {
        let text = String(decoding: material, as: UTF8.self)
        let sealed = KeyEncryptionKey.unarmor(text) ?? (KeyEncryptionKey.isSealed(material) ? material : nil)
        guard let sealed else { return text }
        guard let kek else {
            throw KeyDirectoryError(path: location, message: "the key is encrypted; give the key-encryption key it was sealed with "
                + "(--key-encryption-key-file or TESSERA_KEY_ENCRYPTION_KEY)")
        }
        do {
            var pem = try kek.open(sealed, associatedData: Array(kid.utf8))
            defer { for index in pem.indices { pem[index] = 0 } }
            return String(decoding: pem, as: UTF8.self)
        } catch {
            throw KeyDirectoryError(path: location, message: error.message)
        }
    }
}
