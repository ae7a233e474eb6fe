import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TesseraCore

/// Token exchange end to end through the real executable and the example bundle: `tessera
/// serve --dev`, identity tokens from `tessera dev token`, role tokens verified by PyJWT.
@Suite("token exchange (end to end)")
struct TokenExchangeTests {
    /// The repository's `policies/` folder: the example bundle the README walks through.
    static let examplePolicies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("policies").path

    static let exchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let idTokenType = "urn:ietf:params:oauth:token-type:id_token"

    /// `policy explain` exits with the outcome (0 allow, 3 deny, 4 approval required), so a
    /// script can use it as a check, and `--json` is the admin API's answer.
    @Test func policyExplainExitsWithTheOutcome() async throws {
        let tessera = try ActivationFlowTests.tesseraExecutable()
        let asked = ["policy", "explain", "--policies", Self.examplePolicies, "--upstream", "corp", "--subject", "alice@example.com",
                     "--groups", "payments-sre", "--amr", "pwd,mfa"]
        let allowed = try await run(tessera, asked + ["--role", "prod-readonly"])
        #expect(allowed.status == 0, "\(allowed.output) \(allowed.error)")
        #expect(allowed.output.contains("role prod-readonly: allow"))
        let denied = try await run(tessera, asked + ["--role", "db-admin"])
        #expect(denied.status == 3, "\(denied.output)")
        #expect(denied.output.contains("role db-admin: deny"))
        let approval = try await run(tessera, asked + ["--role", "payments-admin", "--justification", "rotate keys", "--json"])
        #expect(approval.status == 4, "\(approval.output)")
        let object = try JSONSerialization.jsonObject(with: Data(approval.output.utf8)) as? [String: Any]
        #expect(object?["outcome"] as? String == "approval_required")
        #expect(object?["lifetime_seconds"] as? Int == 3600)
        #expect((object?["rules"] as? [[String: Any]])?.contains { $0["rule"] as? String == "approval" } == true)
        let glass = try await run(tessera, asked + ["--role", "payments-admin", "--justification", "outage, nobody answers", "--break-glass"])
        #expect(glass.status == 0, "break-glass skips the approval: \(glass.output)")
        let broken = try await run(tessera, asked + ["--role", "prod-readonly", "--time", "yesterday"])
        #expect(broken.status == 1)
    }

    @Test func exchangesDevIdentityTokensForRoleTokensAndExplainsDenials() async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-exchange-\(UUID())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.examplePolicies, toPath: root + "/policies")
        let issuer = "http://127.0.0.1:8080"
        let folders = ["--keys", root + "/keys", "--policies", root + "/policies", "--data", root + "/data"]
        #expect(try await run(tessera, ["keys", "generate", "--keys", root + "/keys"]).status == 0)
        // A resource server that introspects, added to the example clients.
        let created = try await run(tessera, ["clients", "create", "api-gateway", "--audience", "https://api.example.com", "--can-introspect",
                                              "--policies", root + "/policies"])
        let secret = try #require(created.output.split(separator: "\n").first { $0.hasPrefix("client_secret: ") }?
            .dropFirst("client_secret: ".count))
        let gateway = "Basic " + Data("api-gateway:\(secret)".utf8).base64EncodedString()

        // A role for a resource server that only verifies RSA: its tokens are signed RS256.
        try """
        roles:
          - name: legacy-readonly
            audiences: [https://legacy.example.com]
            scopes: [legacy:read]
            default_duration: 15m
            max_duration: 1h
            signing_alg: RS256
            eligible:
              upstreams: [dev]
              groups: [payments-sre]
            conditions:
              mfa: true
        """.write(toFile: root + "/policies/roles/legacy.yaml", atomically: true, encoding: .utf8)

        // Without --dev, dev tokens are just tokens from an unknown issuer.
        let server = try await Replica.start(tessera, folders + ["--issuer", issuer, "--dev"])
        defer { server.kill() }

        func devToken(_ arguments: [String]) async throws -> String {
            let minted = try await run(tessera, ["dev", "token", "--issuer", issuer, "--data", root + "/data"] + arguments)
            #expect(minted.status == 0, "\(minted.error)")
            return minted.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func exchange(_ token: String, role: String, extra: [String: String] = [:]) async throws -> (status: Int, body: [String: Any]) {
            var form = ["grant_type": Self.exchange, "client_id": "tessera-cli", "subject_token": token,
                        "subject_token_type": Self.idTokenType, "scope": role]
            form.merge(extra) { $1 }
            return try await server.send("/token", form, nil)
        }

        // An engineer signed in with MFA gets the read-only production role.
        let alice = try await devToken(["--sub", "alice", "--groups", "payments-sre", "--amr", "pwd,mfa"])
        let granted = try await exchange(alice, role: "prod-readonly", extra: ["requested_lifetime": "30m"])
        #expect(granted.status == 200, "\(granted.body)")
        #expect(granted.body["issued_token_type"] as? String == "urn:ietf:params:oauth:token-type:access_token")
        #expect(granted.body["expires_in"] as? Int == 1800)
        #expect(granted.body["scope"] as? String == "prod:read")
        let token = try #require(granted.body["access_token"] as? String)

        // PyJWT, against the live JWKS, with the role's audience.
        if await PyJWTInteropTests.pyJWTAvailable(), let python = which("python3") {
            let verified = try await run(python, ["-c", PyJWTInteropTests.script, "http://127.0.0.1:\(server.port)/.well-known/jwks.json",
                                                  token, issuer, "https://api.example.com"])
            #expect(verified.status == 0, "PyJWT refused the role token: \(verified.error)")
            let claims = (try JSONSerialization.jsonObject(with: Data(verified.output.utf8)) as? [String: Any])?["claims"] as? [String: Any]
            #expect(claims?["sub"] as? String == "dev:alice")
            #expect(claims?["roles"] as? [String] == ["prod-readonly"])
            #expect(claims?["client_id"] as? String == "tessera-cli")
            #expect(claims?["amr"] as? [String] == ["pwd", "mfa"])
            #expect((claims?["act_id"] as? String)?.hasPrefix("act_") == true)
            #expect(claims?["idp"] as? String == "dev")
        } else {
            peerMissing("python3 with PyJWT and cryptography (pip install pyjwt cryptography)")
        }

        let legacy = try #require(try await exchange(alice, role: "legacy-readonly").body["access_token"] as? String)
        #expect(Self.algorithm(of: legacy) == "RS256", "the role's signing_alg was not used")
        #expect(Self.algorithm(of: token) == "ES256")

        // Introspection and revocation know role tokens too; the CLI client revokes its own.
        #expect(try await server.introspect(token, gateway) == true)
        #expect(try await server.send("/revoke", ["token": token, "client_id": "tessera-cli"], nil).status == 200)
        #expect(try await server.introspect(token, gateway) == false)

        // A password-only sign-in is denied, and told why.
        let weak = try await devToken(["--sub", "bob", "--groups", "payments-sre", "--amr", "pwd"])
        let denied = try await exchange(weak, role: "prod-readonly")
        #expect(denied.status == 403)
        #expect(denied.body["error"] as? String == "access_denied")
        #expect((denied.body["error_description"] as? String)?.contains("MFA") == true, "\(denied.body)")

        // db-admin needs a ticket matching the pattern, among other things: every failure is named.
        let dba = try await exchange(alice, role: "db-admin", extra: ["ticket": "later"])
        #expect(dba.status == 403)
        let description = dba.body["error_description"] as? String ?? ""
        for expected in ["ticket", "device", "justification"] {
            #expect(description.contains(expected), "\(description)")
        }

        // Every condition of break-glass but the approval holds: a distinct error the CLI can act on.
        let hardware = try await devToken(["--sub", "alice@example.com", "--groups", "payments-sre", "--amr", "hwk,mfa"])
        let approval = try await exchange(hardware, role: "break-glass", extra: ["justification": "primary database is down"])
        #expect(approval.status == 403)
        #expect(approval.body["error"] as? String == "approval_required", "\(approval.body)")

        // A forged or foreign subject token never gets that far.
        let forged = try await exchange(alice.dropLast(4) + "AAAA", role: "prod-readonly")
        #expect(forged.status == 400)
        #expect(forged.body["error"] as? String == "invalid_grant")
        // client_credentials is closed to the public CLI client.
        let closed = try await server.send("/token", ["grant_type": "client_credentials", "client_id": "tessera-cli"], nil)
        #expect(closed.body["error"] as? String == "unauthorized_client")

        try await server.stop()
        let exported = try await run(tessera, ["audit", "export", "--since", "1h", "--data", root + "/data"])
        #expect(exported.output.contains(#""event":"token.issued""#))
        #expect(exported.output.contains(#""role":"prod-readonly""#))
        #expect(exported.output.contains(#""event":"upstream.token_rejected""#))
        #expect(!exported.output.contains(alice), "a subject token reached the audit log")
        let roleQuery = try await run(tessera, ["audit", "export", "--since", "1h", "--role", "db-admin", "--data", root + "/data"])
        #expect(roleQuery.output.split(separator: "\n").count == 1, "\(roleQuery.output)")
        #expect(try await run(tessera, ["audit", "verify", "--data", root + "/data"]).status == 0)
    }

    /// The `alg` of a compact JWS's header.
    static func algorithm(of token: String) -> String? {
        var header = String(token.split(separator: ".").first ?? "").replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while header.count % 4 != 0 { header += "=" }
        guard let data = Data(base64Encoded: header) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["alg"] as? String
    }
}
