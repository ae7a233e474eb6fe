import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraServer

@Suite("HTTP endpoints (in process)")
struct HTTPEndpointTests {
    let fixture: ServerFixture

    init() throws {
        fixture = try ServerFixture()
    }

    @Test func servesHonestDiscoveryMetadataAtBothAddresses() async throws {
        try await fixture.application().test(.router) { client in
            for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok)
                    let metadata = json(response.body)
                    #expect(metadata["issuer"] as? String == testIssuer)
                    #expect(metadata["token_endpoint"] as? String == testIssuer + "/token")
                    #expect(metadata["jwks_uri"] as? String == testIssuer + "/.well-known/jwks.json")
                    #expect(metadata["grant_types_supported"] as? [String]
                        == ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"])
                    #expect(metadata["token_endpoint_auth_methods_supported"] as? [String]
                        == ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"])
                    #expect(metadata["token_endpoint_auth_signing_alg_values_supported"] as? [String] == ["ES256", "EdDSA", "RS256", "PS256"])
                    #expect(metadata["scopes_supported"] as? [String] == ["read", "write"])
                    // Nothing is advertised that does not exist.
                    #expect(metadata["authorization_endpoint"] == nil)
                    #expect(metadata["introspection_endpoint"] as? String == testIssuer + "/introspect")
                    #expect(metadata["revocation_endpoint"] as? String == testIssuer + "/revoke")
                }
            }
        }
    }

    @Test func servesTheJWKSWithCachingHeadersAnd304() async throws {
        try await fixture.application().test(.router) { client in
            let etag = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "public, max-age=300")
                #expect(response.headers[.contentType] == "application/jwk-set+json")
                let keys = try JSONDecoder().decode(PublicJWKSet.self, from: Data(response.body.readableBytesView))
                #expect(keys.keys.count == 1)
                #expect(keys.keys[0].kty == "EC")
                return try #require(response.headers[.eTag])
            }
            try await client.execute(uri: "/.well-known/jwks.json", method: .get, headers: [.ifNoneMatch: etag]) { response in
                #expect(response.status == .notModified)
                #expect(response.body.readableBytes == 0)
            }
            try await client.execute(uri: "/.well-known/jwks.json", method: .get, headers: [.ifNoneMatch: "\"other\", \(etag)"]) { response in
                #expect(response.status == .notModified)
            }
            try await client.execute(uri: "/.well-known/jwks.json", method: .get, headers: [.ifNoneMatch: "\"stale\""]) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func issuesATokenForClientSecretBasic() async throws {
        let keys = try SigningKeys(keys: KeyDirectory(path: fixture.root + "/keys").load())
        try await fixture.application().test(.router) { client in
            var headers = formHeaders
            headers[.authorization] = fixture.basicAuthorization
            try await client.execute(uri: "/token", method: .post, headers: headers,
                                     body: formBody([("grant_type", "client_credentials"), ("scope", "read")])) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "no-store")
                let body = json(response.body)
                #expect(body["token_type"] as? String == "Bearer")
                #expect(body["expires_in"] as? Int == 300)
                #expect(body["scope"] as? String == "read")
                let token = try #require(body["access_token"] as? String)
                let verifier = JWTVerifier(policy: VerificationPolicy(issuer: testIssuer, audiences: ["https://api.example.com"], expectedType: "at+jwt"))
                let verified = try verifier.verify(token, keys: keys.verificationKeys, now: Date())
                #expect(verified.claims.subject == "demo")
                #expect(verified.header.keyID == keys.currentKeyID)
            }
            // The scheme in any case (RFC 9110 §11.1).
            headers[.authorization] = "bAsIc " + fixture.basicAuthorization.dropFirst("Basic ".count)
            try await client.execute(uri: "/token", method: .post, headers: headers,
                                     body: formBody([("grant_type", "client_credentials")])) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func issuesATokenForClientSecretPost() async throws {
        try await fixture.application().test(.router) { client in
            let body = formBody([("grant_type", "client_credentials"), ("client_id", "poster"), ("client_secret", fixture.postSecret)])
            try await client.execute(uri: "/token", method: .post, headers: formHeaders, body: body) { response in
                #expect(response.status == .ok)
                #expect(json(response.body)["expires_in"] as? Int == 120)
            }
        }
    }

    @Test func issuesATokenForPrivateKeyJWTAndRefusesItsReplay() async throws {
        try await fixture.application().test(.router) { client in
            let assertion = try fixture.clientAssertion()
            let body = formBody([("grant_type", "client_credentials"), ("client_assertion_type", ClientAuthenticator.jwtBearerAssertionType),
                                 ("client_assertion", assertion)])
            try await client.execute(uri: "/token", method: .post, headers: formHeaders, body: body) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/token", method: .post, headers: formHeaders, body: body) { response in
                #expect(response.status == .unauthorized)
                #expect(json(response.body)["error"] as? String == "invalid_client")
            }
        }
    }

    /// Every error of the token endpoint: status, RFC 6749 error code, and a description.
    @Test("token endpoint errors", arguments: [
        TokenErrorCase("no grant type", body: [("scope", "read")], status: 400, error: "invalid_request"),
        TokenErrorCase("unsupported grant", body: [("grant_type", "password")], status: 400, error: "unsupported_grant_type"),
        TokenErrorCase("scope not allowed", body: [("grant_type", "client_credentials"), ("scope", "admin")], status: 400, error: "invalid_scope"),
        TokenErrorCase("foreign resource", body: [("grant_type", "client_credentials"), ("resource", "https://evil.example")], status: 400, error: "invalid_target"),
        TokenErrorCase("repeated parameter", body: [("grant_type", "client_credentials"), ("scope", "read"), ("scope", "write")], status: 400, error: "invalid_request"),
        TokenErrorCase("wrong secret", authorization: .header("Basic " + Data("demo:wrong".utf8).base64EncodedString()), body: [("grant_type", "client_credentials")], status: 401, error: "invalid_client"),
        TokenErrorCase("malformed basic", authorization: .header("Basic !!!"), body: [("grant_type", "client_credentials")], status: 401, error: "invalid_client"),
        TokenErrorCase("unpadded basic", authorization: .header("Basic " + Data("demo:xy".utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")),
                       body: [("grant_type", "client_credentials")], status: 401, error: "invalid_client"),
        TokenErrorCase("no authentication", authorization: .none, body: [("grant_type", "client_credentials")], status: 401, error: "invalid_client"),
        TokenErrorCase("bad client assertion", authorization: .none, body: [("grant_type", "client_credentials"), ("client_assertion_type", ClientAuthenticator.jwtBearerAssertionType), ("client_assertion", "e30.e30.sig")], status: 401, error: "invalid_client"),
        TokenErrorCase("json body", contentType: "application/json", body: [("grant_type", "client_credentials")], status: 400, error: "invalid_request"),
        TokenErrorCase("no content type", contentType: nil, body: [("grant_type", "client_credentials")], status: 400, error: "invalid_request"),
        TokenErrorCase("bad percent encoding", rawBody: "grant_type=client_credentials&scope=%ZZ", status: 400, error: "invalid_request"),
        TokenErrorCase("invalid utf8", rawBody: "grant_type=client_credentials&scope=%C3%28", status: 400, error: "invalid_request"),
        TokenErrorCase("oversized body", rawBody: String(repeating: "a", count: 70_000), status: 413, error: "invalid_request"),
    ])
    func tokenEndpointErrors(_ testCase: TokenErrorCase) async throws {
        try await fixture.application().test(.router) { client in
            var headers: HTTPFields = [:]
            if let contentType = testCase.contentType { headers[.contentType] = contentType }
            switch testCase.authorization {
            case .valid: headers[.authorization] = fixture.basicAuthorization
            case .none: break
            case .header(let value): headers[.authorization] = value
            }
            let body = testCase.rawBody.map { ByteBuffer(string: $0) } ?? formBody(testCase.body)
            try await client.execute(uri: "/token", method: .post, headers: headers, body: body) { response in
                #expect(response.status.code == testCase.status, "\(testCase.name)")
                #expect(response.headers[.contentType] == "application/json")
                let object = json(response.body)
                #expect(object["error"] as? String == testCase.error, "\(testCase.name): \(object)")
                #expect((object["error_description"] as? String)?.isEmpty == false)
                if testCase.status == 401 {
                    #expect(response.headers[.wwwAuthenticate] == #"Basic realm="tessera""#)
                }
            }
        }
    }

    @Test func typesTokensAsTheClientIsConfigured() async throws {
        try await fixture.application().test(.router) { client in
            for (clientID, expectedType) in [("demo", "at+jwt"), ("legacy", "JWT")] {
                var headers = formHeaders
                headers[.authorization] = fixture.basicAuthorization(client: clientID)
                try await client.execute(uri: "/token", method: .post, headers: headers,
                                         body: formBody([("grant_type", "client_credentials")])) { response in
                    #expect(response.status == .ok)
                    let token = try #require(json(response.body)["access_token"] as? String)
                    let header = try UnverifiedJWS(compact: token, maximumBytes: 16 * 1024).header
                    #expect(header.type == expectedType)
                }
            }
        }
    }

    @Test func answersUnknownPathsAndMethodsWithJSON() async throws {
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/nope", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(json(response.body)["error"] as? String == "not_found")
            }
            try await client.execute(uri: "/token", method: .get) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
                #expect(json(response.body)["error"] as? String == "invalid_request")
            }
            try await client.execute(uri: "/.well-known/jwks.json", method: .post) { response in
                #expect(response.status == .methodNotAllowed)
            }
            try await client.execute(uri: "/.well-known/jwks.json", method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.eTag] != nil)
            }
            try await client.execute(uri: "/healthz", method: .delete) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD")
            }
        }
    }

    @Test func reportsHealthAndReadiness() async throws {
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                let body = json(response.body)
                #expect(body["status"] as? String == "ready")
                #expect(body["clients"] as? Int == 5)
            }
        }
    }

    @Test func refusesToStartWithABrokenPolicyFile() async throws {
        try "clients:\n  - id: x\n    bogus: 1\n".write(toFile: fixture.root + "/policies/clients.yaml", atomically: true, encoding: .utf8)
        let error = await #expect(throws: IssuerStartupError.self) { try await fixture.application() }
        #expect(error?.description.contains("clients.yaml:3:5: clients[0].bogus") == true, "\(String(describing: error))")
    }

    @Test func refusesToStartWithABrokenClientKeyFile() async throws {
        try "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}".write(
            toFile: fixture.root + "/policies/batch.jwks.json", atomically: true, encoding: .utf8)
        let error = await #expect(throws: IssuerStartupError.self) { try await fixture.application() }
        #expect(error?.description.contains("batch") == true)
    }
}

struct TokenErrorCase: Sendable, CustomTestStringConvertible {
    enum Authorization: Sendable {
        /// The `demo` client's valid Basic credentials.
        case valid
        case none
        case header(String)
    }

    let name: String
    let authorization: Authorization
    let contentType: String?
    let body: [(String, String)]
    let rawBody: String?
    let status: Int
    let error: String

    var testDescription: String { name }

    init(_ name: String, authorization: Authorization = .valid, contentType: String? = "application/x-www-form-urlencoded",
         body: [(String, String)] = [], rawBody: String? = nil, status: Int, error: String) {
        self.name = name
        self.authorization = authorization
        self.contentType = contentType
        self.body = body
        self.rawBody = rawBody
        self.status = status
        self.error = error
    }
}
