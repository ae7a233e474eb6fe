#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing
import TesseraCrypto
import TesseraJWT

/// `tessera verify` as a resource server's host runs it: the real executable against a live
/// `tessera serve` on loopback (its metadata, JWKS and introspection), or a JWK Set file for
/// tokens the test signs itself. Each case checks the exit status and what the output says.
@Suite("tessera verify (end to end)")
struct VerifyCommandTests {
    static let audience = "https://api.example.com"
    static let role = """
        roles:
          - name: reader
            max_duration: 1h
            audiences: [https://db.example.com]
            scopes: [db:read, db:list]
            eligible: {upstreams: [test-idp], groups: [sre]}
        """

    // MARK: tokens of a live server

    @Test func aTokenOfTheServerIsValidAndItsClaimsArePrinted() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let live = try await LiveIssuer.start(tessera)
        defer { live.server.kill() }
        let token = try await live.clientToken()

        let checked = try await verify(tessera, [token, "--issuer", live.issuer, "--audience", Self.audience])
        #expect(checked.status == 0, "\(checked.output)\(checked.error)")
        let lines = checked.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "valid", "\(checked.output)")
        for (label, value) in [("subject", "resource-server"), ("audiences", Self.audience), ("issuer", live.issuer),
                               ("client_id", "resource-server"), ("signed by", "ES256 key ")] {
            #expect(lines.contains { $0.hasPrefix("  \(label) ") && $0.contains(value) }, "\(label): \(checked.output)")
        }
        #expect(lines.contains { $0.hasPrefix("  expires in ") && $0.contains("(at 20") }, "\(checked.output)")
        let jti = try #require(ReviewBundle.claims(of: token)?["jti"] as? String)
        #expect(lines.contains { $0.hasPrefix("  jti ") && $0.hasSuffix(jti) }, "\(checked.output)")
        #expect(!checked.error.contains("not checked"), "\(checked.error)")

        // From standard input (with the newline a pipe adds), as JSON, with the audience unchecked.
        let piped = try await verify(tessera, ["-", "--issuer", live.issuer, "--json"], stdin: "  \(token)\n")
        #expect(piped.status == 0, "\(piped.output)\(piped.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(piped.output.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == true)
        #expect(object["error"] is NSNull && object["active"] is NSNull, "\(object)")
        #expect((object["claims"] as? [String: Any])?["sub"] as? String == "resource-server", "\(object)")
        #expect(piped.error.contains("the audience was not checked"), "\(piped.error)")
        // No argument at all reads standard input too.
        #expect(try await verify(tessera, ["--issuer", live.issuer, "--audience", Self.audience], stdin: token).status == 0)
        try await live.server.stop()
    }

    @Test func aRoleTokenShowsItsRoleScopesAndActivation() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let live = try await LiveIssuer.start(tessera)
        defer { live.server.kill() }
        let identity = try live.bundle.identityToken(subject: "alice", groups: ["sre"])
        let exchanged = try await live.server.send(live.bundle.exchangeForm(identity, role: "reader"))
        let token = try #require(exchanged.body["access_token"] as? String, "\(exchanged.body)")
        let activation = try #require(ReviewBundle.claims(of: token)?["act_id"] as? String)

        let checked = try await verify(tessera, [token, "--issuer", live.issuer, "--audience", "https://db.example.com"])
        #expect(checked.status == 0, "\(checked.output)\(checked.error)")
        for expected in [field("subject", "test-idp:alice"), field("role", "reader"), field("activation", activation), "db:read", "db:list"] {
            #expect(checked.output.contains(expected), "\(expected): \(checked.output)")
        }
        try await live.server.stop()
    }

    @Test func wrongAudienceTamperedAndForeignTokensAreInvalid() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let live = try await LiveIssuer.start(tessera)
        defer { live.server.kill() }
        let token = try await live.clientToken()
        let issuer = ["--issuer", live.issuer]

        let wrongAudience = try await verify(tessera, [token, "--audience", "https://other.example"] + issuer)
        #expect(wrongAudience.status == 1)
        #expect(wrongAudience.output.hasPrefix("invalid: audience https://other.example not in [\(Self.audience)]"), "\(wrongAudience.output)")
        // The signature verified, so the claims are the issuer's and are shown.
        #expect(wrongAudience.output.contains("  subject "), "\(wrongAudience.output)")

        let wrongIssuer = try await verify(tessera, [token, "--jwks", live.issuer + "/.well-known/jwks.json", "--issuer", "https://other.example"])
        #expect(wrongIssuer.status == 1)
        #expect(wrongIssuer.output.hasPrefix(#"invalid: iss is "\#(live.issuer)", expected "https://other.example""#), "\(wrongIssuer.output)")

        // The payload changed (another subject), the signature kept.
        var parts = token.split(separator: ".").map(String.init)
        var claims = try #require(ReviewBundle.claims(of: token))
        claims["sub"] = "admin"
        parts[1] = Base64URL.encode(Array(try JSONSerialization.data(withJSONObject: claims)))
        let tampered = parts.joined(separator: ".")
        let refused = try await verify(tessera, [tampered, "--json"] + issuer)
        #expect(refused.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(refused.output.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == false)
        #expect(object["error"] as? String == "signature does not verify with any key of the JWKS", "\(object)")
        #expect(object["claims"] is NSNull, "a forged payload was shown: \(object)")

        // Another key signs, once under the server's kid and once under its own.
        let payload = Array(try JSONSerialization.data(withJSONObject: try #require(ReviewBundle.claims(of: token))))
        let foreignKey = try Signer(key: PrivateKey.generate(.p256), algorithm: .es256)
        let underServerKid = try JWSSigner(keyID: try await live.keyID(), signer: foreignKey).sign(payload: payload)
        let foreign = try await verify(tessera, [underServerKid] + issuer)
        #expect(foreign.status == 1)
        #expect(foreign.output == "invalid: signature does not verify with any key of the JWKS\n", "\(foreign.output)")
        let underOwnKid = try JWSSigner(keyID: "attacker-1", signer: foreignKey).sign(payload: payload)
        let unknown = try await verify(tessera, [underOwnKid] + issuer)
        #expect(unknown.status == 1)
        #expect(unknown.output.hasPrefix(#"invalid: no key of the JWKS has kid "attacker-1""#), "\(unknown.output)")
        try await live.server.stop()
    }

    @Test func algNoneAndHMACWithThePublicKeyAreRefused() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let live = try await LiveIssuer.start(tessera)
        defer { live.server.kill() }
        let token = try await live.clientToken()
        let kid = try await live.keyID()
        let payload = String(token.split(separator: ".")[1])
        func header(_ alg: String) -> String { Base64URL.encode(Array(#"{"alg":"\#(alg)","typ":"at+jwt","kid":"\#(kid)"}"#.utf8)) }

        // RFC 8725 §2.1: unsigned, with and without a signature segment.
        let unsigned = try await verify(tessera, [header("none") + "." + payload + "."] + ["--issuer", live.issuer])
        #expect(unsigned.status == 1)
        #expect(unsigned.output.contains("unsigned"), "\(unsigned.output)")
        let noneSigned = try await verify(tessera, [header("none") + "." + payload + ".AAAA", "--issuer", live.issuer])
        #expect(noneSigned.status == 1)
        #expect(noneSigned.output.hasPrefix("invalid: alg none refused"), "\(noneSigned.output)")

        // The classic confusion: HS256 keyed with the public key as published (a verifier that
        // took the algorithm from the header would check this HMAC with the JWK's bytes).
        let document = try await live.jwksDocument()
        let jwk = String(document[try #require(document.range(of: #"\{"[^{}]*\}"#, options: .regularExpression), "\(document)")])
        let input = header("HS256") + "." + payload
        let mac = try MessageAuthenticationKey(bytes: Array(jwk.utf8)).tag(Array(input.utf8))
        let confused = try await verify(tessera, [input + "." + Base64URL.encode(mac), "--issuer", live.issuer])
        #expect(confused.status == 1)
        #expect(confused.output.hasPrefix("invalid: alg HS256 refused: HMAC algorithms are never accepted"), "\(confused.output)")
        try await live.server.stop()
    }

    @Test func introspectionSaysActiveThenInactiveAfterRevocation() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let live = try await LiveIssuer.start(tessera)
        defer { live.server.kill() }
        let token = try await live.clientToken()
        let secretFile = live.bundle.root + "/resource-server.secret"
        try (live.resourceServerSecret + "\n").write(toFile: secretFile, atomically: true, encoding: .utf8)
        let introspect = ["--issuer", live.issuer, "--audience", Self.audience, "--introspect", "--client-id", "resource-server"]

        let active = try await verify(tessera, [token, "--client-secret-file", secretFile] + introspect)
        #expect(active.status == 0, "\(active.output)\(active.error)")
        #expect(active.output.contains(field("introspection", "active")), "\(active.output)")
        let fromEnvironment = try await verify(tessera, [token, "--json"] + introspect,
                                               environment: ["TESSERA_CLIENT_SECRET": live.resourceServerSecret])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.output)\(fromEnvironment.error)")
        #expect(fromEnvironment.output.contains(#""active":true"#), "\(fromEnvironment.output)")

        let revoked = try await live.server.send(["token": token], path: "/revoke", authorization: live.bundle.resourceServerAuthorization)
        #expect(revoked.status == 200)
        let inactive = try await verify(tessera, [token, "--client-secret-file", secretFile, "--json"] + introspect)
        #expect(inactive.status == 1, "\(inactive.output)\(inactive.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(inactive.output.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == false && object["active"] as? Bool == false, "\(object)")
        #expect((object["error"] as? String)?.contains("not active") == true, "\(object)")
        // The signature still verifies: without introspection the token passes, which is why lifetimes are short.
        #expect(try await verify(tessera, [token, "--issuer", live.issuer, "--audience", Self.audience]).status == 0)

        // A wrong secret: the endpoint refuses to answer, so nothing was checked (69), and says why.
        let refused = try await verify(tessera, [token] + introspect, environment: ["TESSERA_CLIENT_SECRET": "not-the-secret"])
        #expect(refused.status == 69, "\(refused.output)\(refused.error)")
        #expect(refused.error.contains("HTTP 401") && refused.error.contains("invalid_client"), "\(refused.error)")
        try await live.server.stop()
    }

    // MARK: tokens signed here, verified with a JWK Set file

    @Test func expiredEarlyAndUntypedTokensAreInvalidWithAJWKSFile() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let keys = try LocalKeys()
        let now = Date().timeIntervalSince1970.rounded(.down)

        let expired = try await verify(tessera, [try keys.token(["exp": .number(now - 200)]), "--jwks", keys.file])
        #expect(expired.status == 1)
        // "expired 3m20s ago": the exact seconds depend on how busy the machine is.
        #expect(expired.output.hasPrefix("invalid: expired 3m"), "\(expired.output)")
        #expect(expired.output.contains(" ago at 20") && expired.output.contains(field("subject", "dev:alice")), "\(expired.output)")
        // Within the leeway: valid; a smaller leeway makes it invalid.
        let recent = try keys.token(["exp": .number(now - 20)])
        #expect(try await verify(tessera, [recent, "--jwks", keys.file]).status == 0)
        let strict = try await verify(tessera, [recent, "--jwks", keys.file, "--leeway", "5"])
        #expect(strict.status == 1 && strict.output.hasPrefix("invalid: expired ") && strict.output.contains("(leeway 5s)"), "\(strict.output)")

        let early = try await verify(tessera, [try keys.token(["nbf": .number(now + 3600)]), "--jwks", keys.file])
        #expect(early.status == 1)
        #expect(early.output.hasPrefix("invalid: not valid before 20"), "\(early.output)")

        let untyped = try await verify(tessera, [try keys.token([:], type: "JWT"), "--jwks", keys.file])
        #expect(untyped.status == 1)
        #expect(untyped.output == "invalid: typ is JWT, expected at+jwt\n", "\(untyped.output)")
    }

    @Test func aJWKSFileWithoutIssuerWarnsAndPrintsEveryClaim() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let keys = try LocalKeys()
        let token = try keys.token(["break_glass": true, "justification": "INC-9 outage\u{1B}[2J"])

        let checked = try await verify(tessera, [token, "--jwks", keys.file, "--audience", "https://db.example.com"])
        #expect(checked.status == 0, "\(checked.output)\(checked.error)")
        #expect(checked.error.contains("warning: iss was not checked"), "\(checked.error)")
        for expected in [field("role", "db-admin"), field("scopes", "db:read"), field("activation", "act_local"), field("break-glass", "yes"),
                         field("client_id", "tessera-cli"), field("jti", "jti-local"), field("justification", #"INC-9 outage\u{1b}[2J"#)] {
            #expect(checked.output.contains(expected), "\(expected): \(checked.output)")
        }
        // With --issuer the iss is checked, and no warning is needed.
        let matching = try await verify(tessera, [token, "--jwks", keys.file, "--issuer", LocalKeys.issuer, "--audience", "https://db.example.com"])
        #expect(matching.status == 0 && matching.error.isEmpty, "\(matching.error)")
    }

    // MARK: what the command cannot do

    @Test func anUnreachableIssuerOrJWKSExits69() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let closed = try LoopbackSocket.freePort()
        let token = try LocalKeys().token([:])

        let jwks = try await verify(tessera, [token, "--jwks", "http://127.0.0.1:\(closed)/.well-known/jwks.json"])
        #expect(jwks.status == 69, "\(jwks.output)\(jwks.error)")
        #expect(jwks.error.contains("127.0.0.1:\(closed)"), "\(jwks.error)")
        let issuer = try await verify(tessera, [token, "--issuer", "http://127.0.0.1:\(closed)", "--json"])
        #expect(issuer.status == 69)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(issuer.output.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == false && (object["error"] as? String)?.contains("oauth-authorization-server") == true, "\(object)")
    }

    @Test func metadataForAnotherIssuerIsRefused() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let live = try await LiveIssuer.start(tessera)
        defer { live.server.kill() }
        let token = try await live.clientToken()
        // The same server under another spelling: iss must equal the URL given byte for byte.
        let other = live.issuer + "/"
        let refused = try await verify(tessera, [token, "--issuer", other])
        #expect(refused.status == 69, "\(refused.output)\(refused.error)")
        #expect(refused.error.contains(#"names issuer "\#(live.issuer)", not "\#(other)""#), "\(refused.error)")
        try await live.server.stop()
    }

    @Test func usageErrorsExit2() async throws {
        guard let tessera = CommandLineTests.executable else { return peerMissing("the tessera executable (swift build --build-tests builds it)") }
        let keys = try LocalKeys()
        let token = try keys.token([:])
        let cases: [(arguments: [String], stdin: String?, message: String)] = [
            ([token], nil, "--issuer URL"),
            ([token, "--audience", "x"], nil, "--jwks URL|FILE"),
            ([token, "--jwks", keys.file, "--leeway", "301"], nil, "--leeway must be 0 to 300"),
            ([token, "--jwks", "http://keys.example.com/jwks.json"], nil, "--jwks must be an https URL"),
            ([token, "--issuer", "http://issuer.example.com"], nil, "--issuer must be an https URL"),
            ([token, "--jwks", keys.file, "--introspect", "--client-id", "rs"], nil, "--introspect needs --issuer"),
            ([token, "--jwks", keys.file, "--client-id", "rs"], nil, "are for --introspect"),
            ([token, "--jwks", keys.file, "--frobnicate"], nil, "--frobnicate"),
            ([token, "--jwks", keys.root + "/missing.json"], nil, "cannot read the --jwks file"),
            (["-", "--jwks", keys.file], " \n", "no token given"),
        ]
        for (arguments, stdin, message) in cases {
            let result = try await verify(tessera, arguments, stdin: stdin)
            #expect(result.status == 64, "\(arguments.dropFirst()): \(result.error)")
            #expect(result.error.contains(message), "\(arguments.dropFirst()): \(result.error)")
            #expect(result.output.isEmpty, "\(arguments.dropFirst()): \(result.output)")
        }
        // Every command exits 64 (EX_USAGE) for a usage error.
        #expect(try await verify(tessera, ["--frobnicate"], command: "migrate").status == 64)
    }
}

// MARK: helpers

/// A line of the human output: the label padded to the value column.
private func field(_ label: String, _ value: String) -> String {
    "  " + label.padding(toLength: "justification".count + 2, withPad: " ", startingAt: 0) + value
}

/// `tessera serve` on a free loopback port whose issuer URL is its own address, so the
/// metadata's `jwks_uri` and `introspection_endpoint` point at it.
private struct LiveIssuer {
    let bundle: ReviewBundle
    let server: ReviewServer
    let issuer: String

    static func start(_ tessera: String) async throws -> LiveIssuer {
        let bundle = try ReviewBundle()
        try VerifyCommandTests.role.write(toFile: bundle.root + "/policies/roles/reader.yaml", atomically: true, encoding: .utf8)
        let port = try LoopbackSocket.freePort()
        let issuer = "http://127.0.0.1:\(port)"
        // The last --listen wins over ReviewServer's 127.0.0.1:0.
        let arguments = ["--keys", bundle.root + "/keys", "--policies", bundle.root + "/policies", "--data", bundle.root + "/data",
                         "--issuer", issuer, "--listen", "127.0.0.1:\(port)"]
        let server = try await ReviewServer.start(tessera, bundle, arguments: arguments)
        return LiveIssuer(bundle: bundle, server: server, issuer: issuer)
    }

    var resourceServerSecret: String {
        let encoded = String(bundle.resourceServerAuthorization.dropFirst("Basic ".count))
        let decoded = String(decoding: Data(base64Encoded: encoded) ?? Data(), as: UTF8.self)
        return String(decoded.dropFirst("resource-server:".count))
    }

    /// A client_credentials token of the confidential client `resource-server`.
    func clientToken() async throws -> String {
        let answer = try await server.send(["grant_type": "client_credentials"], authorization: bundle.resourceServerAuthorization)
        return try #require(answer.body["access_token"] as? String, "\(answer.body)")
    }

    func jwksDocument() async throws -> String {
        let port = server.port
        let request = Array("GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        let response = String(decoding: try await onBlockingThread { try LoopbackSocket.exchange(request, port: port) }, as: UTF8.self)
        return response.range(of: "\r\n\r\n").map { String(response[$0.upperBound...]) } ?? ""
    }

    /// The kid of the server's signing key.
    func keyID() async throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(try await jwksDocument().utf8)) as? [String: Any]
        let keys = object?["keys"] as? [[String: Any]] ?? []
        return try #require(keys.first?["kid"] as? String)
    }
}

/// A key only this test holds, its JWK Set in a file, and tokens it signs: for the cases a
/// real issuer would never produce (expired, early, untyped).
private struct LocalKeys {
    static let issuer = "https://issuer.test.example"
    let root: String
    let file: String
    let signer: Signer

    init() throws {
        root = NSTemporaryDirectory() + "tessera-verify-\(UUID())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let key = try PrivateKey.generate(.p256)
        var jwk = try key.publicKey().jwk(algorithm: .es256)
        jwk.kid = "local-1"
        file = root + "/jwks.json"
        try JSONEncoder().encode(PublicJWKSet(keys: [jwk])).write(to: URL(fileURLWithPath: file))
        signer = try Signer(key: key, algorithm: .es256)
    }

    /// A role token as Tessera would issue it, with `changes` applied.
    func token(_ changes: [String: JSONValue], type: String = JWSSigner.accessTokenType) throws -> String {
        let now = Date().timeIntervalSince1970.rounded(.down)
        var claims: [String: JSONValue] = [
            "iss": .string(Self.issuer), "sub": "dev:alice", "aud": "https://db.example.com", "iat": .number(now - 60),
            "exp": .number(now + 900), "jti": "jti-local", "client_id": "tessera-cli", "scope": "db:read",
            "roles": ["db-admin"], "act_id": "act_local",
        ]
        claims.merge(changes) { $1 }
        var writer = JSONWriter()
        writer.value(.object(claims))
        return try JWSSigner(keyID: "local-1", signer: signer).sign(payload: writer.bytes, type: type)
    }
}

/// Runs `tessera <command> ...` with standard input from `stdin` (empty when nil, never the
/// test runner's) and `environment` on top of a copy of this process's without
/// `TESSERA_CLIENT_SECRET`.
private func verify(_ tessera: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                    command: String = "verify") async throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tessera)
    process.arguments = [command] + arguments
    var variables = ProcessInfo.processInfo.environment
    variables["TESSERA_CLIENT_SECRET"] = nil
    process.environment = variables.merging(environment) { $1 }
    let input = Pipe()
    let output = Pipe()
    let error = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = error
    try process.run()
    input.fileHandleForWriting.write(Data((stdin ?? "").utf8))
    try input.fileHandleForWriting.close()
    return try await collect(process, output: output, error: error)
}

