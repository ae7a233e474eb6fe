import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraServer
import TesseraStore
// Every file of this target runs programs and reports missing peers through these.
@_exported import TesseraTestLogging

let testIssuer = "http://127.0.0.1:8080"

/// A policies folder and keys folder for one test server: a client per authentication method.
struct ServerFixture {
    let root: String
    let basicSecret: String
    let postSecret: String
    let assertionKey: PrivateKey

    init(keyAlgorithm: SignatureAlgorithm = .es256) throws {
        root = NSTemporaryDirectory() + "tessera-server-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/policies", withIntermediateDirectories: true)
        try KeyDirectory(path: root + "/keys").generate(algorithm: keyAlgorithm, now: Date())
        let basic = ClientSecret.generate()
        let post = ClientSecret.generate()
        basicSecret = basic.secret
        postSecret = post.secret
        assertionKey = try PrivateKey.generate(.p256)
        let jwk = try assertionKey.publicKey().jwk(algorithm: .es256)
        let jwks = try JSONEncoder().encode(PublicJWKSet(keys: [jwk]))
        try jwks.write(to: URL(fileURLWithPath: root + "/policies/batch.jwks.json"))
        let yaml = """
        clients:
          - id: demo
            secret_sha256: "\(basic.sha256Hex)"
            scopes: [read, write]
            audiences: [https://api.example.com]
          - id: poster
            auth_method: client_secret_post
            secret_sha256: "\(post.sha256Hex)"
            scopes: [read]
            audiences: [https://api.example.com]
            token_lifetime: 2m
          - id: batch
            jwks_file: batch.jwks.json
            scopes: [read]
            audiences: [https://api.example.com]
          - id: legacy
            secret_sha256: "\(basic.sha256Hex)"
            audiences: [https://legacy.example.com]
            token_type_header: JWT
          - id: resource-server
            secret_sha256: "\(basic.sha256Hex)"
            audiences: [https://api.example.com]
            can_introspect: true
        """
        try yaml.write(toFile: root + "/policies/clients.yaml", atomically: true, encoding: .utf8)
    }

    var settings: ServerSettings {
        var issuer = IssuerConfiguration(issuer: testIssuer, keysDirectory: root + "/keys", policiesDirectory: root + "/policies",
                                         dataDirectory: root + "/data")
        // A full suite on two cores can hold a fresh store's first write past the 5 s default
        // (CI once answered a client assertion's jti check 503 that way); the tests of the
        // deadline itself set their own.
        issuer.storeTimeout = .seconds(60)
        return ServerSettings(host: "127.0.0.1", port: 0, issuer: issuer)
    }

    func application() async throws -> some ApplicationProtocol {
        var logger = Logger.forCurrentTest()
        logger.logLevel = .warning
        return try await buildApplication(settings, logger: logger)
    }

    /// The event names in the fixture's audit log, read from its SQLite store.
    func auditEvents() async throws -> [String] {
        try await auditEntries().map(\.event)
    }

    /// The entries of the fixture's audit log, read from its SQLite store.
    func auditEntries() async throws -> [SealedAuditEntry] {
        let store = try await SQLiteStorage.open(directory: root + "/data", logger: .forCurrentTest())
        let entries = try await store.auditEntries(after: 0, limit: 1000)
        try await store.close()
        return entries
    }

    var basicAuthorization: String { basicAuthorization(client: "demo") }

    func basicAuthorization(client: String) -> String {
        "Basic " + Data("\(client):\(basicSecret)".utf8).base64EncodedString()
    }

    func clientAssertion(audience: String = testIssuer + "/token") throws -> String {
        let now = Date().timeIntervalSince1970
        var writer = JSONWriter()
        writer.value(.object(["iss": "batch", "sub": "batch", "aud": .string(audience), "exp": .number(now + 60),
                              "iat": .number(now), "jti": .string(UUID().uuidString)]))
        return try JWSSigner(keyID: assertionKey.publicKey().thumbprint(), signer: Signer(key: assertionKey, algorithm: .es256), type: "JWT")
            .sign(payload: writer.bytes)
    }
}

/// Form body helpers.
func formBody(_ pairs: [(String, String)]) -> ByteBuffer {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let text = pairs.map { name, value in
        "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed)!)"
    }.joined(separator: "&")
    return ByteBuffer(string: text)
}

let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

/// The JSON object of a response body; empty when the body is not a JSON object, which the
/// assertions on its members then report.
func json(_ buffer: ByteBuffer) -> [String: Any] {
    let object = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))
    return object as? [String: Any] ?? [:]
}
