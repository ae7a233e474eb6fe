import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TesseraCore
import TesseraCrypto
import TesseraStore
import TesseraTestLogging

/// kill -9 in the middle of a burst of token requests: every token a client received must have
/// its audit entry and token record, and the chain must verify, after the crash.
@Suite("crash safety")
struct CrashSafetyTests {
    @Test func everyTokenReceivedBeforeKill9IsAudited() async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-crash-\(UUID())"
        let folders = ["--keys", root + "/keys", "--policies", root + "/policies", "--data", root + "/data"]
        let created = try await run(tessera, ["clients", "create", "burst", "--audience", "https://api.example.com"] + folders)
        let secret = try #require(created.output.split(separator: "\n").first { $0.hasPrefix("client_secret: ") }?
            .dropFirst("client_secret: ".count))

        let server = Process()
        server.executableURL = URL(fileURLWithPath: tessera)
        // notice: the "listening" line, without a line per token filling the undrained pipe.
        server.arguments = ["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "notice"] + folders
        let log = Pipe()
        server.standardError = log
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        let port = try await CommandLineTests.waitForListeningPort(log.fileHandleForReading)

        let received = ReceivedTokens()
        let authorization = "Basic " + Data("burst:\(secret)".utf8).base64EncodedString()
        let session = URLSession(configuration: .ephemeral)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/token")!)
                    request.httpMethod = "POST"
                    request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
                    request.setValue(authorization, forHTTPHeaderField: "Authorization")
                    request.httpBody = Data("grant_type=client_credentials".utf8)
                    // Until the server is gone: then requests fail and the loop ends.
                    while let (body, response) = try? await session.data(for: request) {
                        guard (response as? HTTPURLResponse)?.statusCode == 200,
                              let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                              let token = object["access_token"] as? String
                        else { continue }
                        await received.add(token)
                    }
                }
            }
            group.addTask {
                // Kill once the burst is well under way, mid-flight.
                while await received.count < 200 { try await Task.sleep(for: .milliseconds(5)) }
                kill(server.processIdentifier, SIGKILL)
            }
            try await group.waitForAll()
        }
        try await onBlockingThread { server.waitUntilExit() }
        #expect(server.terminationReason == .uncaughtSignal)

        let tokens = await received.tokens
        #expect(tokens.count >= 200)
        let store = try await SQLiteStorage.open(directory: root + "/data", logger: .forCurrentTest())
        var missing: [String] = []
        for token in tokens {
            let payload = try #require(Base64URL.decode(String(token.split(separator: ".")[1])))
            let jti = try #require((try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])?["jti"] as? String)
            if try await store.issuedToken(jwtID: jti) == nil { missing.append(jti) }
        }
        let issuedEntries = try await store.auditEntries(matching: AuditQuery(limit: 100_000, event: "token.issued"))
        try await store.close()
        #expect(missing.isEmpty, "\(missing.count) of \(tokens.count) tokens a client received have no record after kill -9")
        #expect(issuedEntries.count >= tokens.count)
        let verified = try await run(tessera, ["audit", "verify", "--data", root + "/data"])
        #expect(verified.status == 0, "\(verified.error)")
    }
}

private actor ReceivedTokens {
    var tokens: [String] = []
    var count: Int { tokens.count }
    func add(_ token: String) { tokens.append(token) }
}
