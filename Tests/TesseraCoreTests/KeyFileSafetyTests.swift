import Foundation
import Testing
import TesseraCore
import TesseraCrypto

/// Someone who can write the keys folder but not read its private keys plants a link or a
/// file where Tessera writes, or loosens a key's mode: no key is written through what they
/// planted, and a key others may read is refused, judged on the file actually read.
@Suite("keys folder: files planted or loosened")
struct KeyFileSafetyTests {
    /// The temporary name writes used to take (`<file>.tmp-<pid>`) was predictable: a link
    /// planted there sent the next manifest, or key, wherever it pointed.
    @Test func aLinkAtTheOldTemporaryNameIsNotFollowed() throws {
        let directory = KeyDirectory(path: try temporaryDirectory())
        let elsewhere = try temporaryDirectory("elsewhere")
        try directory.generate(algorithm: .es256, now: testNow)
        let planted = directory.path + "/manifest.json.tmp-\(getpid())"
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: elsewhere + "/manifest.json")
        try directory.generate(algorithm: .rs256, now: testNow)
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty, "a write followed the planted link")
        #expect(try directory.load().count == 2)
    }

    /// A link planted at the manifest's own path (to a copy of it the planter controls) is
    /// replaced by the next manifest, never written through.
    @Test func aLinkAtTheTargetPathIsReplacedNotFollowed() throws {
        let directory = KeyDirectory(path: try temporaryDirectory())
        try directory.generate(algorithm: .es256, now: testNow)
        let manifest = directory.path + "/manifest.json"
        let victim = try temporaryDirectory("elsewhere") + "/manifest.json"
        try FileManager.default.copyItem(atPath: manifest, toPath: victim)
        let before = try String(contentsOfFile: victim, encoding: .utf8)
        try FileManager.default.removeItem(atPath: manifest)
        try FileManager.default.createSymbolicLink(atPath: manifest, withDestinationPath: victim)
        try directory.generate(algorithm: .rs256, now: testNow)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == before, "the manifest was written through the link")
        let type = try FileManager.default.attributesOfItem(atPath: manifest)[.type] as? FileAttributeType
        #expect(type == .typeRegular)
        #expect(try directory.load().count == 2)
    }

    @Test func aKeyReachedThroughALinkIsJudgedByTheFileRead() throws {
        let directory = KeyDirectory(path: try temporaryDirectory())
        let key = try directory.generate(algorithm: .es256, now: testNow)
        let keyFile = directory.path + "/\(key.entry.kid).pem"
        let loose = try temporaryDirectory("elsewhere") + "/key.pem"
        try FileManager.default.moveItem(atPath: keyFile, toPath: loose)
        chmod(loose, 0o644)
        try FileManager.default.createSymbolicLink(atPath: keyFile, withDestinationPath: loose)
        let error = #expect(throws: KeyDirectoryError.self) { try directory.load() }
        #expect(error?.message.contains("chmod 600") == true, "\(String(describing: error))")
        chmod(loose, 0o600)
        #expect(try directory.load().count == 1)
    }

    /// Not a regular file: refused at once, where reading a FIFO would wait for a writer forever.
    @Test(.timeLimit(.minutes(1))) func aKeyThatIsNotARegularFileIsRefused() throws {
        let directory = KeyDirectory(path: try temporaryDirectory())
        let key = try directory.generate(algorithm: .es256, now: testNow)
        let keyFile = directory.path + "/\(key.entry.kid).pem"
        try FileManager.default.removeItem(atPath: keyFile)
        #expect(mkfifo(keyFile, 0o600) == 0)
        let error = #expect(throws: KeyDirectoryError.self) { try directory.load() }
        #expect(error?.message.contains("not a regular file") == true, "\(String(describing: error))")
    }
}
