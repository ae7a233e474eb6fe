import Foundation
import Testing

/// The HTTP contract checked by code nobody here wrote: schemathesis (PyPI) reads the live
/// `GET /openapi.json` of `tessera serve --dev` on the example bundle and sends every operation
/// generated requests, valid and invalid, with real credentials for the protected routes (an
/// admin token, a dev identity token, a confidential client). No answer may be a 5xx, every
/// answer must match the document (status, content type, headers, body schema), requests the
/// schema forbids must be refused, and a method the document does not list must get a 405.
///
/// One check is left out, `positive_data_acceptance`: it expects every schema-valid request to
/// succeed, and the schema cannot say which values the bundle knows (an existing schedule, a
/// client's real secret, a role the caller may hold), so Tessera's 400s for those are correct.
/// One operation is left out, `POST /admin/keys/revoke`: the run learns key ids from the rotate
/// answers and revokes the key that signs its own admin token, which ends its access to the
/// admin API (correctly); `KeyRotationTests` and `AdminAPITests` cover revocation.
/// The run is bounded: a fixed number of examples per operation and a time limit.
@Suite("schemathesis against tessera serve --dev")
struct SchemathesisTests {
    static let issuer = "https://tessera.test"
    /// Examples per operation and the time limit of the whole run (`TESSERA_SCHEMATHESIS_*` to change).
    static let examples = ProcessInfo.processInfo.environment["TESSERA_SCHEMATHESIS_EXAMPLES"] ?? "12"
    static let seconds = ProcessInfo.processInfo.environment["TESSERA_SCHEMATHESIS_SECONDS"] ?? "90"
    /// A fixed seed, so a failure seen in CI replays locally (`TESSERA_SCHEMATHESIS_SEED` to explore).
    static let seed = ProcessInfo.processInfo.environment["TESSERA_SCHEMATHESIS_SEED"] ?? "20261202"

    /// The run's settings: credentials per security scheme of the document, read from the
    /// environment, and the one operation whose body schemathesis cannot read.
    static let configuration = """
        # Every check but one (see the suite's comment).
        [checks]
        positive_data_acceptance.enabled = false

        [auth.openapi.adminToken]
        bearer = "${TESSERA_ADMIN_TOKEN}"

        [auth.openapi.identityToken]
        bearer = "${TESSERA_IDENTITY_TOKEN}"

        [auth.openapi.clientSecretBasic]
        username = "${TESSERA_CLIENT_ID}"
        password = "${TESSERA_CLIENT_SECRET}"

        # The checkpoint is a compact JWS (application/jwt, RFC 7519 §10.3.1), which schemathesis
        # parses as JSON; its status, content type and headers are still checked.
        [[operations]]
        include-path = "/audit/checkpoint"
        checks.response_schema_conformance.enabled = false
        """

    @Test func theLiveServerKeepsItsContractUnderGeneratedRequests() async throws {
        let tessera = try ActivationFlowTests.tesseraExecutable()
        guard let python = which("python3"),
              try await run(python, ["-c", "import schemathesis"]).status == 0 else {
            peerMissing("the Python package schemathesis (pip install schemathesis)")
            return
        }
        let root = NSTemporaryDirectory() + "tessera-schemathesis-\(UUID())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.copyItem(atPath: TokenExchangeTests.examplePolicies, toPath: root + "/policies")
        let folders = ["--keys", root + "/keys", "--policies", root + "/policies", "--data", root + "/data"]
        #expect(try await run(tessera, ["keys", "generate", "--keys", root + "/keys"]).status == 0)
        let created = try await run(tessera, ["clients", "create", "contract-client", "--scope", "read", "--audience", "https://api.example.com",
                                              "--can-introspect", "--policies", root + "/policies"])
        let secret = try #require(created.output.split(separator: "\n").first { $0.hasPrefix("client_secret: ") }?
            .dropFirst("client_secret: ".count), "\(created.output) \(created.error)")

        let server = try await ReviewServer.start(tessera, root: root, arguments: folders + ["--issuer", Self.issuer, "--dev"])
        defer { server.kill() }
        let admin = try await run(tessera, ["admin", "token", "--subject", "contract-tests", "--lifetime", "1h", "--issuer", Self.issuer,
                                            "--reason", "schemathesis"] + folders)
        #expect(admin.status == 0, "\(admin.error)")
        let identity = try await run(tessera, ["dev", "token", "--sub", "alice", "--groups", "payments-sre", "--amr", "pwd,mfa",
                                               "--issuer", Self.issuer, "--data", root + "/data"])
        #expect(identity.status == 0, "\(identity.error)")

        // Each credential works before the run, so the run's 401s are its own invalid ones.
        let adminToken = admin.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let identityToken = identity.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await server.json("GET", "/admin/keys", authorization: "Bearer " + adminToken).status == 200)
        #expect(try await server.json("GET", "/requests", authorization: "Bearer " + identityToken).status == 200)
        let basic = "Basic " + Data("contract-client:\(secret)".utf8).base64EncodedString()
        #expect(try await server.send(["grant_type": "client_credentials"], authorization: basic).status == 200)

        try Self.configuration.write(toFile: root + "/schemathesis.toml", atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["TESSERA_ADMIN_TOKEN"] = adminToken
        environment["TESSERA_IDENTITY_TOKEN"] = identityToken
        environment["TESSERA_CLIENT_ID"] = "contract-client"
        environment["TESSERA_CLIENT_SECRET"] = String(secret)
        let limit = Double(Self.seconds) ?? 90
        let result = try await run(python, [
            // In the run's own folder, where schemathesis keeps its cache (.schemathesis/).
            "-c", "import os, sys; os.chdir(sys.argv.pop(1)); from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; schemathesis()",
            root,
            "--no-color", "--config-file", root + "/schemathesis.toml",
            "run", "http://127.0.0.1:\(server.port)/openapi.json",
            "--exclude-path", "/admin/keys/revoke",
            "--max-examples", Self.examples, "--max-time", Self.seconds, "--seed", Self.seed,
            "--workers", "1", "--request-timeout", "10", "--suppress-health-check", "all",
        ], timeout: limit + 120, environment: environment)
        let summary = result.output.components(separatedBy: "=== FAILURES ===").last ?? result.output
        #expect(result.status == 0, "schemathesis found failures (seed \(Self.seed)):\n\(summary.suffix(12_000))\n\(result.error.suffix(2_000))")
        #expect(result.output.contains("Tested: "), "\(result.output.suffix(4_000))")
        #expect(!server.log().contains("\"critical\""), "the server logged a critical error: \(server.log().suffix(4_000))")
    }
}
