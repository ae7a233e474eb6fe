import Foundation
import Testing
import TesseraCore
import TesseraStore
import TesseraTestLogging

/// The audit and admin commands of the real executable against one store: `admin token`,
/// `admin revoke`, `audit export` and `audit tail -f`.
@Suite("tessera audit and admin commands")
struct AuditCommandLineTests {
    @Test func mintsAdminTokensExportsAndFollowsTheLog() async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-audit-cli-\(UUID())"
        let folders = ["--keys", root + "/keys", "--data", root + "/data"]
        #expect(try await run(tessera, ["keys", "generate", "--keys", root + "/keys"]).status == 0)
        let missing = try await run(tessera, ["admin", "token", "--subject", "ops"] + folders)
        #expect(missing.status != 0)
        #expect(missing.error.contains("has `tessera serve` run"), "\(missing.error)")
        try await SQLiteStorage.open(directory: root + "/data", logger: .forCurrentTest()).close()

        let minted = try await run(tessera, ["admin", "token", "--subject", "ops", "--reason", "INC-7"] + folders)
        #expect(minted.status == 0, "\(minted.error)")
        #expect(minted.output.split(separator: ".").count == 3)
        let tooLong = try await run(tessera, ["admin", "token", "--subject", "ops", "--lifetime", "2h"] + folders)
        #expect(tooLong.status != 0)
        #expect(tooLong.error.contains("--lifetime"), "\(tooLong.error)")

        // Export: JSON lines, filtered, to stdout or to a file.
        let data = ["--data", root + "/data"]
        let exported = try await run(tessera, ["audit", "export", "--since", "1h", "--format", "jsonl"] + data)
        #expect(exported.status == 0, "\(exported.error)")
        let lines = exported.output.split(separator: "\n")
        #expect(lines.count == 1)
        let line = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        let entry = try #require((line["entry"] as? [String: Any])?["entry"] as? [String: Any])
        #expect(entry["event"] as? String == "admin.token_issued")
        #expect((entry["target"] as? [String: Any])?["reason"] as? String == "INC-7")
        let jti = try #require((entry["target"] as? [String: Any])?["jti"] as? String)
        #expect(try await run(tessera, ["audit", "export", "--since", "2999-01-01T00:00:00Z"] + data).output.isEmpty)
        #expect(try await run(tessera, ["audit", "export", "--since", "1h", "--event", "token.issued"] + data).output.isEmpty)
        let csv = try await run(tessera, ["audit", "export", "--since", "1h", "--format", "csv"] + data)
        #expect(csv.status != 0)
        #expect(csv.error.contains("--format"), "\(csv.error)")
        let file = root + "/export.jsonl"
        #expect(try await run(tessera, ["audit", "export", "--since", "1h", "--output", file] + data).status == 0)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == exported.output)

        // tail -f prints what exists, then what is written later.
        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: tessera)
        follower.arguments = ["audit", "tail", "-f", "-n", "5"] + data
        let pipe = Pipe()
        follower.standardOutput = pipe
        try follower.run()
        defer { if follower.isRunning { follower.terminate() } }
        // `--`: a jti is base64url and may begin with '-'.
        let revoked = try await run(tessera, ["admin", "revoke"] + folders + ["--", jti])
        #expect(revoked.status == 0, "\(revoked.error)")
        #expect(revoked.output.contains("revoked \(jti)"))
        // A reader blocked on a pipe sees no deadline: ending the follower ends the read.
        DispatchQueue.global().asyncAfter(deadline: .now() + 20) { if follower.isRunning { follower.terminate() } }
        let followed = try await onBlockingThread { () -> String in
            var text = ""
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline, !text.contains("admin.token_revoked") {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        #expect(followed.contains("admin.token_issued"), "\(followed)")
        #expect(followed.contains("admin.token_revoked"), "\(followed)")
        #expect(try await run(tessera, ["admin", "revoke"] + folders + ["--", jti]).output.contains("already revoked"))
        #expect(try await run(tessera, ["admin", "revoke", "nope"] + folders).status != 0)
        #expect(try await run(tessera, ["audit", "verify"] + data).status == 0)
    }
}
