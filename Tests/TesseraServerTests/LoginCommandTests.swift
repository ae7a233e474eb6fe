import Foundation
import Testing

/// `tessera login` as a person uses it: the CLI opens "the browser" (`$BROWSER`, here a script
/// that follows the authorization URL, submits the provider's form and follows the redirect to
/// the CLI's loopback listener), keeps the ID token, and later commands exchange it at a live
/// `tessera serve` that trusts the same provider.
@Suite("tessera login against OpenID Connect providers", .serialized)
struct LoginCommandTests {
    /// The browser: `BROWSER_ACTION` is `sign-in` (the default), `deny` (the person refuses at
    /// the provider) or `forge-state` (the redirect arrives with another attempt's state).
    static let browser = #"""
    import os, sys, urllib.error, urllib.parse, urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    log = open(os.environ["BROWSER_LOG"], "a")
    action = os.environ.get("BROWSER_ACTION", "sign-in")

    def visit(request):
        try:
            return opener.open(request, timeout=20)
        except urllib.error.HTTPError as error:
            return error

    url = sys.argv[1]
    answer = visit(url)
    if answer.status == 200:
        # The provider's sign-in form (oidc-provider-mock): the subject, or its Deny button.
        fields = {"action": "deny"} if action == "deny" else {"sub": os.environ["BROWSER_SUBJECT"]}
        answer = visit(urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST",
                                              headers={"Content-Type": "application/x-www-form-urlencoded"}))
    location = answer.headers["Location"]
    log.write(f"provider answered {answer.status}, redirecting to {location}\n")
    if action == "forge-state":
        parts = urllib.parse.urlsplit(location)
        query = dict(urllib.parse.parse_qsl(parts.query))
        query["state"] = "another-attempt"
        location = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    done = visit(location)
    log.write(f"callback answered {done.status}: {done.read().decode()}\n")
    """#

    /// A provider written for this test, where oidc-provider-mock falls short: it refuses an
    /// authorization request without PKCE and a code whose verifier does not match its S256
    /// challenge, and it refreshes ID tokens (rotating the refresh token; a used one is
    /// refused). `mode.json` in its folder sets the subject, the ID tokens' lifetime and
    /// whether the nonce is echoed; every step is appended to `events.log`.
    static func stubProvider(folder: String) -> String {
        #"""
        import base64, hashlib, json, os, secrets, sys, threading, time, urllib.parse
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec
        from jwt.algorithms import ECAlgorithm

        folder = "\#(folder)"
        key = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        jwk.update(kid="stub-1", alg="ES256", use="sig")
        codes, refresh_tokens, lock = {}, {}, threading.Lock()

        def mode():
            with open(os.path.join(folder, "mode.json")) as file:
                return json.load(file)

        def record(event):
            with open(os.path.join(folder, "events.log"), "a") as file:
                file.write(event + "\n")

        def tokens(issuer, subject, nonce):
            settings, now = mode(), int(time.time())
            claims = {"iss": issuer, "sub": subject, "aud": "tessera-cli", "iat": now, "exp": now + settings["lifetime"],
                      "email": subject, "amr": ["pwd", "mfa"]}
            if nonce is not None:
                claims["nonce"] = nonce if settings.get("nonce", "echo") == "echo" else "another-nonce"
            refresh = secrets.token_urlsafe(16)
            with lock:
                refresh_tokens[refresh] = subject
            return {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": settings["lifetime"],
                    "id_token": jwt.encode(claims, key, algorithm="ES256", headers={"kid": "stub-1"}), "refresh_token": refresh}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body=None, location=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def issuer(self):
                return f"http://127.0.0.1:{self.server.server_port}"

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                issuer = self.issuer()
                if url.path == "/.well-known/openid-configuration":
                    return self.reply(200, {"issuer": issuer, "authorization_endpoint": issuer + "/authorize",
                                            "token_endpoint": issuer + "/token", "jwks_uri": issuer + "/jwks",
                                            "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"]})
                if url.path == "/jwks":
                    return self.reply(200, {"keys": [jwk]})
                if url.path == "/authorize":
                    if query.get("code_challenge_method") != "S256" or len(query.get("code_challenge", "")) != 43:
                        record("authorization refused: no S256 PKCE challenge")
                        return self.reply(400, {"error": "invalid_request"})
                    code = secrets.token_urlsafe(16)
                    with lock:
                        codes[code] = (query["redirect_uri"], query["code_challenge"], query.get("nonce"))
                    record("authorized")
                    return self.reply(302, location=query["redirect_uri"] + "?" + urllib.parse.urlencode(
                        {"code": code, "state": query["state"], "iss": issuer}))
                self.reply(404, {"error": "not_found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if form.get("client_id") != "tessera-cli" or "Authorization" in self.headers:
                    return self.reply(401, {"error": "invalid_client"})
                if form.get("grant_type") == "authorization_code":
                    with lock:
                        entry = codes.pop(form.get("code"), None)
                    if entry is None:
                        return self.reply(400, {"error": "invalid_grant"})
                    redirect_uri, challenge, nonce = entry
                    digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                    if form.get("redirect_uri") != redirect_uri or base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                        record("code refused: the PKCE verifier does not match")
                        return self.reply(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
                    record("code redeemed")
                    return self.reply(200, tokens(self.issuer(), mode()["subject"], nonce or ""))
                if form.get("grant_type") == "refresh_token":
                    with lock:
                        subject = refresh_tokens.pop(form.get("refresh_token"), None)
                    if subject is None:
                        record("refresh refused: unknown or used refresh token")
                        return self.reply(400, {"error": "invalid_grant"})
                    record("refreshed")
                    return self.reply(200, tokens(self.issuer(), subject, None))
                self.reply(400, {"error": "unsupported_grant_type"})

        def watch():
            sys.stdin.buffer.read()
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
        threading.Timer(600, lambda: os._exit(0)).start()
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(f"running on http://127.0.0.1:{server.server_port}", flush=True)
        server.serve_forever()
        """#
    }

    /// A Tessera trusting one provider (by discovery) for the role `readonly`, and the CLI's
    /// config: `subject_token.login` at that provider, or (`clientSecret` nil) only the
    /// server's URL, the provider coming from what the server publishes (`login:` of the
    /// upstream).
    struct Setup {
        let root: String
        let tessera: String
        let python: String
        let server: ReviewServer
        let providerIssuer: String

        static func start(providerIssuer: String, algorithm: String, subject: String, clientSecret: String?, in root: String) async throws -> Setup {
            let tessera = try ActivationFlowTests.tesseraExecutable()
            let python = try #require(which("python3"))
            try FileManager.default.createDirectory(atPath: root + "/policies/roles", withIntermediateDirectories: true)
            try "clients:\n  - id: tessera-cli\n    public: true\n".write(toFile: root + "/policies/clients.yaml", atomically: true, encoding: .utf8)
            try """
            upstreams:
              - id: company
                issuer: \(providerIssuer)
                discovery: true
                audiences: [tessera-cli]
                algorithms: [\(algorithm)]
            \(clientSecret == nil ? "    login: {client_id: tessera-cli}" : "")
            """.write(toFile: root + "/policies/upstreams.yaml", atomically: true, encoding: .utf8)
            try """
            roles:
              - name: readonly
                audiences: [https://api.example.com]
                scopes: [api:read]
                default_duration: 15m
                max_duration: 1h
                eligible:
                  upstreams: [company]
                  subjects: ["\(subject)"]
            """.write(toFile: root + "/policies/roles/readonly.yaml", atomically: true, encoding: .utf8)
            let generated = try await run(tessera, ["keys", "generate", "--keys", root + "/keys"])
            try #require(generated.status == 0, "\(generated.error)")
            let port = try LoopbackSocket.freePort()
            let server = try await ReviewServer.start(tessera, root: root, arguments: [
                "--keys", root + "/keys", "--policies", root + "/policies", "--data", root + "/data", "--issuer", "http://127.0.0.1:\(port)",
            ], listen: "127.0.0.1:\(port)")
            let login = clientSecret.map { "\n    subject_token:\n      login: {issuer: \"\(providerIssuer)\", client_id: tessera-cli, client_secret: \"\($0)\"}" }
            try FileManager.default.createDirectory(atPath: root + "/home/config/tessera", withIntermediateDirectories: true)
            try "servers:\n  company:\n    url: http://127.0.0.1:\(server.port)\(login ?? "")\n"
                .write(toFile: root + "/home/config/tessera/config.yaml", atomically: true, encoding: .utf8)
            try Data(LoginCommandTests.browser.utf8).write(to: URL(fileURLWithPath: root + "/browser.py"))
            return Setup(root: root, tessera: tessera, python: python, server: server, providerIssuer: providerIssuer)
        }

        var sessionPath: String { root + "/home/cache/tessera/company/login.json" }

        func environment(browserAction: String = "sign-in", subject: String = "") -> [String: String] {
            ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": root + "/home",
             "XDG_CONFIG_HOME": root + "/home/config", "XDG_CACHE_HOME": root + "/home/cache",
             "BROWSER": "\(python) \(root)/browser.py", "BROWSER_LOG": root + "/browser.log", "BROWSER_ACTION": browserAction,
             "BROWSER_SUBJECT": subject]
        }

        func tessera(_ arguments: [String], _ environment: [String: String]) async throws -> ProcessResult {
            try await run(tessera, arguments, timeout: 60, environment: environment)
        }

        func browserLog() -> String { (try? String(contentsOfFile: root + "/browser.log", encoding: .utf8)) ?? "" }

        /// The kept session's `expires_at` moved into the past, as if an hour had gone by.
        func expireSession() throws {
            var session = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sessionPath))) as? [String: Any])
            session["expires_at"] = 1_000_000_000
            try JSONSerialization.data(withJSONObject: session).write(to: URL(fileURLWithPath: sessionPath))
        }
    }

    static func permissions(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func signsInAtOIDCProviderMockAndExchangesTheIDToken() async throws {
        guard await RealUpstreamTests.mockAvailable(), let python = which("python3") else {
            peerMissing("python3 with oidc-provider-mock 0.3.4 (pip install oidc-provider-mock==0.3.4)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-login-\(UUID())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let mock = try await MockProvider.start(python: python, launcher: RealUpstreamTests.launcher, log: root + "/mock.log")
        defer { mock.kill() }
        // The mock redeems codes only for clients with a secret; unregistered ones accept any.
        let setup = try await Setup.start(providerIssuer: "http://127.0.0.1:\(mock.port)", algorithm: "RS256",
                                          subject: "alice@example.com", clientSecret: "not-a-secret", in: root)
        defer { setup.server.kill() }
        let alice = setup.environment(subject: "alice@example.com")

        // Before signing in, a token command says what to do.
        let early = try await setup.tessera(["token", "readonly"], alice)
        #expect(early.status == 77, "\(early.error)")
        #expect(early.error.contains("not signed in to \(setup.providerIssuer): run `tessera login`"), "\(early.error)")

        let login = try await setup.tessera(["login"], alice)
        try #require(login.status == 0, "\(login.error)\n\(setup.browserLog())\n\(mock.log())")
        #expect(login.output.contains("signed in to \(setup.providerIssuer) as alice@example.com"), "\(login.output)")
        #expect(login.error.contains("\(setup.providerIssuer)/oauth2/authorize?"), "the URL is printed for a session without a browser")
        #expect(login.error.contains("code_challenge_method=S256"))
        #expect(setup.browserLog().contains("Signed in to Tessera"), "\(setup.browserLog())")
        #expect(try Self.permissions(setup.sessionPath) == 0o600)
        #expect(try Self.permissions((setup.sessionPath as NSString).deletingLastPathComponent) == 0o700)

        // The kept ID token is the subject token: a role token, which the server verifies.
        let token = try await setup.tessera(["token", "readonly", "--no-cache"], alice)
        try #require(token.status == 0, "\(token.error)\n\(setup.server.log())")
        let verified = try await setup.tessera(["verify", token.output.trimmingCharacters(in: .whitespacesAndNewlines),
                                                "--issuer", "http://127.0.0.1:\(setup.server.port)", "--audience", "https://api.example.com"], alice)
        #expect(verified.status == 0, "\(verified.output)\(verified.error)")
        #expect(verified.output.contains("company:alice@example.com"), "\(verified.output)")

        // Refusing at the provider, or a redirect carrying another attempt's state, fails the
        // sign-in and leaves the good session as it was.
        let kept = try Data(contentsOf: URL(fileURLWithPath: setup.sessionPath))
        let denied = try await setup.tessera(["login"], setup.environment(browserAction: "deny"))
        #expect(denied.status == 77)
        #expect(denied.error.contains("refused the sign-in: access_denied"), "\(denied.error)")
        let forged = try await setup.tessera(["login"], setup.environment(browserAction: "forge-state", subject: "mallory@example.com"))
        #expect(forged.status == 77)
        #expect(forged.error.contains("another sign-in's state"), "\(forged.error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: setup.sessionPath)) == kept)

        // An expired ID token is refreshed; this provider refreshes only access tokens, so the
        // CLI says to sign in again instead of sending an expired token.
        try setup.expireSession()
        let expired = try await setup.tessera(["token", "readonly", "--no-cache"], alice)
        #expect(expired.status == 77)
        #expect(expired.error.contains("has expired and cannot be refreshed: run `tessera login`"), "\(expired.error)")

        let logout = try await setup.tessera(["logout"], alice)
        #expect(logout.status == 0)
        #expect(!FileManager.default.fileExists(atPath: setup.sessionPath))
        try await setup.server.stop()
        try await mock.stop()
    }

    @Test func checksPKCEAndTheNonceAndRefreshesOnceAtATime() async throws {
        guard let python = which("python3"), await PyJWTInteropTests.pyJWTAvailable() else {
            peerMissing("python3 with PyJWT and cryptography (pip install pyjwt cryptography)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-login-stub-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/provider", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        func mode(lifetime: Int, nonce: String = "echo") throws {
            try #"{"subject": "bob@example.com", "lifetime": \#(lifetime), "nonce": "\#(nonce)"}"#
                .write(toFile: root + "/provider/mode.json", atomically: true, encoding: .utf8)
        }
        func events() -> [String] {
            ((try? String(contentsOfFile: root + "/provider/events.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        // ID tokens of 30 s: less than the minute the CLI wants left, so every use refreshes.
        try mode(lifetime: 30)
        let provider = try await MockProvider.start(python: python, launcher: Self.stubProvider(folder: root + "/provider"), log: root + "/provider.log")
        defer { provider.kill() }
        let setup = try await Setup.start(providerIssuer: "http://127.0.0.1:\(provider.port)", algorithm: "ES256",
                                          subject: "bob@example.com", clientSecret: nil, in: root)
        defer { setup.server.kill() }
        let bob = setup.environment()

        // The config names only the server: the provider is the one it publishes.
        let login = try await setup.tessera(["login"], bob)
        try #require(login.status == 0, "\(login.error)\n\(setup.browserLog())\n\(provider.log())")
        #expect(login.output.contains("signed in to \(setup.providerIssuer) as bob@example.com"), "\(login.output)")
        // The provider saw an S256 challenge and a verifier that matches it.
        #expect(events() == ["authorized", "code redeemed"], "\(events())")

        // Four invocations at once (kubectl runs its credential plugin per call): each needs a
        // fresh ID token, and they take turns, so each refresh uses the token the one before
        // rotated in. Without the lock two would spend the same refresh token and one would fail.
        let results = try await withThrowingTaskGroup(of: ProcessResult.self) { group in
            for _ in 0..<4 { group.addTask { try await setup.tessera(["token", "readonly", "--no-cache"], bob) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for result in results { #expect(result.status == 0, "\(result.error)\n\(setup.server.log())") }
        #expect(events().filter { $0 == "refreshed" }.count == 4, "\(events())")
        #expect(!events().contains { $0.hasPrefix("refresh refused") }, "\(events())")

        // An ID token that does not carry this sign-in's nonce is refused, and the good
        // session stays.
        let kept = try Data(contentsOf: URL(fileURLWithPath: setup.sessionPath))
        try mode(lifetime: 3600, nonce: "wrong")
        let replayed = try await setup.tessera(["login"], bob)
        #expect(replayed.status == 77)
        #expect(replayed.error.contains("does not carry this sign-in's nonce"), "\(replayed.error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: setup.sessionPath)) == kept)
        try await setup.server.stop()
        try await provider.stop()
    }
}
