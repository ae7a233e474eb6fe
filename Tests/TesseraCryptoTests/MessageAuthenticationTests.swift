import Foundation
import Testing
@testable import TesseraCrypto

/// HMAC-SHA256 and the HKDF that derives its key from the KEK, against the RFCs' test vectors.
@Suite("message authentication")
struct MessageAuthenticationTests {
    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func hmacMatchesRFC4231() throws {
        let tag = try Array("Jefe".utf8).withUnsafeBytes { key in
            try Array("what do ya want for nothing?".utf8).withUnsafeBytes { message in try hmacSHA256(key: key, message: message) }
        }
        #expect(Self.hex(tag) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func hkdfMatchesRFC5869() throws {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        // Test case 1: salt and info.
        let first = try ikm.withUnsafeBytes { key in
            try hkdfSHA256(inputKey: key, salt: Self.bytes(hex: "000102030405060708090a0b0c"), info: Self.bytes(hex: "f0f1f2f3f4f5f6f7f8f9"), count: 42)
        }
        #expect(first.withBytes { Self.hex(Array($0)) }
            == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        // Test case 3: no salt, no info (the salt defaults to 32 zero bytes).
        let third = try ikm.withUnsafeBytes { key in try hkdfSHA256(inputKey: key, salt: [], info: [], count: 42) }
        #expect(third.withBytes { Self.hex(Array($0)) }
            == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    @Test func derivedKeysDependOnTheKEKAndThePurpose() throws {
        let kek = try KeyEncryptionKey.generate()
        let message = Array("version 7".utf8)
        let tag = try kek.authenticationKey(purpose: "a").tag(message)
        #expect(tag.count == MessageAuthenticationKey.tagCount)
        #expect(try KeyEncryptionKey(encoded: kek.encoded).authenticationKey(purpose: "a").isValid(tag, for: message))
        #expect(try !kek.authenticationKey(purpose: "b").isValid(tag, for: message))
        #expect(try !KeyEncryptionKey.generate().authenticationKey(purpose: "a").isValid(tag, for: message))
        #expect(try !kek.authenticationKey(purpose: "a").isValid(tag, for: Array("version 8".utf8)))
        var flipped = tag
        flipped[0] ^= 1
        #expect(try !kek.authenticationKey(purpose: "a").isValid(flipped, for: message))
        #expect(try !kek.authenticationKey(purpose: "a").isValid([], for: message))
    }
}
