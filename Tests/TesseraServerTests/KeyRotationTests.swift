import Foundation
import Testing
import TesseraCore
import TesseraCrypto

/// Key rotation on a running `tessera serve`, judged by a verifier nobody here wrote: PyJWT's
/// `PyJWKClient` with its default cache (the JWKS kept 300 s, refetched on an unknown kid).
@Suite("key rotation under load")
struct KeyRotationTests {
    /// Requests tokens for `seconds` from 4 threads and verifies each at once through the JWKS.
    static let script = #"""
    import base64, json, sys, threading, time, urllib.request
    import jwt
    base, client, secret, issuer, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    jwks = jwt.PyJWKClient(base + "/.well-known/jwks.json")
    auth = "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()
    lock = threading.Lock()
    result = {"tokens": 0, "failures": [], "kids": []}
    def work():
        deadline = time.time() + seconds
        while time.time() < deadline:
            request = urllib.request.Request(base + "/token", data=b"grant_type=client_credentials",
                                             headers={"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
            token = json.load(urllib.request.urlopen(request))["access_token"]
            try:
                key = jwks.get_signing_key_from_jwt(token)
                jwt.decode(token, key.key, algorithms=["ES256"], audience="https://api.example.com", issuer=issuer)
                with lock:
                    result["tokens"] += 1
                    if key.key_id not in result["kids"]:
                        result["kids"].append(key.key_id)
            except Exception as error:
                with lock:
                    result["failures"].append(f"{type(error).__name__}: {error}")
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads: thread.start()
    for thread in threads: thread.join()
    print(json.dumps(result))
    """#

    @Test func pyJWKClientVerifiesEveryTokenWhileKeysRotate() async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        guard await PyJWTInteropTests.pyJWTAvailable(), let python = which("python3") else {
            peerMissing("python3 with PyJWT and cryptography (pip install pyjwt cryptography)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-rotation-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/policies", withIntermediateDirectories: true)
        let secret = ClientSecret.generate()
        try """
        clients:
          - id: app
            secret_sha256: "\(secret.sha256Hex)"
            audiences: [https://api.example.com]
            token_lifetime: 30s
        """.write(toFile: root + "/policies/clients.yaml", atomically: true, encoding: .utf8)
        // A rotation every 40 s, each key published 32 s before it signs: test timings only, but
        // longer than PyJWKClient's 30 s cooldown between refetches on an unknown kid, the one
        // cache rule of this verifier a key published for less time could break.
        try """
        signing_keys:
          prepublish: 32s
          rotation:
            - alg: ES256
              every: 40s
        """.write(toFile: root + "/policies/keys.yaml", atomically: true, encoding: .utf8)
        let issuer = "https://tessera.example"
        let server = try await Replica.start(tessera, ["--keys", root + "/keys", "--policies", root + "/policies", "--data", root + "/data",
                                                       "--issuer", issuer, "--unsafe-short-key-timings", "--key-check-interval", "1s"])
        defer { server.kill() }

        let result = try await run(python, ["-c", Self.script, "http://127.0.0.1:\(server.port)", "app", secret.secret, issuer, "90"], timeout: 150)
        try #require(result.status == 0, "the verifier script failed: \(result.error)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let failures = report["failures"] as? [String] ?? ["(no report)"]
        let kids = report["kids"] as? [String] ?? []
        #expect(failures.count == 0, "tokens failed verification, first: \(failures.prefix(3))")
        #expect((report["tokens"] as? Int ?? 0) >= 40, "too few tokens to judge: \(report)")
        #expect(kids.count >= 3, "keys did not rotate at least twice: \(kids)")

        let keys = try await run(tessera, ["keys", "list", "--keys", root + "/keys", "--policies", root + "/policies", "--data", root + "/data"])
        #expect(keys.status == 0, "\(keys.error)")
        #expect(keys.output.contains("previous") && keys.output.contains("current"), "\(keys.output)")
        try await server.stop()
    }

    @Test func aTooShortPrepublicationIsRefusedWithTheReason() async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-prepublish-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/policies", withIntermediateDirectories: true)
        try "signing_keys:\n  prepublish: 5m\n".write(toFile: root + "/policies/keys.yaml", atomically: true, encoding: .utf8)
        let result = try await run(tessera, ["serve", "--listen", "127.0.0.1:0", "--keys", root + "/keys", "--policies", root + "/policies",
                                             "--data", root + "/data"], timeout: 30)
        #expect(result.status != 0)
        #expect(result.error.contains("too short") && result.error.contains("15m"), "\(result.error)")
    }

    /// The key commands on a keys folder sealed with a key-encryption key.
    @Test func keyCommandsOnAnEncryptedFolder() async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-key-commands-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/policies", withIntermediateDirectories: true)
        let kek = try await run(tessera, ["keys", "kek"])
        #expect(kek.status == 0)
        let kekFile = root + "/kek"
        #expect(FileManager.default.createFile(atPath: kekFile, contents: Data(kek.output.utf8), attributes: [.posixPermissions: 0o600]))
        let folder = ["--keys", root + "/keys", "--policies", root + "/policies", "--data", root + "/data"]
        let sealed = folder + ["--key-encryption-key-file", kekFile]

        #expect(try await run(tessera, ["keys", "generate"] + sealed).status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: root + "/keys")
        let sealedFile = try #require(files.first { $0.hasSuffix(".sealed") }, "\(files)")
        #expect(!files.contains { $0.hasSuffix(".pem") }, "a private key was written in clear: \(files)")
        let firstKID = String(sealedFile.dropLast(".sealed".count))
        let again = try await run(tessera, ["keys", "generate"] + sealed)
        #expect(again.status != 0 && again.error.contains("keys rotate"), "\(again.error)")

        let withoutKEK = try await run(tessera, ["keys", "list"] + folder)
        #expect(withoutKEK.status != 0 && withoutKEK.error.contains("key-encryption key"), "\(withoutKEK.error)")

        let pemFile = root + "/imported.pem"
        try PrivateKey.generate(.p256).pkcs8PEM().write(toFile: pemFile, atomically: true, encoding: .utf8)
        let imported = try await run(tessera, ["keys", "import", pemFile] + sealed)
        #expect(imported.status == 0 && imported.output.contains("as next"), "\(imported.output) \(imported.error)")

        // A kid may start with '-', so it goes after `--`.
        let revoked = try await run(tessera, ["keys", "revoke", "--reason", "copied to a stolen laptop"] + sealed + ["--", firstKID])
        #expect(revoked.status == 0, "\(revoked.error)")
        #expect(!FileManager.default.fileExists(atPath: root + "/keys/" + sealedFile), "the revoked key's private part is still on disk")
        let listed = try await run(tessera, ["keys", "list"] + sealed)
        #expect(listed.output.contains("revoked") && listed.output.contains("copied to a stolen laptop"), "\(listed.output)")
        #expect(listed.output.contains(" current "), "the imported key did not replace the revoked one: \(listed.output)")

        let remaining = try #require(try FileManager.default.contentsOfDirectory(atPath: root + "/keys").first { $0.hasSuffix(".sealed") })
        chmod(root + "/keys/" + remaining, 0o644)
        let loose = try await run(tessera, ["keys", "list"] + sealed)
        #expect(loose.status != 0 && loose.error.contains("chmod 600"), "\(loose.error)")
    }

    /// One current key per algorithm: a client created with `--signing-alg RS256` gets RS256
    /// tokens while the others keep ES256, and the JWKS publishes both keys.
    @Test func aClientChoosesItsSigningAlgorithm() async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-algorithms-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/policies", withIntermediateDirectories: true)
        let policies = ["--policies", root + "/policies"]
        let rsa = try await run(tessera, ["clients", "create", "legacy-rs", "--audience", "https://old.example.com", "--signing-alg", "RS256"] + policies)
        let ec = try await run(tessera, ["clients", "create", "modern", "--audience", "https://api.example.com"] + policies)
        #expect(rsa.status == 0 && ec.status == 0, "\(rsa.error) \(ec.error)")
        let bad = try await run(tessera, ["clients", "create", "odd", "--audience", "https://x.example", "--signing-alg", "HS256"] + policies)
        #expect(bad.status != 0 && bad.error.contains("--signing-alg"), "\(bad.error)")
        let secret = { (output: String) in
            output.split(separator: "\n").first { $0.hasPrefix("client_secret:") }.map { String($0.dropFirst("client_secret:".count)).trimmingCharacters(in: .whitespaces) }
        }
        let server = try await Replica.start(tessera, ["--keys", root + "/keys", "--data", root + "/data"] + policies)
        defer { server.kill() }
        func algorithm(_ client: String, _ output: String) async throws -> String? {
            let authorization = "Basic " + Data("\(client):\(secret(output) ?? "")".utf8).base64EncodedString()
            let token = try #require(try await server.token(authorization), "no token for \(client)")
            return TokenExchangeTests.algorithm(of: token)
        }
        #expect(try await algorithm("legacy-rs", rsa.output) == "RS256")
        #expect(try await algorithm("modern", ec.output) == "ES256")
        let jwks = try await server.jwks()
        #expect(jwks.contains(#""alg":"RS256""#) && jwks.contains(#""alg":"ES256""#), "\(jwks)")
        try await server.stop()
    }
}
