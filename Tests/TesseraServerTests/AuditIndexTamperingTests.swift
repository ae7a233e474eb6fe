import Foundation
import Testing
import TesseraCore
import TesseraJWT
import TesseraStore
import TesseraTestLogging

/// Editing the columns the audit log's filters read (role, subject, event), which the hash
/// chain does not cover, in the SQLite file, as someone with write access to it would:
/// `tessera audit verify` names the entry and the column, and a filtered `tessera audit export`
/// fails instead of leaving the entry out.
@Suite("audit index columns tampered with in the database")
struct AuditIndexTamperingTests {
    enum Column: String, CaseIterable, Sendable {
        case role, subject, event

        /// Python's sqlite3 (code nobody here wrote) performs the edit, on entry 2 only.
        var sql: String { "UPDATE audit_log SET \(rawValue) = 'hidden' WHERE sequence = 2" }

        /// The export filter that entry 2 matches until its column is edited.
        var filter: [String] {
            switch self {
            case .role: ["--role", "db-admin"]
            case .subject: ["--subject", "alice"]
            case .event: ["--event", "token.issued"]
            }
        }
    }

    @Test("verify names the entry and the column; a filtered export does not omit it", arguments: Column.allCases)
    func anEditedColumnIsCaught(_ column: Column) async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        guard let python = which("python3") else {
            peerMissing("python3 (its sqlite3 module edits the database)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-audit-index-\(UUID())"
        let data = ["--data", root + "/data"]
        let store = try await SQLiteStorage.open(directory: root + "/data", logger: .forCurrentTest())
        let log = AuditLog(store: store, timeSource: SystemTimeSource())
        for subject in ["bob", "alice", "carol"] {
            _ = try await log.record(AuditEvent("token.issued", outcome: .success, actor: AuditActor(subject: subject),
                                                target: ["role": .string(subject == "alice" ? "db-admin" : "viewer")]))
        }
        try await store.close()
        let export = ["audit", "export", "--since", "1h"] + column.filter + data
        let before = try await run(tessera, export)
        #expect(before.status == 0, "\(before.error)")
        #expect(before.output.contains(#""sequence":2"#), "the untouched log's export lacks entry 2: \(before.output)")
        #expect(try await run(tessera, ["audit", "verify"] + data).status == 0)

        let script = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()"
        let edited = try await run(python, ["-c", script, root + "/data/tessera.sqlite", column.sql])
        try #require(edited.status == 0, "\(edited.error)")

        let verified = try await run(tessera, ["audit", "verify"] + data)
        #expect(verified.status != 0, "verify passed a log whose \(column) column was edited: \(verified.output)")
        #expect(verified.error.contains("entry 2") && verified.error.contains("the \(column.rawValue) column"), "\(verified.error)")

        let exported = try await run(tessera, export)
        let omitted = exported.status == 0 && !exported.output.contains(#""sequence":2"#)
        #expect(!omitted, "the filtered export silently left out the entry whose \(column) column was edited")
        #expect(exported.status != 0 && exported.error.contains("entry 2"), "\(exported.error)")
        // Unfiltered exports stop too: the log cannot be trusted past the edit.
        let unfiltered = try await run(tessera, ["audit", "export", "--since", "1h"] + data)
        #expect(unfiltered.status != 0, "\(unfiltered.output)")
        try? FileManager.default.removeItem(atPath: root)
    }
}
