import Foundation
import TesseraCrypto

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

    /// The kid alone: the binding of a sealed key in a keys folder, and of a database key sealed
    /// before rows were bound, which is accepted only while `KeySetUpgrade` re-seals a set that
    /// has no MAC yet.
    static func kidAssociatedData(_ kid: String) -> [UInt8] { Array(kid.utf8) }
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
