import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TesseraCore
import TesseraCrypto
import TesseraServer

/// Tokens from a running server, verified by code nobody here wrote: PyJWT's `PyJWKClient`
/// fetching the live JWKS over a real socket.
@Suite("PyJWT interop (live socket)")
struct PyJWTInteropTests {
    static let script = #"""
    import json, sys
    import jwt
    jwks_url, token, issuer, audience = sys.argv[1:5]
    client = jwt.PyJWKClient(jwks_url)
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["ES256", "RS256", "PS256", "EdDSA"],
                        audience=audience, issuer=issuer, options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})
    header = jwt.get_unverified_header(token)
    print(json.dumps({"claims": claims, "header": header, "kid": key.key_id}))
    """#

    static func pyJWTAvailable() async -> Bool {
        guard let python = which("python3") else { return false }
        return (try? await run(python, ["-c", "import jwt, cryptography"]).status) == 0
    }

    @Test("PyJWT verifies a live token against the live JWKS", arguments: [SignatureAlgorithm.es256, .rs256, .ps256, .edDSA])
    func pyJWTVerifiesLiveTokens(algorithm: SignatureAlgorithm) async throws {
        guard await Self.pyJWTAvailable(), let python = which("python3") else {
            peerMissing("python3 with PyJWT and cryptography (pip install pyjwt cryptography)")
            return
        }
        let fixture = try ServerFixture(keyAlgorithm: algorithm)
        try await fixture.application().test(.live) { client in
            var headers = formHeaders
            headers[.authorization] = fixture.basicAuthorization
            let token = try await client.execute(uri: "/token", method: .post, headers: headers,
                                                 body: formBody([("grant_type", "client_credentials")])) { response in
                #expect(response.status == .ok)
                return try #require(json(response.body)["access_token"] as? String)
            }
            let port = try #require(client.port)
            let result = try await run(python, ["-c", Self.script, "http://127.0.0.1:\(port)/.well-known/jwks.json", token,
                                                testIssuer, "https://api.example.com"])
            #expect(result.status == 0, "PyJWT refused the token: \(result.error)")
            let verified = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
            let claims = verified?["claims"] as? [String: Any]
            let header = verified?["header"] as? [String: Any]
            #expect(claims?["sub"] as? String == "demo")
            #expect(claims?["client_id"] as? String == "demo")
            #expect(header?["alg"] as? String == algorithm.jwsName)
            #expect(header?["typ"] as? String == "at+jwt")

            // The same library refuses a token with a tampered payload.
            let parts = token.split(separator: ".")
            let forged = Base64URL.encode(Array(#"{"sub":"mallory"}"#.utf8))
            let tampered = "\(parts[0]).\(forged).\(parts[2])"
            let refused = try await run(python, ["-c", Self.script, "http://127.0.0.1:\(port)/.well-known/jwks.json", tampered,
                                                 testIssuer, "https://api.example.com"])
            #expect(refused.status != 0)
        }
    }
}

/// The real executable: `tessera clients create`, `tessera serve` on a free port, a token over
/// HTTP, and a graceful stop on SIGTERM.
@Suite("tessera command line (end to end)")
struct CommandLineTests {
    static var executable: String? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tessera").path,
            FileManager.default.currentDirectoryPath + "/.build/debug/tessera",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func servesTokensFromAFreshFolderAndStopsOnSIGTERM() async throws {
        guard let tessera = Self.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-cli-\(UUID())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let folders = ["--keys", root + "/keys", "--policies", root + "/policies", "--data", root + "/data"]

        let created = try await run(tessera, ["clients", "create", "cli-demo", "--scope", "read", "--audience", "https://api.example.com"] + folders)
        #expect(created.status == 0, "\(created.error)")
        let secret = try #require(created.output.split(separator: "\n").first { $0.hasPrefix("client_secret: ") }?
            .dropFirst("client_secret: ".count))

        let broken = try await run(tessera, ["serve", "--listen", "nonsense"] + folders)
        #expect(broken.status != 0)
        #expect(broken.error.contains("--listen"))

        let server = Process()
        server.executableURL = URL(fileURLWithPath: tessera)
        let badSink = try await run(tessera, ["serve", "--audit-sink", "ftp://siem"] + folders)
        #expect(badSink.status != 0)
        #expect(badSink.error.contains("unknown audit sink ftp://siem"), "\(badSink.error)")

        let siemFile = root + "/siem/audit.jsonl"
        server.arguments = ["serve", "--listen", "127.0.0.1:0", "--issuer", "http://127.0.0.1", "--log-format", "json",
                            "--audit-sink", "file:" + siemFile] + folders
        let log = Pipe()
        server.standardError = log
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }

        let port = try await Self.waitForListeningPort(log.fileHandleForReading)
        let keys = try await run(tessera, ["keys", "list", "--keys", root + "/keys"])
        #expect(keys.output.contains("ES256") && keys.output.contains("current"), "\(keys.output)")

        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/token")!)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.setValue("Basic " + Data("cli-demo:\(secret)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        request.httpBody = Data("grant_type=client_credentials".utf8)
        let (body, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200, "\(String(decoding: body, as: UTF8.self))")
        let object = try JSONSerialization.jsonObject(with: body) as? [String: Any]
        #expect((object?["access_token"] as? String)?.split(separator: ".").count == 3)
        // The server signed a checkpoint of its start-up entries and publishes it.
        let (published, checkpointResponse) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/audit/checkpoint")!)
        #expect((checkpointResponse as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type") == "application/jwt")
        let publishedFile = root + "/published.jws"
        try published.write(to: URL(fileURLWithPath: publishedFile))

        // The file sink streams the entries, the token's among them, within its poll interval.
        let streamed = try await onBlockingThread { () -> String in
            let deadline = Date().addingTimeInterval(15)
            var text = ""
            while Date() < deadline, !text.contains("token.issued") {
                Thread.sleep(forTimeInterval: 0.1)
                text = (try? String(contentsOfFile: siemFile, encoding: .utf8)) ?? ""
            }
            return text
        }
        #expect(streamed.split(separator: "\n").count == 4, "\(streamed)")
        #expect(streamed.contains(#""event":"token.issued""#), "\(streamed)")

        server.terminate()  // SIGTERM
        let exited = try await onBlockingThread { () -> Int32 in
            server.waitUntilExit()
            return server.terminationStatus
        }
        #expect(exited == 0, "tessera serve did not exit cleanly on SIGTERM")

        // The audit log holds the start-up events, the first checkpoint and the token, and verifies.
        let data = ["--data", root + "/data"]
        let tail = try await run(tessera, ["audit", "tail", "-n", "10"] + data)
        #expect(tail.output.contains(#""event":"token.issued""#), "\(tail.output)")
        #expect(tail.output.contains(#""event":"key.generated""#), "\(tail.output)")
        let verified = try await run(tessera, ["audit", "verify"] + data)
        #expect(verified.status == 0, "\(verified.error)")
        #expect(verified.output.contains("audit log verified: 4 entries"), "\(verified.output)")
        let servedCheckpoint = try await run(tessera, ["audit", "verify", "--from-checkpoint", publishedFile, "--issuer", "http://127.0.0.1"] + folders)
        #expect(servedCheckpoint.output.contains("checkpoint confirmed: entry 2 unchanged"), "\(servedCheckpoint.output) \(servedCheckpoint.error)")

        // A checkpoint signed now proves later that the log was not rewritten or cut short.
        let checkpoint = try await run(tessera, ["audit", "checkpoint", "--issuer", "http://127.0.0.1"] + folders)
        #expect(checkpoint.status == 0, "\(checkpoint.error)")
        let checkpointFile = root + "/checkpoint.jws"
        try checkpoint.output.write(toFile: checkpointFile, atomically: true, encoding: .utf8)
        let fromCheckpoint = ["audit", "verify", "--from-checkpoint", checkpointFile, "--issuer", "http://127.0.0.1"] + folders
        let confirmed = try await run(tessera, fromCheckpoint)
        #expect(confirmed.status == 0, "\(confirmed.error)")
        #expect(confirmed.output.contains("checkpoint confirmed: entry 4 unchanged"), "\(confirmed.output)")
        let otherIssuer = try await run(tessera, ["audit", "verify", "--from-checkpoint", checkpointFile, "--issuer", "https://elsewhere"] + folders)
        #expect(otherIssuer.status != 0)

        // Editing one entry in the database is caught, and the entry named.
        guard let python = which("python3") else {
            peerMissing("python3 (its sqlite3 module edits the database)")
            return
        }
        let edit = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            + "c.execute(\"UPDATE audit_log SET body = replace(body, 'cli-demo', 'mallory') WHERE event = 'token.issued'\"); c.commit()"
        let tampered = try await run(python, ["-c", edit, root + "/data/tessera.sqlite"])
        #expect(tampered.status == 0, "\(tampered.error)")
        let caught = try await run(tessera, ["audit", "verify"] + data)
        #expect(caught.status != 0)
        #expect(caught.error.contains("audit log broken at entry 4: hash mismatch"), "\(caught.error)")

        // Cutting off the end leaves a valid shorter chain; only the checkpoint reveals it.
        let truncate = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('DELETE FROM audit_log WHERE sequence >= 4'); c.commit()"
        #expect(try await run(python, ["-c", truncate, root + "/data/tessera.sqlite"]).status == 0)
        #expect(try await run(tessera, ["audit", "verify"] + data).status == 0)
        let truncated = try await run(tessera, fromCheckpoint)
        #expect(truncated.status != 0)
        #expect(truncated.error.contains("the log ends before the checkpointed entry 4"), "\(truncated.error)")
    }

    /// Reads JSON log lines until the server says where it listens.
    static func waitForListeningPort(_ handle: FileHandle) async throws -> Int {
        try await onBlockingThread {
            var buffer = Data()
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                for line in buffer.split(separator: UInt8(ascii: "\n")) {
                    guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                          object["message"] as? String == "listening",
                          let port = (object["tessera.port"] as? String).flatMap(Int.init)
                    else { continue }
                    return port
                }
            }
            throw CancellationError()
        }
    }
}
