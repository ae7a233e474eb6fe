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
import TesseraTestLogging

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
        ServerSettings(host: "127.0.0.1", port: 0, issuer: IssuerConfiguration(
            issuer: testIssuer, keysDirectory: root + "/keys", policiesDirectory: root + "/policies", dataDirectory: root + "/data"))
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

/// Whether the suite runs in CI, where a missing interop peer is a failure, not a skip.
var runningInCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

/// Reports a missing test peer: a recorded failure in CI, a printed note elsewhere.
func peerMissing(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    if runningInCI {
        Issue.record("test peer missing in CI: \(what)", sourceLocation: sourceLocation)
    } else {
        print("skipping: \(what) (install it, or run .ci/run, to run this test)")
    }
}

struct ProcessResult {
    let status: Int32
    let output: String
    let error: String
}

/// Runs blocking work (pipe reads, `waitUntilExit`) on a Dispatch thread. Blocking a thread of
/// the cooperative pool instead would starve the server under test, whose handlers run there.
func onBlockingThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// Runs a program to completion, killing it after `timeout` seconds so a hung peer cannot hang
/// the suite.
func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60, environment: [String: String]? = nil) async throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    return try await collect(process, output: output, error: error, timeout: timeout)
}

/// Waits for a started process, killing it after `timeout` seconds, and returns what it wrote.
func collect(_ process: Process, output: Pipe, error: Pipe, timeout: TimeInterval = 60) async throws -> ProcessResult {
    let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
    defer { timer.cancel() }
    async let outData = onBlockingThread { output.fileHandleForReading.readDataToEndOfFile() }
    async let errData = onBlockingThread { error.fileHandleForReading.readDataToEndOfFile() }
    let (out, err) = try await (outData, errData)
    try await onBlockingThread { process.waitUntilExit() }
    return ProcessResult(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                         error: String(decoding: err, as: UTF8.self))
}

/// The first executable named `name` on PATH.
func which(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}
