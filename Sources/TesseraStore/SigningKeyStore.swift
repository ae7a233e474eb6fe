import Foundation

/// One signing key as replicas share it. The store never interprets `material`: it is the private key
/// sealed with the key-encryption key (see KeyEncryptionKey), opaque bytes here.
///
/// Dates are kept to the millisecond by the persistent backends (as everywhere in the store).
public struct SigningKeyRecord: Sendable, Hashable {
    public var kid: String
    /// JWS name: ES256, RS256, PS256, EdDSA.
    public var algorithm: String
    /// next, current, previous, revoked.
    public var state: String
    public var createdAt: Date
    /// A next key: when it starts signing.
    public var activatesAt: Date?
    /// A previous key: when it stopped signing.
    public var retiredAt: Date?
    /// A previous key: when it leaves the JWKS.
    public var removeAfter: Date?
    public var revokedAt: Date?
    public var revocationReason: String?
    public var material: [UInt8]

    public init(kid: String, algorithm: String, state: String, createdAt: Date, activatesAt: Date? = nil, retiredAt: Date? = nil,
                removeAfter: Date? = nil, revokedAt: Date? = nil, revocationReason: String? = nil, material: [UInt8]) {
        self.kid = kid
        self.algorithm = algorithm
        self.state = state
        self.createdAt = createdAt
        self.activatesAt = activatesAt
        self.retiredAt = retiredAt
        self.removeAfter = removeAfter
        self.revokedAt = revokedAt
        self.revocationReason = revocationReason
        self.material = material
    }
}

/// The whole key set and the version it was read at.
public struct SigningKeySnapshot: Sendable, Hashable {
    public var version: Int64
    /// Ordered by createdAt, then kid.
    public var records: [SigningKeyRecord]
    /// The set's MAC as its writer stored it (opaque here, like `material`): what lets a reader
    /// holding the key-encryption key tell a set it wrote from one edited in the database.
    /// Nil when none was written.
    public var mac: [UInt8]?

    public init(version: Int64, records: [SigningKeyRecord], mac: [UInt8]? = nil) {
        self.version = version
        self.records = records
        self.mac = mac
    }
}

/// Key states shared by replicas. Changes replace the whole (small) set through a compare-and-swap on its
/// version, so of two replicas rotating at once exactly one succeeds; the other re-reads and sees the rotation done.
///
/// Implemented by `InMemoryStorage` and `PostgresStorage`; a single node (SQLite) keeps its keys as files.
public protocol SigningKeyStore: Sendable {
    /// The set as last written; version 0 and no records when nothing was ever written.
    func signingKeys() async throws -> SigningKeySnapshot
    /// Only the version: what replicas poll every few seconds to notice a change cheaply.
    func signingKeysVersion() async throws -> Int64
    /// Replaces every record and the set's `mac` if the stored version is still `expectedVersion`;
    /// the version becomes expectedVersion + 1 (so a MAC over the version covers that one).
    /// Returns false (and changes nothing) when another writer got there first.
    func replaceSigningKeys(_ records: [SigningKeyRecord], mac: [UInt8]?, expectedVersion: Int64) async throws -> Bool
}

extension SigningKeyRecord {
    /// The order of `SigningKeySnapshot.records`: by creation, then kid.
    static func snapshotOrder(_ lhs: SigningKeyRecord, _ rhs: SigningKeyRecord) -> Bool {
        lhs.createdAt != rhs.createdAt ? lhs.createdAt < rhs.createdAt : lhs.kid < rhs.kid
    }
}
