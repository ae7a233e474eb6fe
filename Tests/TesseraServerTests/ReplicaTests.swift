import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TesseraCore
import TesseraCrypto

/// Two `tessera serve` processes on one PostgreSQL database, as two replicas behind a load
/// balancer: shared tokens, shared revocations, one audit chain.
@Suite("replicas on PostgreSQL")
struct ReplicaTests {
    /// A server URL with rights to create databases, from `.ci/run`.
    static var postgresURL: String? { ProcessInfo.processInfo.environment["TESSERA_TEST_POSTGRES"] }

    @Test func twoServersShareTokensRevocationsAndOneAuditChain() async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        guard let serverURL = Self.postgresURL, let psql = which("psql") else {
            peerMissing("PostgreSQL (TESSERA_TEST_POSTGRES and psql; .ci/run starts it)")
            return
        }
        let database = "tessera_replicas_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        let created = try await run(psql, [serverURL, "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE \(database)"])
        try #require(created.status == 0, "\(created.error)")
        let storeURL = Self.replacingDatabase(in: serverURL, with: String(database))
        // Best effort after a failure; a passing run drops it at the end.
        defer { Task { _ = try? await run(psql, [serverURL, "-c", "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"]) } }

        let root = NSTemporaryDirectory() + "tessera-replicas-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/policies", withIntermediateDirectories: true)
        #expect(try await run(tessera, ["keys", "generate", "--keys", root + "/keys"]).status == 0)
        let secret = ClientSecret.generate()
        try """
        clients:
          - id: app
            secret_sha256: "\(secret.sha256Hex)"
            audiences: [https://api.example.com]
            can_introspect: true
        """.write(toFile: root + "/policies/clients.yaml", atomically: true, encoding: .utf8)

        // Keys live in the database, sealed with the key-encryption key; the first start adopts the folder's key.
        let kekFile = root + "/kek"
        #expect(FileManager.default.createFile(atPath: kekFile, contents: Data(try KeyEncryptionKey.generate().encoded.utf8),
                                               attributes: [.posixPermissions: 0o600]))
        // Same keys, policies, issuer and store; each its own data folder and port.
        let shared = ["--keys", root + "/keys", "--policies", root + "/policies", "--store", storeURL, "--issuer", "https://tessera.example",
                      "--key-encryption-key-file", kekFile]
        let first = try await Replica.start(tessera, shared + ["--data", root + "/data-a"])
        defer { first.kill() }
        let second = try await Replica.start(tessera, shared + ["--data", root + "/data-b"])
        defer { second.kill() }
        let authorization = "Basic " + Data("app:\(secret.secret)".utf8).base64EncodedString()

        let token = try #require(try await first.token(authorization))
        #expect(try await second.introspect(token, authorization) == true, "a token issued by one replica is unknown to the other")
        #expect(try await second.post("/revoke", ["token": token], authorization) == 200)
        #expect(try await first.introspect(token, authorization) == false, "a revocation on one replica is not seen by the other")

        // Both write at once: still one chain.
        let issued = try await withThrowingTaskGroup(of: Int.self) { group in
            for replica in [first, second] {
                for _ in 0..<8 {
                    group.addTask {
                        var count = 0
                        for _ in 0..<10 where try await replica.token(authorization) != nil { count += 1 }
                        return count
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(issued == 160)

        // Two rotations started at the same moment against the shared key set: one new key, and
        // both replicas serve the same JWKS with it within seconds.
        let keyOptions = ["--store", storeURL, "--key-encryption-key-file", kekFile, "--policies", root + "/policies", "--keys", root + "/keys"]
        async let rotateA = run(tessera, ["keys", "rotate"] + keyOptions)
        async let rotateB = run(tessera, ["keys", "rotate"] + keyOptions)
        let (a, b) = try await (rotateA, rotateB)
        #expect(a.status == 0 && b.status == 0, "\(a.error) \(b.error)")
        // "next ES256 key KID: published now, ..."
        let nextKey = { (output: String) in output.split(separator: " ").dropFirst(3).first.map { String($0.dropLast()) } }
        #expect(nextKey(a.output) != nil && nextKey(a.output) == nextKey(b.output), "two rotations made two keys: \(a.output) \(b.output)")
        let listed = try await run(tessera, ["keys", "list"] + keyOptions)
        #expect(listed.output.split(separator: "\n").filter { $0.contains(" next ") }.count == 1, "\(listed.output)")
        var sameJWKS = false
        var served: (String, String) = ("", "")
        for _ in 0..<50 where !sameJWKS {
            served = (try await first.jwks(), try await second.jwks())
            sameJWKS = served.0 == served.1 && served.0.contains(nextKey(a.output) ?? "-")
            if !sameJWKS { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(sameJWKS, "the replicas do not serve the same JWKS with the new key \(nextKey(a.output) ?? "-"): \(served)")
        try await first.stop()
        try await second.stop()
        let verified = try await run(tessera, ["audit", "verify", "--store", storeURL])
        #expect(verified.status == 0, "\(verified.error)")
        let count = verified.output.split(separator: " ").dropFirst(3).first.flatMap { Int($0) } ?? 0
        // Start-up entries of both, the first token, its revocation, and the burst.
        #expect(count >= 1 + 1 + 160, "\(verified.output)")
        let issuedEntries = try await run(tessera, ["audit", "export", "--since", "1h", "--event", "token.issued", "--store", storeURL])
        #expect(issuedEntries.output.split(separator: "\n").count == 161, "\(issuedEntries.error)")
        #expect(try await run(psql, [serverURL, "-c", "DROP DATABASE \(database)"]).status == 0)
    }

    static func replacingDatabase(in url: String, with database: String) -> String {
        var components = URLComponents(string: url)!
        components.path = "/" + database
        return components.string!
    }
}

/// One `tessera serve` process on a free port.
struct Replica: Sendable {
    let process: Process
    let port: Int

    static func start(_ tessera: String, _ arguments: [String]) async throws -> Replica {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tessera)
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "notice"] + arguments
        let log = Pipe()
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        do {
            return Replica(process: process, port: try await CommandLineTests.waitForListeningPort(log.fileHandleForReading))
        } catch {
            process.terminate()
            throw error
        }
    }

    func post(_ path: String, _ form: [String: String], _ authorization: String) async throws -> Int {
        try await send(path, form, authorization).status
    }

    func send(_ path: String, _ form: [String: String], _ authorization: String?) async throws -> (status: Int, body: [String: Any]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        request.httpBody = Data(form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&").utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
    }

    /// The JWKS document as served.
    func jwks() async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/.well-known/jwks.json")!)
        return String(decoding: data, as: UTF8.self)
    }

    func token(_ authorization: String) async throws -> String? {
        try await send("/token", ["grant_type": "client_credentials"], authorization).body["access_token"] as? String
    }

    func introspect(_ token: String, _ authorization: String) async throws -> Bool? {
        try await send("/introspect", ["token": token], authorization).body["active"] as? Bool
    }

    /// SIGTERM, and wait for a clean exit.
    func stop() async throws {
        guard process.isRunning else { return }
        process.terminate()
        try await onBlockingThread { process.waitUntilExit() }
    }

    func kill() {
        if process.isRunning { process.terminate() }
    }
}
