import Foundation
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT

@Suite("Keys folder")
struct KeyDirectoryTests {
    @Test func generatesAPrivateKeyFileReadableOnlyByTheOwner() throws {
        let directory = KeyDirectory(path: try temporaryDirectory())
        let key = try directory.generate(algorithm: .es256, now: testNow)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path + "/\(key.entry.kid).pem")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(key.entry.state == .current)
        #expect(key.entry.kid == (try key.privateKey.publicKey().thumbprint()))
        let pem = try String(contentsOfFile: directory.path + "/\(key.entry.kid).pem", encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
    }

    @Test func reloadsWhatItWrote() throws {
        let directory = KeyDirectory(path: try temporaryDirectory())
        let first = try directory.generate(algorithm: .es256, now: testNow)
        let second = try directory.generate(algorithm: .es256, now: testNow)
        #expect(second.entry.state == .next, "a second key of an algorithm waits")
        let loaded = try directory.load()
        #expect(loaded.map(\.entry) == [first.entry, second.entry])
    }

    @Test func everyAlgorithmGeneratesAndSigns() throws {
        for algorithm in SignatureAlgorithm.allCases {
            let directory = KeyDirectory(path: try temporaryDirectory())
            try directory.generate(algorithm: algorithm, now: testNow)
            let keys = try SigningKeys(keys: directory.load())
            #expect(keys.signer.algorithm == algorithm)
        }
    }

    @Test func refusesAPrivateKeyReadableByOthers() throws {
        let directory = KeyDirectory(path: try temporaryDirectory())
        let key = try directory.generate(algorithm: .es256, now: testNow)
        chmod(directory.path + "/\(key.entry.kid).pem", 0o644)
        let error = #expect(throws: KeyDirectoryError.self) { try directory.load() }
        #expect(error?.message.contains("chmod 600") == true)
    }

    @Test func refusesKeysTheManifestDoesNotKnow() throws {
        let path = try temporaryDirectory()
        try PrivateKey.generate(.p256).pkcs8PEM().write(toFile: path + "/stray.pem", atomically: true, encoding: .utf8)
        let error = #expect(throws: KeyDirectoryError.self) { try KeyDirectory(path: path).load() }
        #expect(error?.message.contains("manifest.json") == true)
    }

    @Test func refusesAKeyFileThatDoesNotMatchTheManifest() throws {
        let directory = KeyDirectory(path: try temporaryDirectory())
        let key = try directory.generate(algorithm: .es256, now: testNow)
        let file = directory.path + "/\(key.entry.kid).pem"
        try PrivateKey.generate(.p256).pkcs8PEM().write(toFile: file, atomically: false, encoding: .utf8)
        #expect(throws: KeyDirectoryError.self) { try directory.load() }
        try "garbage".write(toFile: file, atomically: false, encoding: .utf8)
        let error = #expect(throws: KeyDirectoryError.self) { try directory.load() }
        #expect(error?.message.contains("not a usable private key") == true)
    }

    @Test func refusesACorruptManifest() throws {
        let path = try temporaryDirectory()
        try "{not json".write(toFile: path + "/manifest.json", atomically: true, encoding: .utf8)
        #expect(throws: KeyDirectoryError.self) { try KeyDirectory(path: path).load() }
    }

    @Test func publishesEveryNonRevokedKeyOnceWithAStableETag() throws {
        let directory = KeyDirectory(path: try temporaryDirectory())
        try directory.generate(algorithm: .es256, now: testNow)
        try directory.generate(algorithm: .rs256, now: testNow)
        let keys = try SigningKeys(keys: directory.load())
        let set = try JSONDecoder().decode(PublicJWKSet.self, from: Data(keys.jwksDocument))
        #expect(set.keys.map(\.alg) == ["ES256", "RS256"])
        #expect(set.keys.allSatisfy { $0.use == "sig" && $0.kid != nil })
        let again = try SigningKeys(keys: directory.load())
        #expect(again.jwksETag == keys.jwksETag)
        let text = String(decoding: keys.jwksDocument, as: UTF8.self)
        #expect(!text.contains("\"d\""))
    }
}
