import Foundation
import Logging
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraTestLogging

/// A document fetcher tests control: a document or a failure per URL, an optional delay, and
/// how often each URL was asked for.
final class StubFetcher: UpstreamDocumentFetcher, @unchecked Sendable {
    // Every member is guarded by `lock`: tests change answers while verifications run.
    private let lock = NSLock()
    private var documents: [String: FetchedDocument] = [:]
    private var counts: [String: Int] = [:]
    private var delay: Duration = .zero

    func serve(_ url: String, _ body: String, maxAge: TimeInterval? = nil) {
        lock.withLock { documents[url] = FetchedDocument(body: Array(body.utf8), maxAge: maxAge) }
    }

    /// The URL stops answering, as an unreachable upstream does.
    func fail(_ url: String) {
        lock.withLock { documents[url] = nil }
    }

    func setDelay(_ value: Duration) {
        lock.withLock { delay = value }
    }

    func count(_ url: String) -> Int {
        lock.withLock { counts[url, default: 0] }
    }

    var total: Int {
        lock.withLock { counts.values.reduce(0, +) }
    }

    func fetch(_ url: String) async throws(UpstreamFetchError) -> FetchedDocument {
        let (document, delay) = lock.withLock { () -> (FetchedDocument?, Duration) in
            counts[url, default: 0] += 1
            return (documents[url], self.delay)
        }
        if delay > .zero { try? await Task.sleep(for: delay) }
        guard let document else { throw UpstreamFetchError("\(url) is unreachable (stub)") }
        return document
    }
}

/// An upstream's signing key as the tests hold it.
struct UpstreamTestKey {
    let key: PrivateKey
    let kid: String
    let algorithm: SignatureAlgorithm

    init(_ kid: String, _ algorithm: SignatureAlgorithm = .es256) throws {
        self.key = try PrivateKey.generate(KeySpec.defaultSpec(for: algorithm))
        self.kid = kid
        self.algorithm = algorithm
    }

    var publicJWK: PublicJWK {
        get throws {
            var jwk = try key.publicKey().jwk(algorithm: algorithm)
            jwk.kid = kid
            return jwk
        }
    }
}

/// A JWK Set document holding the public halves of `keys`.
func jwksDocument(_ keys: [UpstreamTestKey]) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: try encoder.encode(PublicJWKSet(keys: keys.map { try $0.publicJWK })), as: UTF8.self)
}

func base64URLJSON(_ value: JSONValue) -> String {
    var writer = JSONWriter()
    writer.value(value)
    return Base64URL.encode(writer.bytes)
}

/// A compact JWS with exactly the given header and claims, signed by `key` with its algorithm
/// (or carrying `signature` as given).
func signedToken(header: [String: JSONValue], claims: [String: JSONValue], key: UpstreamTestKey?,
                 signature: [UInt8]? = nil) throws -> String {
    let input = base64URLJSON(.object(header)) + "." + base64URLJSON(.object(claims))
    let bytes: [UInt8]
    if let signature {
        bytes = signature
    } else if let key {
        bytes = try Signer(key: key.key, algorithm: key.algorithm).sign(Array(input.utf8))
    } else {
        bytes = []
    }
    return input + "." + Base64URL.encode(bytes)
}

let corpIssuer = "https://corp.example"
let corpJWKS = "https://corp.example/jwks"
let partnerIssuer = "https://partner.example"
let partnerJWKS = "https://partner.example/jwks"

/// Two upstreams, `corp` (ES256 and RS256, ages bounded, device compliance mapped) and
/// `partner` (ES256), each with its own key, served by a stub fetcher on a manual clock.
struct UpstreamFixture {
    let corpKey: UpstreamTestKey
    let partnerKey: UpstreamTestKey
    let fetcher = StubFetcher()
    let clock = ManualTimeSource(testNow)
    let registry: UpstreamRegistry

    static let corp = UpstreamDefinition(
        id: "corp", issuer: corpIssuer, keys: .jwksURI(corpJWKS), audiences: ["tessera-cli", "tessera-web"],
        algorithms: ["ES256", "RS256"], leewaySeconds: 60, maximumTokenAgeSeconds: 3600, maximumAuthenticationAgeSeconds: 12 * 3600,
        claims: UpstreamClaimMapping(deviceCompliance: DeviceComplianceMapping(claim: "device_state", values: [.bool(true), .string("compliant")])),
        location: SourceLocation(file: "test"))
    static let partner = UpstreamDefinition(
        id: "partner", issuer: partnerIssuer, keys: .jwksURI(partnerJWKS), audiences: ["tessera-cli"], algorithms: ["ES256"],
        location: SourceLocation(file: "test"))

    init(upstreams: [UpstreamDefinition] = [UpstreamFixture.corp, UpstreamFixture.partner],
         configuration: UpstreamKeyCacheConfiguration = .init()) throws {
        corpKey = try UpstreamTestKey("corp-1")
        partnerKey = try UpstreamTestKey("partner-1")
        fetcher.serve(corpJWKS, try jwksDocument([corpKey]))
        fetcher.serve(partnerJWKS, try jwksDocument([partnerKey]))
        registry = try UpstreamRegistry(upstreams: upstreams, directory: "/nonexistent", fetcher: fetcher, timeSource: clock,
                                        configuration: configuration, logger: Logger.forCurrentTest())
    }

    var now: Date { clock.now() }

    /// Claims of a valid corp token at the fixture's current time.
    func corpClaims(_ overrides: [String: JSONValue] = [:], removing removed: [String] = []) -> [String: JSONValue] {
        let now = clock.now().timeIntervalSince1970
        var claims: [String: JSONValue] = [
            "iss": .string(corpIssuer), "sub": "alice", "aud": "tessera-cli", "iat": .number(now), "exp": .number(now + 300),
            "auth_time": .number(now - 600), "email": "alice@corp.example", "groups": ["payments-sre", "oncall"],
            "amr": ["pwd", "mfa"], "acr": "urn:corp:loa:2", "device_state": "compliant",
        ]
        for (name, value) in overrides { claims[name] = value }
        for name in removed { claims[name] = nil }
        return claims
    }

    func corpToken(_ overrides: [String: JSONValue] = [:], removing removed: [String] = [], header: [String: JSONValue]? = nil,
                   key: UpstreamTestKey? = nil) throws -> String {
        let key = key ?? corpKey
        return try signedToken(header: header ?? ["alg": .string(key.algorithm.jwsName), "kid": .string(key.kid), "typ": "JWT"],
                               claims: corpClaims(overrides, removing: removed), key: key)
    }

    func verify(_ token: String) async throws(UpstreamVerificationError) -> Identity {
        try await registry.verify(subjectToken: token, now: clock.now())
    }
}
