import Foundation
import TesseraCrypto

/// Token identifiers (`jti`) that sort by the time they were made: 48 bits of Unix milliseconds,
/// then 80 random bits, written as 22 characters of the base64url alphabet taken in ASCII order
/// (so the strings compare as the numbers do).
///
/// Each token's identifier is a key of the store's jti index. Random identifiers put each key
/// of a group commit on a page of its own, so most of a commit's write-ahead-log frames were
/// index pages; identifiers of the same moment land beside each other. 80 random bits keep an
/// accidental repeat within a millisecond negligible (RFC 7519 §4.1.7), and the store refuses
/// one anyway (the jti is a primary key). The time is no secret: the token's `iat` carries it.
enum TokenIdentifier {
    private static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let ordered = Array("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz".utf8)
    /// A base64url character's counterpart in `ordered`, by byte.
    private static let toOrdered: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for (index, character) in standard.enumerated() { table[Int(character)] = ordered[index] }
        return table
    }()

    static let randomByteCount = 10

    /// The identifier of a token made at `time` with `random` (`randomByteCount` bytes).
    static func make(time: Date, random: [UInt8]) -> String {
        let milliseconds = UInt64(max(0, time.timeIntervalSince1970 * 1000))
        var value = [UInt8]()
        value.reserveCapacity(6 + random.count)
        for shift in stride(from: 40, through: 0, by: -8) { value.append(UInt8(truncatingIfNeeded: milliseconds >> UInt64(shift))) }
        value.append(contentsOf: random)
        var encoded = [UInt8]()
        Base64URL.encode(value, into: &encoded)
        for index in encoded.indices { encoded[index] = toOrdered[Int(encoded[index])] }
        return String(decoding: encoded, as: UTF8.self)
    }
}
