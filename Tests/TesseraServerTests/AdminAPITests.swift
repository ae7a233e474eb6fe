import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TesseraCore
import TesseraServer
import TesseraStore
import TesseraTestLogging

/// `GET /admin/audit` over HTTP: RFC 6750 challenges, filters, paging, and the audit of
/// every admin call.
@Suite("Admin API")
struct AdminAPITests {
    let fixture: ServerFixture

    init() throws {
        fixture = try ServerFixture()
    }

    /// An admin token minted as `tessera admin token` does, through a second connection to the
    /// running server's store.
    func adminToken(subject: String = "ops-alice") async throws -> String {
        let store = try await SQLiteStorage.open(directory: fixture.root + "/data", logger: .forCurrentTest())
        do {
            let keys = try SigningKeys(keys: KeyDirectory(path: fixture.root + "/keys").load())
            let minted = try await AdminAccess.issueToken(subject: subject, lifetimeSeconds: 300, reason: nil, urls: IssuerURLs(issuer: testIssuer),
                                                          keys: keys, audit: AuditLog(store: store, timeSource: SystemTimeSource()),
                                                          timeSource: SystemTimeSource())
            try await store.close()
            return minted.token
        } catch {
            // An unclosed SQLite connection stops the whole test process; the failure is the answer.
            try? await store.close()
            throw error
        }
    }

    func get(_ client: some TestClientProtocol, _ uri: String, token: String?) async throws -> TestResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer " + token }
        return try await client.execute(uri: uri, method: .get, headers: headers)
    }

    @Test func refusesRequestsWithoutAValidAdminToken() async throws {
        try await fixture.application().test(.router) { client in
            let missing = try await get(client, "/admin/audit", token: nil)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate] == #"Bearer realm="tessera-admin""#)

            // An ordinary access token of this issuer, even a valid one, is no admin token.
            var headers = formHeaders
            headers[.authorization] = fixture.basicAuthorization
            let access = try await client.execute(uri: "/token", method: .post, headers: headers,
                                                  body: formBody([("grant_type", "client_credentials")])) { response in
                try #require(json(response.body)["access_token"] as? String)
            }
            let ordinary = try await get(client, "/admin/audit", token: access)
            #expect(ordinary.status == .unauthorized)
            #expect(ordinary.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)
            #expect(json(ordinary.body)["error"] as? String == "invalid_token")
            let garbage = try await get(client, "/admin/audit", token: "not.a.token")
            #expect(garbage.status == .unauthorized)
            let post = try await client.execute(uri: "/admin/audit", method: .post)
            #expect(post.status == .methodNotAllowed)
        }
        // Three failures from one source: the first in full, the other two in one summary entry
        // (written when the server stops), so a flood of bad tokens cannot flood the log.
        let failures = try await fixture.auditEntries().filter { $0.event == "admin.authentication_failed" }
        #expect(failures.count == 2, "\(failures.map(\.body))")
        #expect(failures.last?.body.contains(#""aggregated":true"#) == true && failures.last?.body.contains(#""count":2"#) == true,
                "\(failures.map(\.body))")
    }

    @Test func pagesThroughFilteredEntriesAndAuditsEachRead() async throws {
        let app = try await fixture.application()
        try await app.test(.router) { client in
            var headers = formHeaders
            headers[.authorization] = fixture.basicAuthorization
            for _ in 0..<3 {
                try await client.execute(uri: "/token", method: .post, headers: headers,
                                         body: formBody([("grant_type", "client_credentials")])) { #expect($0.status == .ok) }
            }
            let token = try await adminToken()
            let first = try await get(client, "/admin/audit?event=token.issued&limit=2", token: token)
            #expect(first.status == .ok, "\(String(buffer: first.body))")
            #expect(first.headers[.cacheControl] == "no-store")
            let page = json(first.body)
            let entries = try #require(page["entries"] as? [[String: Any]])
            #expect(entries.count == 2)
            #expect(entries.allSatisfy { (($0["entry"] as? [String: Any])?["entry"] as? [String: Any])?["event"] as? String == "token.issued" })
            #expect(entries.allSatisfy { ($0["hash"] as? String)?.count == 64 })
            let after = try #require(page["next_after"] as? Int)
            let second = json(try await get(client, "/admin/audit?event=token.issued&limit=2&after=\(after)", token: token).body)
            #expect((second["entries"] as? [Any])?.count == 1)
            #expect(second["next_after"] is NSNull)

            let bySubject = json(try await get(client, "/admin/audit?subject=ops-alice", token: token).body)
            let events = (bySubject["entries"] as? [[String: Any]] ?? []).compactMap { (($0["entry"] as? [String: Any])?["entry"] as? [String: Any])?["event"] as? String }
            // Each read is recorded before it runs, so this one sees itself.
            #expect(events == ["admin.token_issued", "admin.audit_read", "admin.audit_read", "admin.audit_read"], "\(events)")

            let future = try await get(client, "/admin/audit?since=2999-01-01T00:00:00Z", token: token)
            #expect((json(future.body)["entries"] as? [Any])?.isEmpty == true)
            let bad = try await get(client, "/admin/audit?limit=5000", token: token)
            #expect(bad.status == .badRequest)
            #expect(json(bad.body)["error"] as? String == "invalid_request")
        }
    }

    @Test func explainsWhatTheEngineWouldDecideWithoutIssuing() async throws {
        try FileManager.default.createDirectory(atPath: fixture.root + "/policies/roles", withIntermediateDirectories: true)
        try """
        roles:
          - name: prod-readonly
            audiences: [https://api.example.com]
            scopes: [read]
            default_duration: 30m
            max_duration: 1h
            eligible: {upstreams: [corp], groups: [sre]}
            conditions: {mfa: true}
        """.write(toFile: fixture.root + "/policies/roles/test.yaml", atomically: true, encoding: .utf8)
        try await fixture.application().test(.router) { client in
            func explain(_ body: String, token: String?) async throws -> TestResponse {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let token { headers[.authorization] = "Bearer " + token }
                return try await client.execute(uri: "/admin/explain", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            let question = #"{"identity": {"upstream": "corp", "subject": "alice", "groups": ["sre"], "amr": ["pwd"]},"#
                + #" "context": {"ip": "10.1.2.3"}, "request": {"role": "prod-readonly"}}"#
            #expect(try await explain(question, token: nil).status == .unauthorized)
            let token = try await adminToken()
            let denied = try await explain(question, token: token)
            #expect(denied.status == .ok, "\(String(buffer: denied.body))")
            let answer = json(denied.body)
            #expect(answer["outcome"] as? String == "deny")
            let rules = answer["rules"] as? [[String: Any]] ?? []
            #expect(rules.contains { $0["rule"] as? String == "mfa" && $0["status"] as? String == "failed" }, "\(rules)")
            let allowed = json(try await explain(question.replacingOccurrences(of: #"["pwd"]"#, with: #"["pwd", "mfa"]"#), token: token).body)
            #expect(allowed["outcome"] as? String == "allow")
            #expect(allowed["lifetime_seconds"] as? Int == 1800)
            let malformed = try await explain(#"{"identity": {}}"#, token: token)
            #expect(malformed.status == .badRequest)
        }
        let events = try await fixture.auditEvents()
        #expect(events.filter { $0 == "admin.explain" }.count == 2, "\(events)")
        #expect(!events.contains("token.issued"), "explaining issued a token")
    }

    @Test func aBrokenBundleIsRefusedAndAudited() async throws {
        try "clients:\n  - id: broken\n    audiences: 7: 8\n".write(toFile: fixture.root + "/policies/clients.yaml", atomically: true,
                                                                  encoding: .utf8)
        let error = await #expect(throws: IssuerStartupError.self) { try await fixture.application() }
        #expect(error?.description.contains("clients.yaml:3") == true, "\(String(describing: error))")
        #expect(try await fixture.auditEvents().last == "policy.rejected")
    }

    @Test func refusesToStartWhenAClientClaimsTheAdminAudience() async throws {
        let yaml = """
        clients:
          - id: sneaky
            secret_sha256: "\(String(repeating: "ab", count: 32))"
            audiences: [\(testIssuer)/admin]
        """
        try yaml.write(toFile: fixture.root + "/policies/clients.yaml", atomically: true, encoding: .utf8)
        let error = await #expect(throws: IssuerStartupError.self) { try await fixture.application() }
        #expect(error?.description.contains("reserved for admin tokens") == true, "\(String(describing: error))")
    }

    /// Rotation and emergency revocation over the admin API: the JWKS follows at once and the
    /// revoked key's tokens turn inactive.
    @Test func rotatesAndRevokesKeys() async throws {
        try await fixture.application().test(.router) { client in
            let token = try await adminToken()
            var headers = HTTPFields()
            headers[.authorization] = "Bearer " + token
            headers[.contentType] = "application/json"
            let unauthorized = try await client.execute(uri: "/admin/keys/rotate", method: .post, body: ByteBuffer(string: "{}"))
            #expect(unauthorized.status == .unauthorized)

            let jwksKIDs = { () async throws -> [String] in
                try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
                    (json(response.body)["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String }
                }
            }
            let before = try await jwksKIDs()
            #expect(before.count == 1)
            let rotated = try await client.execute(uri: "/admin/keys/rotate", method: .post, headers: headers,
                                                   body: ByteBuffer(string: #"{"alg":"ES256"}"#))
            #expect(rotated.status == .ok)
            let next = try #require((json(rotated.body)["key"] as? [String: Any])?["kid"] as? String)
            #expect((json(rotated.body)["key"] as? [String: Any])?["state"] as? String == "next")
            #expect(try await jwksKIDs() == before + [next], "the next key is not published at once")

            let bad = try await client.execute(uri: "/admin/keys/rotate", method: .post, headers: headers,
                                               body: ByteBuffer(string: #"{"alg":"HS256"}"#))
            #expect(bad.status == .badRequest)

            // A token signed by the current key, then that key revoked.
            var tokenHeaders = formHeaders
            tokenHeaders[.authorization] = fixture.basicAuthorization
            let access = try await client.execute(uri: "/token", method: .post, headers: tokenHeaders,
                                                  body: formBody([("grant_type", "client_credentials")])) { response in
                try #require(json(response.body)["access_token"] as? String)
            }
            let missingReason = try await client.execute(uri: "/admin/keys/revoke", method: .post, headers: headers,
                                                         body: ByteBuffer(string: #"{"kid":"\#(before[0])"}"#))
            #expect(missingReason.status == .badRequest)
            let revoked = try await client.execute(uri: "/admin/keys/revoke", method: .post, headers: headers,
                                                   body: ByteBuffer(string: #"{"kid":"\#(before[0])","reason":"key file leaked"}"#))
            #expect(revoked.status == .ok, "\(String(buffer: revoked.body))")
            #expect(json(revoked.body)["replacement_kid"] as? String == next, "the waiting next key should replace it")
            #expect(json(revoked.body)["tokens_revoked"] as? Int ?? -1 >= 1)
            #expect(try await jwksKIDs() == [next], "the revoked key is still published")

            var introspect = formHeaders
            introspect[.authorization] = fixture.basicAuthorization(client: "resource-server")
            let active = try await client.execute(uri: "/introspect", method: .post, headers: introspect,
                                                  body: formBody([("token", access)])) { json($0.body)["active"] as? Bool }
            #expect(active == false, "a token of the revoked key is still active")
            // The admin token itself was signed by the revoked key: it is dead too.
            #expect(try await client.execute(uri: "/admin/keys", method: .get, headers: headers).status == .unauthorized)
            headers[.authorization] = "Bearer " + (try await adminToken())
            let listed = try await client.execute(uri: "/admin/keys", method: .get, headers: headers)
            #expect(listed.status == .ok, "\(String(buffer: listed.body))")
            let states = (json(listed.body)["keys"] as? [[String: Any]] ?? []).compactMap { $0["state"] as? String }
            #expect(states.sorted() == ["current", "revoked"])
        }
        let events = try await fixture.auditEvents()
        #expect(events.contains("key.revoked") && events.contains("key.tokens_revoked") && events.contains("key.generated"))
    }
}
