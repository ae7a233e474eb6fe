import Foundation
import Testing
@testable import TesseraCore

/// `writeAtomically` creates its temporary file exclusively and never through a link: what is
/// planted at the temporary path makes the write fail, and is left as it was.
@Suite("atomic writes")
struct AtomicWriteTests {
    @Test(arguments: [true, false])
    func somethingPlantedAtTheTemporaryPathIsNotWrittenThrough(_ dangling: Bool) throws {
        let folder = try temporaryDirectory()
        let victim = try temporaryDirectory("elsewhere") + "/victim"
        if !dangling { try "untouched".write(toFile: victim, atomically: false, encoding: .utf8) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/planted", withDestinationPath: victim)
        #expect(throws: KeyDirectoryError.self) {
            try writeAtomically(Data("secret".utf8), to: folder + "/key.pem", permissions: 0o600, temporaryName: "planted")
        }
        #expect(FileManager.default.fileExists(atPath: victim) == !dangling, "a file was created through a dangling link")
        if !dangling { #expect(try String(contentsOfFile: victim, encoding: .utf8) == "untouched") }
        #expect(!FileManager.default.fileExists(atPath: folder + "/key.pem"))
    }

    @Test func writesWithTheModeAndLeavesNoTemporaryFile() throws {
        let folder = try temporaryDirectory()
        try writeAtomically(Data("secret".utf8), to: folder + "/key.pem", permissions: 0o600)
        try writeAtomically(Data("again".utf8), to: folder + "/key.pem", permissions: 0o600)
        #expect(try String(contentsOfFile: folder + "/key.pem", encoding: .utf8) == "again")
        #expect((try FileManager.default.attributesOfItem(atPath: folder + "/key.pem")[.posixPermissions] as? Int) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["key.pem"])
    }
}
