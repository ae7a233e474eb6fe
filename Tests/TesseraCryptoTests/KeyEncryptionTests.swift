import Foundation
import Testing
@testable import TesseraCrypto

@Suite("Key-encryption key")
struct KeyEncryptionTests {
    static let plaintext = Array("-----BEGIN PRIVATE KEY-----\nnot really a key\u{0}\u{1}\n-----END PRIVATE KEY-----\n".utf8)
    static let kid = Array("kid-2026-01".utf8)

    @Test func sealedKeysOpenToThePlaintext() throws {
        let kek = try KeyEncryptionKey.generate()
        let sealed = try kek.seal(Self.plaintext, associatedData: Self.kid)
        #expect(sealed.count == Self.plaintext.count + 4 + 8 + 12 + 16)
        #expect(Array(sealed.prefix(4)) == Array("TKE1".utf8))
        #expect(KeyEncryptionKey.isSealed(sealed))
        #expect(try kek.open(sealed, associatedData: Self.kid) == Self.plaintext)
        // A fresh nonce each time: sealing twice gives two different results.
        #expect(try kek.seal(Self.plaintext, associatedData: Self.kid) != sealed)
        // An empty plaintext and empty associated data work too.
        #expect(try kek.open(kek.seal([], associatedData: []), associatedData: []) == [])
    }

    @Test func aKeyReloadedFromItsEncodingOpensWhatItSealed() throws {
        let kek = try KeyEncryptionKey.generate()
        let reloaded = try KeyEncryptionKey(encoded: kek.encoded)
        #expect(!kek.encoded.contains("="))
        #expect(reloaded.fingerprint == kek.fingerprint)
        #expect(try reloaded.open(kek.seal(Self.plaintext, associatedData: Self.kid), associatedData: Self.kid) == Self.plaintext)
    }

    @Test func theFingerprintIsTheStartOfTheKeysSHA256() throws {
        let bytes = [UInt8](repeating: 0x42, count: 32)
        let kek = try KeyEncryptionKey(bytes: bytes)
        let expected = SHA256.hash(bytes).prefix(8).map { String(format: "%02x", $0) }.joined()
        #expect(kek.fingerprint == expected)
        #expect(kek.fingerprint.count == 16)
        let sealed = try kek.seal([1, 2, 3], associatedData: [])
        #expect(Array(sealed[4..<12]) == Array(SHA256.hash(bytes).prefix(8)))
    }

    @Test func tamperingWithAnyByteOfNonceCiphertextOrTagFailsAuthentication() throws {
        let kek = try KeyEncryptionKey.generate()
        let sealed = try kek.seal(Self.plaintext, associatedData: Self.kid)
        for index in 12..<sealed.count {
            var tampered = sealed
            tampered[index] ^= 0x01
            #expect(failure { () throws(CryptoError) in _ = try kek.open(tampered, associatedData: Self.kid) }?.code == .authenticationFailed, "byte \(index)")
        }
        // A truncated tag is refused too.
        #expect(throws: CryptoError.self) { try kek.open(Array(sealed.dropLast()), associatedData: Self.kid) }
    }

    @Test func wrongAssociatedDataFailsAuthentication() throws {
        let kek = try KeyEncryptionKey.generate()
        let sealed = try kek.seal(Self.plaintext, associatedData: Self.kid)
        for other in [Array("kid-2026-02".utf8), [], Self.kid + [0]] {
            do throws(CryptoError) {
                _ = try kek.open(sealed, associatedData: other)
                Issue.record("opened with associated data \(other)")
            } catch {
                #expect(error.code == .authenticationFailed)
                #expect(error.message.contains("associated data"))
            }
        }
    }

    @Test func anotherKeyEncryptionKeyIsNamedByFingerprint() throws {
        let kek = try KeyEncryptionKey.generate(), other = try KeyEncryptionKey.generate()
        let sealed = try kek.seal(Self.plaintext, associatedData: Self.kid)
        do throws(CryptoError) {
            _ = try other.open(sealed, associatedData: Self.kid)
            Issue.record("another key-encryption key opened the sealed key")
        } catch {
            #expect(error.code == .wrongKeyEncryptionKey)
            #expect(error.message.contains(kek.fingerprint), "\(error)")
            #expect(error.message.contains(other.fingerprint), "\(error)")
        }
    }

    @Test func bytesNotSealedByTesseraAreNamedSo() throws {
        let kek = try KeyEncryptionKey.generate()
        let sealed = try kek.seal(Self.plaintext, associatedData: Self.kid)
        var badMagic = sealed
        badMagic[0] = UInt8(ascii: "X")
        for bytes in [badMagic, Array(sealed.prefix(39)), [], Self.plaintext] {
            do throws(CryptoError) {
                _ = try kek.open(bytes, associatedData: Self.kid)
                Issue.record("opened \(bytes.count) bytes not sealed by Tessera")
            } catch {
                #expect(error.code == .notSealed, "\(error)")
            }
        }
    }

    @Test func isSealedIsFalseForAPEMKey() throws {
        let pem = try PrivateKey.generate(.p256).pkcs8PEM()
        #expect(!KeyEncryptionKey.isSealed(Array(pem.utf8)))
        #expect(!KeyEncryptionKey.isSealed([]))
        #expect(!KeyEncryptionKey.isSealed(Array("TKE1".utf8)))
    }

    @Test func acceptsBase64InBothAlphabetsWithOrWithoutPaddingAndHex() throws {
        // Bytes whose base64 uses + and / (standard) or - and _ (url-safe).
        let bytes = (0..<32).map { UInt8(truncatingIfNeeded: 0xFB + $0 * 7) }
        let reference = try KeyEncryptionKey(bytes: bytes)
        let standard = Data(bytes).base64EncodedString()
        #expect(standard.contains("+") || standard.contains("/"))
        let urlSafe = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let forms = [
            standard, String(standard.dropLast()), urlSafe, String(urlSafe.dropLast()), reference.encoded,
            hex, hex.uppercased(), "  \n\t" + standard + "\n", hex + "\r\n",
        ]
        for form in forms {
            #expect(try KeyEncryptionKey(encoded: form).fingerprint == reference.fingerprint, "\(form)")
        }
    }

    @Test func badEncodingsAreRefusedWithoutEchoingTheInput() throws {
        let thirtyOne = Data((0..<31).map { UInt8($0 + 100) }).base64EncodedString()
        let thirtyThree = Data((0..<33).map { UInt8($0 + 100) }).base64EncodedString()
        let hex63 = String(repeating: "ab", count: 31) + "c"
        let cases = [
            thirtyOne, thirtyThree, hex63, "", "   \n", "this is not base64 at all!!",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzg", // 64 characters, not hex
            Data((0..<32).map { UInt8($0 + 100) }).base64EncodedString() + "===",
        ]
        for input in cases {
            do throws(CryptoError) {
                _ = try KeyEncryptionKey(encoded: input)
                Issue.record("accepted \(input.count) characters")
            } catch {
                #expect(error.code == .invalidKeyEncryptionKey)
                let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.count >= 4 { #expect(!error.description.contains(trimmed), "the error echoes the input: \(error)") }
            }
        }
        do throws(CryptoError) {
            _ = try KeyEncryptionKey(bytes: [UInt8](repeating: 7, count: 31))
            Issue.record("accepted 31 bytes")
        } catch {
            #expect(error.code == .invalidKeyEncryptionKey)
            #expect(error.message.contains("31"))
        }
    }

    @Test func refusesAFileOthersCanReadAndLoadsAPrivateOne() throws {
        let directory = NSTemporaryDirectory() + "tessera-kek-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let kek = try KeyEncryptionKey.generate()
        let path = directory + "/kek"
        #expect(FileManager.default.createFile(atPath: path, contents: Data((kek.encoded + "\n").utf8), attributes: [.posixPermissions: 0o644]))
        do throws(CryptoError) {
            _ = try KeyEncryptionKey.load(path: path)
            Issue.record("a 0644 key-encryption key file was loaded")
        } catch {
            #expect(error.code == .insecureFile)
            #expect(error.message.contains(path))
            #expect(error.message.contains("644"))
            #expect(!error.message.contains(kek.encoded))
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        #expect(try KeyEncryptionKey.load(path: path).fingerprint == kek.fingerprint)
    }

    @Test func aBadOrMissingFileIsNamedWithoutItsContents() throws {
        let directory = NSTemporaryDirectory() + "tessera-kek-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/kek"
        let secretish = "c2VjcmV0LWJ1dC10b28tc2hvcnQ"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(secretish.utf8), attributes: [.posixPermissions: 0o600]))
        do throws(CryptoError) {
            _ = try KeyEncryptionKey.load(path: path)
            Issue.record("a short key was loaded")
        } catch {
            #expect(error.code == .invalidKeyEncryptionKey)
            #expect(error.message.contains(path))
            #expect(!error.message.contains(secretish))
        }
        do throws(CryptoError) {
            _ = try KeyEncryptionKey.load(path: directory + "/missing")
            Issue.record("a missing file was loaded")
        } catch {
            #expect(error.code == .unreadableFile)
            #expect(error.message.contains(directory + "/missing"))
        }
    }

    @Test func armorRoundTrips() throws {
        let kek = try KeyEncryptionKey.generate()
        for size in [0, 1, 31, 100, 2000] {
            let sealed = try kek.seal((0..<size).map { UInt8(truncatingIfNeeded: $0) }, associatedData: Self.kid)
            let armored = KeyEncryptionKey.armor(sealed)
            #expect(armored.hasPrefix("-----BEGIN TESSERA ENCRYPTED PRIVATE KEY-----\n"))
            #expect(armored.hasSuffix("\n-----END TESSERA ENCRYPTED PRIVATE KEY-----\n"))
            let lines = armored.split(separator: "\n").dropFirst().dropLast()
            #expect(lines.dropLast().allSatisfy { $0.count == 64 })
            #expect((lines.last?.count ?? 0) <= 64)
            #expect(KeyEncryptionKey.unarmor(armored) == sealed)
            #expect(KeyEncryptionKey.unarmor(armored.replacingOccurrences(of: "\n", with: "\r\n")) == sealed)
        }
    }

    @Test func unarmorRefusesOtherTexts() throws {
        let pem = try PrivateKey.generate(.p256).pkcs8PEM()
        #expect(KeyEncryptionKey.unarmor(pem) == nil)
        #expect(KeyEncryptionKey.unarmor("") == nil)
        #expect(KeyEncryptionKey.unarmor("-----BEGIN TESSERA ENCRYPTED PRIVATE KEY-----\n!!!!\n-----END TESSERA ENCRYPTED PRIVATE KEY-----\n") == nil)
        #expect(KeyEncryptionKey.unarmor("-----BEGIN TESSERA ENCRYPTED PRIVATE KEY-----\nVEtFMQ==\n") == nil)
    }
}

/// The error `body` throws, nil when it throws none.
private func failure(_ body: () throws(CryptoError) -> Void) -> CryptoError? {
    do throws(CryptoError) {
        try body()
        return nil
    } catch {
        return error
    }
}
