import Foundation
import TesseraCrypto
import TesseraStore

/// Where a signing key is in its life (DESIGN.md, key lifecycle):
/// `next` -> `current` -> `previous` -> removed, or `revoked` after a compromise.
public enum KeyState: String, Codable, Sendable, CaseIterable {
    /// Published in the JWKS, not signing yet.
    case next
    /// Signs new tokens (one per algorithm); published.
    case current
    /// Verification only; published until the last token it signed has expired.
    case previous
    /// Compromised: neither signing nor published; its private part is deleted.
    case revoked

    public var isPublished: Bool { self != .revoked }
}

/// One signing key's state and timeline, wherever it is stored (the keys folder's manifest or
/// the shared database).
public struct SigningKeyEntry: Sendable, Hashable {
    public var kid: String
    public var alg: SignatureAlgorithm
    public var state: KeyState
    public var created: Date
    /// A `next` key: when it starts signing. A `current` or `previous` key: when it started.
    public var activatesAt: Date?
    /// A `previous` key: when it stopped signing.
    public var retiredAt: Date?
    /// A `previous` key: when it leaves the JWKS (its last token's expiry plus the leeway).
    public var removeAfter: Date?
    public var revokedAt: Date?
    public var revocationReason: String?

    public init(kid: String, alg: SignatureAlgorithm, state: KeyState, created: Date, activatesAt: Date? = nil, retiredAt: Date? = nil,
                removeAfter: Date? = nil, revokedAt: Date? = nil, revocationReason: String? = nil) {
        self.kid = kid
        self.alg = alg
        self.state = state
        self.created = created
        self.activatesAt = activatesAt
        self.retiredAt = retiredAt
        self.removeAfter = removeAfter
        self.revokedAt = revokedAt
        self.revocationReason = revocationReason
    }

    /// When the key started signing, for a key that has.
    var signingSince: Date { activatesAt ?? created }

    /// The entry a stored record describes; nil names what is wrong with it.
    init(record: SigningKeyRecord) throws(KeyDirectoryError) {
        guard let alg = SignatureAlgorithm(jwsName: record.algorithm) else {
            throw KeyDirectoryError(path: record.kid, message: "unknown algorithm \(record.algorithm)")
        }
        guard let state = KeyState(rawValue: record.state) else {
            throw KeyDirectoryError(path: record.kid, message: "unknown key state \(record.state)")
        }
        self.init(kid: record.kid, alg: alg, state: state, created: record.createdAt, activatesAt: record.activatesAt,
                  retiredAt: record.retiredAt, removeAfter: record.removeAfter, revokedAt: record.revokedAt,
                  revocationReason: record.revocationReason)
    }

    func record(material: [UInt8]) -> SigningKeyRecord {
        SigningKeyRecord(kid: kid, algorithm: alg.jwsName, state: state.rawValue, createdAt: created, activatesAt: activatesAt,
                         retiredAt: retiredAt, removeAfter: removeAfter, revokedAt: revokedAt, revocationReason: revocationReason,
                         material: material)
    }
}

/// A signing key with its private part: what signs and what the JWKS publishes.
public struct StoredSigningKey: Sendable {
    public let entry: SigningKeyEntry
    public let privateKey: PrivateKey

    public init(entry: SigningKeyEntry, privateKey: PrivateKey) {
        self.entry = entry
        self.privateKey = privateKey
    }
}

/// An error about signing keys, naming the file, key or setting at fault.
public struct KeyDirectoryError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
