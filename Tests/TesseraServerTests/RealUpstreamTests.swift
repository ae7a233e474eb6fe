import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TesseraCore
import TesseraCrypto

/// Token exchange with identity tokens from an OpenID Connect provider nobody here wrote:
/// `oidc-provider-mock` (PyPI, 0.3.4), a Flask/Authlib provider run as a process on loopback.
/// Its ID tokens come out of a real authorization code flow (client registration, the
/// authorization endpoint with the subject posted as a form, the code redeemed at its token
/// endpoint), and Tessera finds its keys through its discovery document.
@Suite("token exchange with a real OIDC provider (oidc-provider-mock)")
struct RealUpstreamTests {
    /// Drives oidc-provider-mock over HTTP with the standard library only.
    ///   register BASE                                 -> {"client_id": ..., "client_secret": ...}
    ///   id-token BASE CLIENT_ID CLIENT_SECRET SUB CLAIMS_JSON -> the ID token
    /// The redirect URI is never contacted: the code is read from the Location header of the
    /// authorization endpoint's 302, which is not followed.
    static let script = #"""
    import base64, json, sys, urllib.error, urllib.parse, urllib.request

    REDIRECT = "http://127.0.0.1:1/cb"

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            return None

    opener = urllib.request.build_opener(NoRedirect)

    def call(base, method, path, body, content_type, authorization=None):
        headers = {"Content-Type": content_type}
        if authorization:
            headers["Authorization"] = authorization
        request = urllib.request.Request(base + path, data=body, method=method, headers=headers)
        try:
            with opener.open(request, timeout=20) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def expect(status, wanted, what, body):
        if status != wanted:
            sys.exit(f"{what}: HTTP {status}, expected {wanted}: {body[:500]!r}")

    mode, base = sys.argv[1], sys.argv[2]
    if mode == "register":
        # RFC 7591 registration: a confidential client (client_secret_basic), the only kind
        # whose codes the mock redeems.
        status, _, body = call(base, "POST", "/oauth2/clients", json.dumps({"redirect_uris": [REDIRECT]}).encode(),
                               "application/json")
        expect(status, 201, "client registration", body)
        client = json.loads(body)
        print(json.dumps({"client_id": client["client_id"], "client_secret": client["client_secret"]}))
    elif mode == "id-token":
        client_id, client_secret, sub, claims = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
        # The user's claims (replacing any earlier ones): every one of them goes into the ID token.
        status, _, body = call(base, "PUT", "/users/" + urllib.parse.quote(sub, safe=""), claims.encode(),
                               "application/json")
        expect(status, 204, "setting the user's claims", body)
        # The authorization endpoint's form, submitted as a person would: the subject to sign in as.
        # Standard claims such as email reach the ID token only with their scope; others always do.
        query = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
                                        "scope": "openid email", "state": "interop"})
        status, headers, body = call(base, "POST", "/oauth2/authorize?" + query,
                                     urllib.parse.urlencode({"sub": sub}).encode(), "application/x-www-form-urlencoded")
        expect(status, 302, "authorization", body)
        location = urllib.parse.urlparse(headers["Location"])
        parameters = urllib.parse.parse_qs(location.query)
        if parameters.get("state") != ["interop"] or "code" not in parameters:
            sys.exit(f"authorization redirected without a code: {headers['Location']}")
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": parameters["code"][0],
                                       "redirect_uri": REDIRECT}).encode()
        status, _, body = call(base, "POST", "/oauth2/token", form, "application/x-www-form-urlencoded", "Basic " + basic)
        expect(status, 200, "code redemption", body)
        print(json.loads(body)["id_token"])
    else:
        sys.exit(f"unknown mode {mode}")
    """#

    /// Runs the mock's command line in a Python that also ends it when the test process is gone
    /// (its stdin reaches end of file) or after ten minutes, whichever comes first: a crashed or
    /// killed test run leaves no provider behind.
    static let launcher = #"""
    import os, runpy, sys, threading
    def watch():
        sys.stdin.buffer.read()
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()
    threading.Timer(600, lambda: os._exit(0)).start()
    sys.argv = ["oidc_provider_mock", "--host", "127.0.0.1", "--port", "0"]
    runpy.run_module("oidc_provider_mock", run_name="__main__", alter_sys=True)
    """#

    static func mockAvailable() async -> Bool {
        guard let python = which("python3") else { return false }
        return (try? await run(python, ["-c", "import oidc_provider_mock"]).status) == 0
    }

    @Test func exchangesIdentityTokensFromOIDCProviderMock() async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        guard await Self.mockAvailable(), let python = which("python3") else {
            peerMissing("python3 with oidc-provider-mock 0.3.4 (pip install oidc-provider-mock==0.3.4)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-real-upstream-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/policies/roles", withIntermediateDirectories: true)

        let mock = try await MockProvider.start(python: python, launcher: Self.launcher, log: root + "/mock.log")
        defer { mock.kill() }
        // The mock's iss is its request's Host: Tessera and the script both use 127.0.0.1.
        let upstreamIssuer = "http://127.0.0.1:\(mock.port)"

        func provider(_ arguments: [String]) async throws -> String {
            let result = try await run(python, ["-c", Self.script] + arguments)
            try #require(result.status == 0, "oidc-provider-mock: \(result.error)\n\(mock.log())")
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func register() async throws -> (id: String, secret: String) {
            let client = try JSONSerialization.jsonObject(with: Data(try await provider(["register", upstreamIssuer]).utf8)) as? [String: Any]
            return (try #require(client?["client_id"] as? String), try #require(client?["client_secret"] as? String))
        }
        func idToken(_ client: (id: String, secret: String), subject: String, claims: [String: Any]) async throws -> String {
            let claimsJSON = String(decoding: try JSONSerialization.data(withJSONObject: claims), as: UTF8.self)
            return try await provider(["id-token", upstreamIssuer, client.id, client.secret, subject, claimsJSON])
        }

        // The CLI's client at the IdP: its id is the audience Tessera accepts.
        let cli = try await register()
        try """
        clients:
          - id: tessera-cli
            public: true
        """.write(toFile: root + "/policies/clients.yaml", atomically: true, encoding: .utf8)
        try """
        upstreams:
          - id: mock
            description: oidc-provider-mock on loopback
            issuer: \(upstreamIssuer)
            discovery: true
            audiences: [\(cli.id)]
            algorithms: [RS256]
            claims:
              device_compliant: {claim: device_compliant, values: [true]}
        """.write(toFile: root + "/policies/upstreams.yaml", atomically: true, encoding: .utf8)
        try """
        roles:
          - name: payments-readonly
            audiences: [https://api.example.com]
            scopes: [payments:read]
            default_duration: 15m
            max_duration: 1h
            eligible:
              upstreams: [mock]
              groups: [payments-sre]
            conditions:
              mfa: true
              max_auth_age: 1h
              device_compliant: true
        """.write(toFile: root + "/policies/roles/test.yaml", atomically: true, encoding: .utf8)

        let issuer = "http://127.0.0.1:8080"
        #expect(try await run(tessera, ["keys", "generate", "--keys", root + "/keys"]).status == 0)
        let checked = try await run(tessera, ["policy", "check", "--policies", root + "/policies"])
        try #require(checked.status == 0, "\(checked.output)\(checked.error)")
        let server = try await Replica.start(tessera, ["--keys", root + "/keys", "--policies", root + "/policies",
                                                       "--data", root + "/data", "--issuer", issuer])
        defer { server.kill() }

        func exchange(_ token: String) async throws -> (status: Int, body: [String: Any]) {
            try await server.send("/token", ["grant_type": TokenExchangeTests.exchange, "client_id": "tessera-cli",
                                             "subject_token": token, "subject_token_type": TokenExchangeTests.idTokenType,
                                             "scope": "payments-readonly"], nil)
        }

        // Signed in with MFA, on a compliant device, in the eligible group: a role token.
        let alice = try await idToken(cli, subject: "alice", claims: ["email": "alice@example.com", "groups": ["payments-sre"],
                                                                      "amr": ["pwd", "mfa"], "device_compliant": true])
        let granted = try await exchange(alice)
        #expect(granted.status == 200, "\(granted.body)\n\(mock.log())")
        #expect(granted.body["issued_token_type"] as? String == "urn:ietf:params:oauth:token-type:access_token")
        #expect(granted.body["scope"] as? String == "payments:read")
        #expect(granted.body["expires_in"] as? Int == 900)
        let token = try #require(granted.body["access_token"] as? String)

        if await PyJWTInteropTests.pyJWTAvailable() {
            let verified = try await run(python, ["-c", PyJWTInteropTests.script, "http://127.0.0.1:\(server.port)/.well-known/jwks.json",
                                                  token, issuer, "https://api.example.com"])
            #expect(verified.status == 0, "PyJWT refused the role token: \(verified.error)")
            let claims = (try JSONSerialization.jsonObject(with: Data(verified.output.utf8)) as? [String: Any])?["claims"] as? [String: Any]
            #expect(claims?["sub"] as? String == "mock:alice")
            #expect(claims?["roles"] as? [String] == ["payments-readonly"])
            #expect(claims?["idp"] as? String == "mock")
            #expect(claims?["amr"] as? [String] == ["pwd", "mfa"])
            #expect(claims?["email"] as? String == "alice@example.com")
            #expect(claims?["client_id"] as? String == "tessera-cli")
            // The provider's auth_time, carried over.
            let upstreamClaims = try Self.payload(alice)
            #expect(claims?["auth_time"] as? Int == upstreamClaims["auth_time"] as? Int)
        } else {
            peerMissing("python3 with PyJWT and cryptography (pip install pyjwt cryptography)")
        }

        // A password-only sign-in at the same provider is denied, and told why.
        let bob = try await idToken(cli, subject: "bob", claims: ["groups": ["payments-sre"], "amr": ["pwd"], "device_compliant": true])
        let denied = try await exchange(bob)
        #expect(denied.status == 403, "\(denied.body)")
        #expect(denied.body["error"] as? String == "access_denied")
        #expect((denied.body["error_description"] as? String)?.contains("MFA") == true, "\(denied.body)")

        // The provider's token with its payload changed keeps the provider's signature: refused.
        let parts = alice.split(separator: ".").map(String.init)
        var payload = try Self.payload(alice)
        payload["sub"] = "mallory"
        let forged = Base64URL.encode(Array(try JSONSerialization.data(withJSONObject: payload)))
        let tampered = try await exchange("\(parts[0]).\(forged).\(parts[2])")
        #expect(tampered.status == 400, "\(tampered.body)")
        #expect(tampered.body["error"] as? String == "invalid_grant")
        #expect((tampered.body["error_description"] as? String)?.contains("signature") == true, "\(tampered.body)")

        // A genuine token of the same provider, minted for another of its applications: refused.
        let other = try await register()
        let foreign = try await exchange(try await idToken(other, subject: "alice", claims: ["groups": ["payments-sre"],
                                                                                                 "amr": ["pwd", "mfa"], "device_compliant": true]))
        #expect(foreign.status == 400, "\(foreign.body)")
        #expect(foreign.body["error"] as? String == "invalid_grant")
        #expect((foreign.body["error_description"] as? String)?.contains("audience") == true, "\(foreign.body)")

        try await server.stop()
        try await mock.stop()
    }

    /// The claims of a JWT, unverified.
    static func payload(_ jwt: String) throws -> [String: Any] {
        let part = jwt.split(separator: ".").dropFirst().first.map(String.init) ?? ""
        let bytes = try #require(Base64URL.decode(part))
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }
}

/// oidc-provider-mock as a process on a free loopback port. Its log goes to a file (never a
/// pipe that must be drained); it holds client secrets, so it stays in the test's folder.
struct MockProvider: Sendable {
    let process: Process
    /// The write end of the provider's stdin: closing it (or the test process ending) stops it.
    let lifeline: Pipe
    let port: Int
    let logPath: String

    static func start(python: String, launcher: String, log logPath: String) async throws -> MockProvider {
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw MockProviderError(message: "cannot create \(logPath)")
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", launcher]
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        environment["PYTHONWARNINGS"] = "ignore"
        process.environment = environment
        let lifeline = Pipe()
        process.standardInput = lifeline
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try? log.close()
        // uvicorn logs the port it bound: "Uvicorn running on http://127.0.0.1:PORT".
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"running on http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression),
               let port = Int(text[range].split(separator: ":").last ?? "") {
                return MockProvider(process: process, lifeline: lifeline, port: port, logPath: logPath)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        if process.isRunning { process.terminate() }
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw MockProviderError(message: "oidc-provider-mock did not start listening: \(text)")
    }

    func log() -> String {
        "oidc-provider-mock log:\n" + ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
    }

    /// SIGTERM, and wait for it to exit.
    func stop() async throws {
        try? lifeline.fileHandleForWriting.close()
        guard process.isRunning else { return }
        process.terminate()
        try await onBlockingThread { process.waitUntilExit() }
    }

    func kill() {
        if process.isRunning { process.terminate() }
    }
}

struct MockProviderError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
