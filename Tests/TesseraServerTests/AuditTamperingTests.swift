import Foundation
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraStore
import TesseraTestLogging

/// Tampering with the SQLite database itself, as someone with write access to the file would:
/// verification names the first entry that no longer fits, and a checkpoint taken before proves
/// the rewrite.
@Suite("audit tampering in the database")
struct AuditTamperingTests {
    enum Tampering: String, CaseIterable, Sendable {
        case edit, delete, reorder

        /// Python's sqlite3 (code nobody here wrote) performs the tampering.
        var sql: String {
            switch self {
            case .edit: "UPDATE audit_log SET body = replace(body, 'user-3', 'mallory') WHERE sequence = 3"
            case .delete: "DELETE FROM audit_log WHERE sequence = 3"
            // Entries 3 and 4 trade places: each keeps its own body and hash, under the other's number.
            case .reorder: "UPDATE audit_log SET sequence = -sequence WHERE sequence IN (3, 4); "
                + "UPDATE audit_log SET sequence = 7 - sequence WHERE sequence IN (-3, -4)"
            }
        }
    }

    @Test("verify pinpoints the entry and the earlier checkpoint proves it", arguments: Tampering.allCases)
    func pinpointsTampering(_ tampering: Tampering) async throws {
        guard let python = which("python3") else {
            peerMissing("python3 (its sqlite3 module edits the database)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-tamper-\(UUID())"
        let keys = try SigningKeys(keys: [KeyDirectory(path: root + "/keys").generate(algorithm: .es256, now: Date())])
        let store = try await SQLiteStorage.open(directory: root + "/data", logger: .forCurrentTest())
        let log = AuditLog(store: store, timeSource: SystemTimeSource())
        for index in 1...6 {
            _ = try await log.record(AuditEvent("test.event", outcome: .success, actor: AuditActor(subject: "user-\(index)")))
        }
        let checkpointer = AuditCheckpointer(issuer: "https://tessera.test", keys: CurrentValue(keys), store: store, audit: log,
                                             timeSource: SystemTimeSource())
        let signed = try #require(try await checkpointer.take())
        let checkpoint = try AuditCheckpoint.verified(signed, issuer: "https://tessera.test", keys: keys)
        try await store.close()

        let script = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()"
        let tampered = try await run(python, ["-c", script, root + "/data/tessera.sqlite", tampering.sql])
        try #require(tampered.status == 0, "\(tampered.error)")

        let reopened = try await SQLiteStorage.open(directory: root + "/data", logger: .forCurrentTest())
        let verified = try await AuditLog.verify(reopened)
        guard case .failure(let broken) = verified else {
            Issue.record("\(tampering) was not detected")
            try await reopened.close()
            return
        }
        #expect(broken.sequence == 3, "\(tampering) reported at \(broken)")
        guard case .failure = try await checkpoint.confirm(in: reopened) else {
            Issue.record("the checkpoint taken before \(tampering) still confirmed the log")
            try await reopened.close()
            return
        }
        try await reopened.close()
    }
}
