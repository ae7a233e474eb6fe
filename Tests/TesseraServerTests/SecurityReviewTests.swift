import Foundation
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT

/// The security review's findings (issue 15), each tried as the review tried it: against a real
/// `tessera serve`, over HTTP, from loopback. Every case here succeeded as an attack before its fix.
@Suite("security review regressions (end to end)")
struct SecurityReviewTests {
    static let exchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let idTokenType = "urn:ietf:params:oauth:token-type:id_token"

    // MARK: finding 1: the client address through Forwarded

    @Test func forwardedHeaderFromTheClientCannotChooseTheClientAddress() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let bundle = try ReviewBundle(forwardingHeader: "forwarded")
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }
        let token = try bundle.identityToken(subject: "alice", groups: ["sre"])
        let form = bundle.exchangeForm(token, role: "vpn-admin")

        // The proxy (127.0.0.1, trusted) says the client is on the VPN: allowed.
        #expect(try server.raw(form: form, headers: [("Forwarded", "for=10.8.0.1")]).status == 200)
        // The client wrote an unpaired quote; the proxy appended the address it saw on the same line.
        let oneLine = try server.raw(form: form, headers: [("Forwarded", #"for=10.8.0.1;x=", for=203.0.113.5"#)])
        #expect(oneLine.status == 403, "\(oneLine.body)")
        #expect(oneLine.body.contains("client address unknown"), "\(oneLine.body)")
        // The same, with the proxy's element on a second header line (RFC 7239 proxies may add one).
        let twoLines = try server.raw(form: form, headers: [("Forwarded", #"for=10.8.0.1;x=""#), ("Forwarded", "for=203.0.113.5")])
        #expect(twoLines.status == 403, "\(twoLines.body)")
        #expect(twoLines.body.contains("network 203.0.113.5 not in corp-vpn"), "\(twoLines.body)")
        // The control case from the review: still denied, with the proxy's address for the client.
        let control = try server.raw(form: form, headers: [("Forwarded", "for=10.8.0.1, for=203.0.113.5")])
        #expect(control.status == 403)
        #expect(control.body.contains("network 203.0.113.5 not in corp-vpn"), "\(control.body)")
        try await server.stop()
        // What the audit recorded is what the decision used, never the address the client wrote.
        let audit = try await bundle.auditExport(tessera)
        let denied = audit.filter { $0.contains(#""decision":"deny""#) }
        #expect(denied.count == 3)
        #expect(!denied.contains { $0.contains(#""client_address":"10.8.0.1""#) }, "\(denied)")
    }

    @Test func xForwardedForFromTheClientCannotChooseTheClientAddress() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let bundle = try ReviewBundle(forwardingHeader: "x-forwarded-for")
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }
        let form = bundle.exchangeForm(try bundle.identityToken(subject: "alice", groups: ["sre"]), role: "vpn-admin")

        #expect(try server.raw(form: form, headers: [("X-Forwarded-For", "10.8.0.1")]).status == 200)
        for hostile in [[("X-Forwarded-For", "10.8.0.1, 203.0.113.5")],
                        [("X-Forwarded-For", "10.8.0.1"), ("X-Forwarded-For", "203.0.113.5")],
                        [("X-Forwarded-For", "10.8.0.1, not-an-address")],
                        [("X-Forwarded-For", "10.8.0.1, unknown")],
                        // Only the configured header counts: a Forwarded header is the client's own.
                        [("Forwarded", "for=10.8.0.1"), ("X-Forwarded-For", "203.0.113.5")]] {
            let response = try server.raw(form: form, headers: hostile)
            #expect(response.status == 403, "\(hostile): \(response.body)")
        }
    }

    // MARK: finding 2: one request kills the server

    @Test func absurdAuthTimeIsRefusedAndTheServerStaysUp() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let bundle = try ReviewBundle()
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }
        for absurd in [-1e300, 1e300, -1.0, 4_102_444_800.0] {
            let token = try bundle.identityToken(subject: "alice", groups: ["sre"], claims: ["auth_time": .number(absurd)])
            let response = try await server.send(bundle.exchangeForm(token, role: "fresh-auth"))
            #expect(response.status == 400, "auth_time \(absurd): \(response.body)")
            #expect((response.body["error_description"] as? String)?.contains("between 2000-01-01 and 2100-01-01") == true, "\(response.body)")
        }
        for claim in ["exp", "iat", "nbf"] {
            let token = try bundle.identityToken(subject: "alice", groups: ["sre"], claims: [claim: .number(-1e300)])
            #expect(try await server.send(bundle.exchangeForm(token, role: "fresh-auth")).status == 400, "\(claim)")
        }
        #expect(server.process.isRunning, "the server died")
        let fresh = try bundle.identityToken(subject: "alice", groups: ["sre"])
        #expect(try await server.send(bundle.exchangeForm(fresh, role: "fresh-auth")).status == 200)
    }

    // MARK: finding 3: canonically equivalent identifiers

    @Test func canonicallyEquivalentIdentifiersAreDifferentIdentifiers() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let bundle = try ReviewBundle()
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }
        func status(_ subject: String, groups: [String], role: String, claims: [String: JSONValue] = [:],
                    extra: [String: String] = [:]) async throws -> Int {
            let token = try bundle.identityToken(subject: subject, groups: groups, claims: claims)
            return try await server.send(bundle.exchangeForm(token, role: role).merging(extra) { $1 }).status
        }
        // Each pair: the exact value is granted; a canonically equivalent spelling is not.
        #expect(try await status("bob", groups: ["K8s-admins"], role: "k8s-admin") == 200)
        #expect(try await status("bob", groups: ["\u{212A}8s-admins"], role: "k8s-admin") == 403)
        #expect(try await status("bob", groups: ["\u{00C9}quipe-SRE"], role: "equipe") == 200)
        #expect(try await status("bob", groups: ["E\u{0301}quipe-SRE"], role: "equipe") == 403)
        #expect(try await status("Kim", groups: [], role: "kim-only") == 200)
        #expect(try await status("\u{212A}im", groups: [], role: "kim-only") == 403)
        #expect(try await status("bob", groups: ["sre"], role: "kafka-deploy", claims: ["repository": "acme/Kafka"]) == 200)
        #expect(try await status("bob", groups: ["sre"], role: "kafka-deploy", claims: ["repository": "acme/\u{212A}afka"]) == 403)
        #expect(try await status("bob", groups: ["K8s-admins"], role: "k8s-admin", extra: ["audience": "https://k8s.example.com/Kube"]) == 200)
        #expect(try await status("bob", groups: ["K8s-admins"], role: "k8s-admin",
                                 extra: ["audience": "https://k8s.example.com/\u{212A}ube"]) == 400)
        // The issuer too: the upstream's exact iss, not an equivalent one.
        let foreign = try bundle.identityToken(subject: "bob", groups: ["K8s-admins"], issuer: ReviewBundle.idpIssuer.replacingOccurrences(of: "K", with: "\u{212A}"))
        #expect(try await server.send(bundle.exchangeForm(foreign, role: "k8s-admin")).status == 400)
        // And client ids: a public client's id with a KELVIN SIGN is no client.
        let token = try bundle.identityToken(subject: "bob", groups: ["K8s-admins"])
        var form = bundle.exchangeForm(token, role: "k8s-admin")
        form["client_id"] = "Kubectl"
        #expect(try await server.send(form).status == 200)
        form["client_id"] = "\u{212A}ubectl"
        #expect(try await server.send(form).status == 401)
    }

    // MARK: finding 4: the audit log flooded by unauthenticated requests

    @Test func unauthenticatedFailuresCannotFloodTheAuditLog() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let bundle = try ReviewBundle()
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }
        let before = try await bundle.auditExport(tessera).joined().utf8.count
        let hugeID = String(repeating: "A", count: 60_000)
        let agent = String(repeating: "U", count: 8_000)
        for index in 0..<50 {
            let response = try await server.send(["grant_type": "client_credentials", "client_id": hugeID, "client_secret": "x\(index)"],
                                                 userAgent: agent)
            #expect(response.status == 401)
        }
        // A secret pasted into the user name of Basic authentication.
        let pasted = "s3cr3t-" + String(repeating: "p", count: 36)
        let basic = "Basic " + Data("\(pasted):whatever".utf8).base64EncodedString()
        #expect(try await server.send(["grant_type": "client_credentials"], authorization: basic).status == 401)
        try await server.stop()

        let lines = try await bundle.auditExport(tessera)
        let grown = lines.joined().utf8.count - before
        #expect(grown < 8_000, "51 refused requests wrote \(grown) bytes to the audit log")
        #expect(!lines.contains { $0.contains(String(repeating: "A", count: 100)) }, "the client id reached the log")
        #expect(!lines.contains { $0.contains(String(repeating: "U", count: 300)) }, "the whole User-Agent reached the log")
        #expect(!lines.contains { $0.contains(pasted) }, "a pasted secret reached the log verbatim")
        let failures = lines.filter { $0.contains(#""event":"client.authentication_failed""#) }
        // The first failure in full, then one summary counting the rest (written at shutdown).
        #expect(failures.count == 2, "\(failures)")
        #expect(failures.contains { $0.contains(#""aggregated":true"#) && $0.contains(#""count":50"#) }, "\(failures)")
    }

    // MARK: finding 7: failed client authentication on /introspect and /revoke

    @Test func failedClientAuthenticationOnIntrospectionAndRevocationIsAuditedAndLogged() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let bundle = try ReviewBundle()
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }
        let wrong = "Basic " + Data("resource-server:not-the-secret".utf8).base64EncodedString()
        #expect(try await server.send(["token": "x"], path: "/introspect", authorization: wrong).status == 401)
        #expect(try await server.send(["token": "x"], path: "/revoke", authorization: wrong).status == 401)
        try await server.stop()
        let failures = try await bundle.auditExport(tessera).filter { $0.contains(#""event":"client.authentication_failed""#) }
        #expect(failures.contains { $0.contains(#""endpoint":"\/introspect""#) || $0.contains(#""endpoint":"/introspect""#) }, "\(failures)")
        #expect(failures.contains { $0.contains(#""endpoint":"\/revoke""#) || $0.contains(#""endpoint":"/revoke""#) }, "\(failures)")
        let log = server.log()
        #expect(log.contains("client authentication failed") && log.contains("/introspect") && log.contains("/revoke"), "\(log)")
    }

    // MARK: finding 8: the admin audience and tessera: scopes reserved

    @Test func rolesCannotHandOutTheAdminAudienceOrTesseraScopes() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let bundle = try ReviewBundle()
        try """
        roles:
          - name: sneaky
            audiences: [\(ReviewBundle.issuer)/admin]
            max_duration: 1h
            scopes: [prod:read]
            eligible: {upstreams: [test-idp], groups: [sre]}
        """.write(toFile: bundle.root + "/policies/roles/sneaky.yaml", atomically: true, encoding: .utf8)
        let refused = try await run(tessera, ["serve", "--listen", "127.0.0.1:0"] + bundle.folders, timeout: 30)
        #expect(refused.status != 0)
        #expect(refused.error.contains("sneaky.yaml") && refused.error.contains("reserved for admin tokens"), "\(refused.error)")

        try """
        roles:
          - name: sneaky
            audiences: [https://api.example.com]
            max_duration: 1h
            scopes: [tessera:admin]
            eligible: {upstreams: [test-idp], groups: [sre]}
        """.write(toFile: bundle.root + "/policies/roles/sneaky.yaml", atomically: true, encoding: .utf8)
        let scoped = try await run(tessera, ["policy", "check", "--policies", bundle.root + "/policies"], timeout: 30)
        #expect(scoped.status != 0)
        #expect((scoped.error + scoped.output).contains("tessera:admin"), "\(scoped.error)")

        // A server that starts has no way to mint or introspect admin tokens for ordinary clients.
        try FileManager.default.removeItem(atPath: bundle.root + "/policies/roles/sneaky.yaml")
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }
        let admin = try await run(tessera, ["admin", "token", "--subject", "ops"] + bundle.folders)
        #expect(admin.status == 0, "\(admin.error)")
        let adminToken = admin.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let introspected = try await server.send(["token": adminToken], path: "/introspect", authorization: bundle.resourceServerAuthorization)
        #expect(introspected.status == 200)
        #expect(introspected.body["active"] as? Bool == false, "an ordinary client introspected an admin token: \(introspected.body)")
    }

    // MARK: finding 9: public clients may not introspect

    @Test func publicClientsCannotIntrospect() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let bundle = try ReviewBundle()
        let created = try await run(tessera, ["clients", "create", "pubintro", "--public", "--can-introspect", "--policies", bundle.root + "/policies"])
        #expect(created.status != 0)
        #expect(created.error.contains("--can-introspect"), "\(created.error)")
        #expect(try !String(contentsOfFile: bundle.root + "/policies/clients.yaml", encoding: .utf8).contains("pubintro"))

        let clients = try String(contentsOfFile: bundle.root + "/policies/clients.yaml", encoding: .utf8)
        try (clients + "\n  - id: pubintro\n    public: true\n    can_introspect: true\n")
            .write(toFile: bundle.root + "/policies/clients.yaml", atomically: true, encoding: .utf8)
        let refused = try await run(tessera, ["serve", "--listen", "127.0.0.1:0"] + bundle.folders, timeout: 30)
        #expect(refused.status != 0)
        #expect(refused.error.contains("pubintro") && refused.error.contains("may not introspect"), "\(refused.error)")
    }

    // MARK: finding 10: ticket and justification checked trimmed, issued raw

    @Test func ticketAndJustificationAreIssuedAsChecked() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let bundle = try ReviewBundle()
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }
        let token = try bundle.identityToken(subject: "alice", groups: ["sre"])
        let granted = try await server.send(bundle.exchangeForm(token, role: "ticketed")
            .merging(["ticket": "\u{2003}INC-42\u{2003}\n", "justification": "  replica lag \u{2003}"]) { $1 })
        #expect(granted.status == 200, "\(granted.body)")
        let claims = try #require(ReviewBundle.claims(of: granted.body["access_token"] as? String ?? ""))
        #expect(claims["ticket"] as? String == "INC-42")
        #expect(claims["justification"] as? String == "replica lag")

        for (field, value) in [("ticket", "INC-42\nINC-43"), ("justification", "fine\u{0}"), ("justification", "a\u{202E}b"),
                               ("ticket", String(repeating: "9", count: 200))] {
            let refused = try await server.send(bundle.exchangeForm(token, role: "ticketed").merging(["ticket": "INC-1", "justification": "ok"]) { $1 }
                .merging([field: value]) { $1 })
            #expect(refused.status == 400, "\(field)=\(value.debugDescription): \(refused.body)")
            #expect(refused.body["error"] as? String == "invalid_request")
        }
        try await server.stop()
        let issued = try await bundle.auditExport(tessera).filter { $0.contains(#""event":"token.issued""#) }
        #expect(issued.contains { $0.contains(#""ticket":"INC-42""#) }, "\(issued)")
    }
}

/// A policies folder for the review's cases: an upstream whose identity tokens the test signs,
/// a confidential resource server, the public CLI client, and one role per finding.
struct ReviewBundle {
    static let idpIssuer = "https://idp.review.example/tenant-K"
    static let issuer = "http://127.0.0.1:8080"
    let root: String
    let idpKey: PrivateKey
    let keyID: String
    let resourceServerAuthorization: String

    var folders: [String] {
        ["--keys", root + "/keys", "--policies", root + "/policies", "--data", root + "/data", "--issuer", Self.issuer]
    }

    init(forwardingHeader: String = "x-forwarded-for") throws {
        root = NSTemporaryDirectory() + "tessera-review-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/policies/roles", withIntermediateDirectories: true)
        try KeyDirectory(path: root + "/keys").generate(algorithm: .es256, now: Date())
        idpKey = try PrivateKey.generate(.p256)
        var jwk = try idpKey.publicKey().jwk(algorithm: .es256)
        keyID = try jwk.thumbprint()
        jwk.kid = keyID
        try JSONEncoder().encode(PublicJWKSet(keys: [jwk])).write(to: URL(fileURLWithPath: root + "/policies/test-idp.jwks.json"))
        let secret = ClientSecret.generate()
        resourceServerAuthorization = "Basic " + Data("resource-server:\(secret.secret)".utf8).base64EncodedString()
        let files = [
            "upstreams.yaml": """
            upstreams:
              - id: test-idp
                issuer: \(Self.idpIssuer)
                jwks_file: test-idp.jwks.json
                audiences: [tessera-cli]
                algorithms: [ES256]
            """,
            "clients.yaml": """
            clients:
              - id: tessera-cli
                public: true
              - id: Kubectl
                public: true
              - id: resource-server
                secret_sha256: "\(secret.sha256Hex)"
                audiences: [https://api.example.com]
                can_introspect: true
            """,
            "networks.yaml": """
            networks:
              corp-vpn: [10.8.0.0/16]
            trusted_proxies:
              header: \(forwardingHeader)
              networks: [127.0.0.1/32]
            """,
            "roles/review.yaml": """
            roles:
              - name: vpn-admin
                max_duration: 1h
                audiences: [https://db.example.com]
                eligible: {upstreams: [test-idp], groups: [sre]}
                conditions: {networks: [corp-vpn]}
              - name: fresh-auth
                max_duration: 1h
                audiences: [https://db.example.com]
                eligible: {upstreams: [test-idp], groups: [sre]}
                conditions: {max_auth_age: 8h}
              - name: k8s-admin
                max_duration: 1h
                audiences: [https://k8s.example.com/Kube, https://k8s.example.com/other]
                eligible: {upstreams: [test-idp], groups: [K8s-admins]}
              - name: equipe
                max_duration: 1h
                audiences: [https://api.example.com]
                eligible: {upstreams: [test-idp], groups: ["\u{00C9}quipe-SRE"]}
              - name: kim-only
                max_duration: 1h
                audiences: [https://api.example.com]
                eligible: {upstreams: [test-idp], subjects: [Kim]}
              - name: kafka-deploy
                max_duration: 1h
                audiences: [https://api.example.com]
                eligible: {upstreams: [test-idp], groups: [sre]}
                conditions:
                  claims:
                    repository: {equals: acme/Kafka}
              - name: ticketed
                max_duration: 1h
                audiences: [https://api.example.com]
                eligible: {upstreams: [test-idp], groups: [sre]}
                conditions:
                  justification: required
                  ticket: {required: true, pattern: "^(INC|CHG)-[0-9]+$"}
            """,
        ]
        for (name, text) in files {
            try text.write(toFile: root + "/policies/" + name, atomically: true, encoding: .utf8)
        }
    }

    /// An identity token of the test upstream: fresh, with `auth_time` now unless `claims` says otherwise.
    func identityToken(subject: String, groups: [String], claims extra: [String: JSONValue] = [:],
                       issuer: String = ReviewBundle.idpIssuer) throws -> String {
        let now = Date().timeIntervalSince1970.rounded(.down)
        var members: [String: JSONValue] = [
            "iss": .string(issuer), "sub": .string(subject), "aud": "tessera-cli", "iat": .number(now), "exp": .number(now + 600),
            "auth_time": .number(now), "groups": .array(groups.map(JSONValue.string)), "jti": .string(UUID().uuidString),
        ]
        members.merge(extra) { $1 }
        var writer = JSONWriter()
        writer.value(.object(members))
        return try JWSSigner(keyID: keyID, signer: Signer(key: idpKey, algorithm: .es256), type: "JWT").sign(payload: writer.bytes)
    }

    func exchangeForm(_ token: String, role: String) -> [String: String] {
        ["grant_type": SecurityReviewTests.exchange, "client_id": "tessera-cli", "subject_token": token,
         "subject_token_type": SecurityReviewTests.idTokenType, "scope": role]
    }

    /// Every audit entry as exported, one JSON line each.
    func auditExport(_ tessera: String) async throws -> [String] {
        let exported = try await run(tessera, ["audit", "export", "--since", "1h", "--data", root + "/data"])
        #expect(exported.status == 0, "\(exported.error)")
        return exported.output.split(separator: "\n").map(String.init)
    }

    /// The claims of a compact JWS, unverified (the tests read what was issued).
    static func claims(of token: String) -> [String: Any]? {
        let parts = token.split(separator: ".")
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
    }
}

/// `tessera serve` on a free loopback port, with its log kept for reading after it stops, and
/// raw HTTP/1.1 requests for headers that URLSession will not send (a header given twice).
final class ReviewServer: Sendable {
    let process: Process
    let port: Int
    private let logFile: String

    private init(process: Process, port: Int, logFile: String) {
        self.process = process
        self.port = port
        self.logFile = logFile
    }

    /// `arguments` replace the bundle's folders (another data folder, a store URL).
    static func start(_ tessera: String, _ bundle: ReviewBundle, arguments: [String]? = nil, listen: String = "127.0.0.1:0") async throws -> ReviewServer {
        try await start(tessera, root: bundle.root, arguments: arguments ?? bundle.folders, listen: listen)
    }

    /// `tessera serve ARGUMENTS`, its log in a file under `root`.
    static func start(_ tessera: String, root: String, arguments: [String], listen: String = "127.0.0.1:0") async throws -> ReviewServer {
        let logFile = root + "/serve-\(UUID()).log"
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tessera)
        process.arguments = ["serve", "--listen", listen, "--log-format", "json", "--log-level", "notice"] + arguments
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      object["message"] as? String == "listening", let port = (object["tessera.port"] as? String).flatMap(Int.init)
                else { continue }
                return ReviewServer(process: process, port: port, logFile: logFile)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { process.terminate() }
        throw ReviewServerError(log: (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "")
    }

    struct ReviewServerError: Error, CustomStringConvertible {
        let log: String
        var description: String { "tessera serve did not start: \(log)" }
    }

    func log() -> String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// A form POST; the status and the JSON body. Raw HTTP rather than URLSession, which waits
    /// for credentials forever on a 401 that carries `WWW-Authenticate: Basic`.
    func send(_ form: [String: String], path: String = "/token", authorization: String? = nil,
              userAgent: String? = nil) async throws -> (status: Int, body: [String: Any]) {
        var headers: [(String, String)] = []
        if let authorization { headers.append(("Authorization", authorization)) }
        if let userAgent { headers.append(("User-Agent", userAgent)) }
        let (port, lines) = (port, headers)
        let (status, body) = try await onBlockingThread { try Self.post(path, form: form, headers: lines, port: port) }
        return (status, (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:])
    }

    /// One POST /token written byte for byte, each header line as given; the status and body.
    func raw(form: [String: String], headers: [(String, String)]) throws -> (status: Int, body: String) {
        try Self.post("/token", form: form, headers: headers, port: port)
    }

    /// Any method with a JSON body (or none); the status and the JSON body.
    func json(_ method: String, _ path: String, body: String? = nil, authorization: String?) async throws -> (status: Int, body: [String: Any]) {
        let headers = authorization.map { [("Authorization", $0)] } ?? []
        let port = port
        let (status, text) = try await onBlockingThread {
            try Self.request(method, path, body: body ?? "", contentType: body == nil ? nil : "application/json", headers: headers, port: port)
        }
        return (status, (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:])
    }

    private static func post(_ path: String, form: [String: String], headers: [(String, String)], port: Int) throws -> (status: Int, body: String) {
        try request("POST", path, body: encode(form), contentType: "application/x-www-form-urlencoded", headers: headers, port: port)
    }

    private static func request(_ method: String, _ path: String, body: String, contentType: String?, headers: [(String, String)],
                                port: Int) throws -> (status: Int, body: String) {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
            + (contentType.map { "Content-Type: \($0)\r\n" } ?? "") + "Content-Length: \(body.utf8.count)\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n" + body
        let response = try LoopbackSocket.exchange(Array(request.utf8), port: port)
        let text = String(decoding: response, as: UTF8.self)
        let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        let responseBody = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, responseBody)
    }

    static func encode(_ form: [String: String]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
    }

    func stop() async throws {
        guard process.isRunning else { return }
        process.terminate()
        try await onBlockingThread { self.process.waitUntilExit() }
    }

    func kill() {
        if process.isRunning { process.terminate() }
    }

    /// kill -9: no shutdown, nothing flushed, as a crash or the OOM killer leaves it.
    func killHard() async throws {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        try await onBlockingThread { self.process.waitUntilExit() }
    }
}
