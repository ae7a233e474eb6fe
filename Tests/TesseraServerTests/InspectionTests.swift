import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TesseraCrypto
import TesseraServer

/// `/introspect` (RFC 7662) and `/revoke` (RFC 7009) against tokens the same server issued.
@Suite("Introspection and revocation")
struct InspectionTests {
    let fixture: ServerFixture

    init() throws {
        fixture = try ServerFixture()
    }

    func post(_ client: some TestClientProtocol, _ path: String, as clientID: String, _ pairs: [(String, String)],
              _ check: @escaping @Sendable (TestResponse) throws -> Void) async throws {
        var headers = formHeaders
        headers[.authorization] = fixture.basicAuthorization(client: clientID)
        try await client.execute(uri: path, method: .post, headers: headers, body: formBody(pairs)) { response in
            try check(response)
        }
    }

    @Test func introspectsAndRevokesIssuedTokens() async throws {
        try await fixture.application().test(.router) { client in
            var headers = formHeaders
            headers[.authorization] = fixture.basicAuthorization
            let token = try await client.execute(uri: "/token", method: .post, headers: headers,
                                                 body: formBody([("grant_type", "client_credentials"), ("scope", "read")])) { response in
                try #require(json(response.body)["access_token"] as? String)
            }

            // The same claims unsigned (alg none) or re-typed as HMAC are never active.
            let payload = token.split(separator: ".")[1]
            for header in [#"{"alg":"none"}"#, #"{"alg":"HS256","typ":"at+jwt"}"#] {
                let forged = Base64URL.encode(Array(header.utf8)) + "." + payload + "." + (header.contains("HS256") ? "c2ln" : "")
                try await post(client, "/introspect", as: "resource-server", [("token", forged)]) { response in
                    #expect(String(buffer: response.body) == #"{"active":false}"#)
                }
            }
            try await post(client, "/introspect", as: "resource-server", [("token", token)]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "no-store")
                let body = json(response.body)
                #expect(body["active"] as? Bool == true)
                #expect(body["sub"] as? String == "demo")
                #expect(body["client_id"] as? String == "demo")
                #expect(body["scope"] as? String == "read")
                #expect(body["token_type"] as? String == "Bearer")
            }
            // Only clients declared can_introspect may ask.
            try await post(client, "/introspect", as: "demo", [("token", token)]) { response in
                #expect(response.status == .forbidden)
                #expect(json(response.body)["error"] as? String == "unauthorized_client")
            }
            // Only the client the token was issued to may revoke it.
            try await post(client, "/revoke", as: "resource-server", [("token", token)]) { response in
                #expect(response.status == .badRequest)
                #expect(json(response.body)["error"] as? String == "unauthorized_client")
            }
            try await post(client, "/introspect", as: "resource-server", [("token", token)]) { response in
                #expect(json(response.body)["active"] as? Bool == true)
            }
            // Revoking is idempotent.
            for _ in 0..<2 {
                try await post(client, "/revoke", as: "demo", [("token", token), ("token_type_hint", "access_token")]) { response in
                    #expect(response.status == .ok)
                }
            }
            try await post(client, "/introspect", as: "resource-server", [("token", token)]) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"active":false}"#)
            }
        }
        let tail = try await fixture.auditEvents()
        #expect(tail.contains("token.revoked"))
    }

    @Test func answersInactiveForForeignOrMalformedTokens() async throws {
        let foreign = try ServerFixture()  // same issuer name, different signing key
        let foreignToken = try await foreign.application().test(.router) { client in
            var headers = formHeaders
            headers[.authorization] = foreign.basicAuthorization
            return try await client.execute(uri: "/token", method: .post, headers: headers,
                                            body: formBody([("grant_type", "client_credentials")])) { response in
                try #require(json(response.body)["access_token"] as? String)
            }
        }
        try await fixture.application().test(.router) { client in
            for token in [foreignToken, "not-a-jwt", String(repeating: "a", count: 20_000)] {
                try await post(client, "/introspect", as: "resource-server", [("token", token)]) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == #"{"active":false}"#)
                }
                // RFC 7009 §2.2: an invalid token is not an error for revocation.
                try await post(client, "/revoke", as: "demo", [("token", token)]) { response in
                    #expect(response.status == .ok)
                }
            }
            try await post(client, "/introspect", as: "resource-server", []) { response in
                #expect(response.status == .badRequest)
                #expect(json(response.body)["error"] as? String == "invalid_request")
            }
            var headers = formHeaders
            headers[.authorization] = "Basic " + Data("resource-server:wrong".utf8).base64EncodedString()
            try await client.execute(uri: "/introspect", method: .post, headers: headers, body: formBody([("token", "x")])) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }
}
