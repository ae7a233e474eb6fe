import Foundation
import Logging
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore

func temporaryDirectory(_ prefix: String = "tessera") throws -> String {
    let path = NSTemporaryDirectory() + "\(prefix)-\(UUID())"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let testNow = Date(timeIntervalSince1970: 1_800_000_000)
let testIssuer = "https://tessera.test"

/// A client registry with one client of each authentication method, and the secrets/keys
/// tests need to authenticate as them.
struct ClientFixture {
    let registry: ClientRegistry
    let basicSecret: String
    let postSecret: String
    let assertionKey: PrivateKey
    let assertionKID = "assertion-key"

    init() throws {
        let basic = ClientSecret.generate()
        let post = ClientSecret.generate()
        let key = try PrivateKey.generate(.p256)
        var jwk = try key.publicKey().jwk(algorithm: .es256)
        jwk.kid = "assertion-key"
        let location = SourceLocation(file: "test")
        let clients = [
            ClientDefinition(id: "basic-client", authMethod: .clientSecretBasic, secretSHA256: basic.sha256Hex,
                             scopes: ["read", "write"], audiences: ["https://api.example", "https://other.example"], location: location),
            ClientDefinition(id: "post-client", authMethod: .clientSecretPost, secretSHA256: post.sha256Hex,
                             scopes: ["read"], audiences: ["https://api.example"], tokenLifetimeSeconds: 60, location: location),
            ClientDefinition(id: "jwt-client", authMethod: .privateKeyJWT,
                             keys: .inline([["kty": jwk.kty, "crv": jwk.crv!, "x": jwk.x!, "y": jwk.y!, "kid": jwk.kid!, "alg": "ES256"]], location),
                             scopes: ["read"], audiences: ["https://api.example"], location: location),
            ClientDefinition(id: "public-cli", authMethod: .none, scopes: [], audiences: [], location: location),
        ]
        registry = try ClientRegistry(bundle: PolicyBundle(clients: clients, directory: "/nonexistent"))
        basicSecret = basic.secret
        postSecret = post.secret
        assertionKey = key
    }

    /// A client assertion (RFC 7523) signed with the registered key, with overridable claims.
    func assertion(_ overrides: [String: JSONValue] = [:], kid: String? = nil, key: PrivateKey? = nil) throws -> String {
        var claims: [String: JSONValue] = [
            "iss": "jwt-client", "sub": "jwt-client", "aud": .string(testIssuer + "/token"),
            "exp": .number(testNow.timeIntervalSince1970 + 60), "iat": .number(testNow.timeIntervalSince1970),
            "jti": .string(UUID().uuidString),
        ]
        for (name, value) in overrides { claims[name] = value }
        var writer = JSONWriter()
        writer.value(.object(claims))
        let signer = JWSSigner(keyID: kid ?? assertionKID, signer: try Signer(key: key ?? assertionKey, algorithm: .es256), type: "JWT")
        return try signer.sign(payload: writer.bytes)
    }

    func authenticator(replayStore: any AssertionReplayStore = InMemoryAssertionReplayStore()) -> ClientAuthenticator {
        ClientAuthenticator(registry: registry, issuer: testIssuer, tokenEndpoint: testIssuer + "/token",
                            replayStore: replayStore, timeSource: ManualTimeSource(testNow))
    }
}

/// An audit store whose every write fails, as a full disk or a lost database would.
struct FailingAuditStore: AuditStore {
    struct Down: Error {}

    func appendAudit(seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry] {
        throw Down()
    }

    func auditEntries(matching query: AuditQuery) async throws -> [SealedAuditEntry] { [] }
    func auditHead() async throws -> AuditChainHead? { nil }
}
