import AsyncHTTPClient
import Foundation
import Logging
import Testing
import TesseraCore
import TesseraPolicy
import TesseraTestLogging

/// Subject tokens and a JWK Set made by code nobody here wrote (PyJWT and pyca/cryptography),
/// served over HTTP and verified by the upstream verifier: RS256 without `kid` (as
/// oidc-provider-mock sends), ES256, PS256 and EdDSA with one.
@Suite("PyJWT-issued subject tokens")
struct UpstreamPyJWTInteropTests {
    static let script = #"""
    import json, sys, time
    import jwt
    from jwt.algorithms import RSAAlgorithm, ECAlgorithm, OKPAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa, ec, ed25519
    folder, issuer = sys.argv[1:3]
    keys = [
        ("RS256", None, rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm),
        ("ES256", "ec-1", ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
        ("PS256", "ps-1", rsa.generate_private_key(public_exponent=65537, key_size=3072), RSAAlgorithm),
        ("EdDSA", "ed-1", ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm),
    ]
    jwks, tokens = [], {}
    now = int(time.time())
    for alg, kid, key, algorithm in keys:
        jwk = json.loads(algorithm.to_jwk(key.public_key()))
        if kid:
            jwk["kid"] = kid
            jwk["alg"] = alg
        jwks.append(jwk)
        claims = {"iss": issuer, "sub": "user-" + alg, "aud": ["tessera-cli"], "iat": now, "exp": now + 300,
                  "auth_time": now - 30, "groups": ["sre"], "amr": ["pwd", "otp"], "acr": "1", "email": alg + "@idp.example"}
        headers = {"kid": kid} if kid else {}
        tokens[alg] = jwt.encode(claims, key, algorithm=alg, headers=headers)
    json.dump({"keys": jwks}, open(folder + "/jwks.json", "w"))
    json.dump(tokens, open(folder + "/tokens.json", "w"))
    """#

    @Test func verifiesTokensSignedByPyJWT() async throws {
        let server = try await JWKSTestServer()
        defer { server.stop() }
        let issuer = "http://127.0.0.1:\(server.port)"
        let status = try await Self.runPython(["-c", Self.script, server.folder, issuer])
        guard status == 0 else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("python3 with PyJWT and cryptography is required in CI (pip install pyjwt cryptography)")
            } else {
                print("skipping: python3 with PyJWT and cryptography (pip install pyjwt cryptography)")
            }
            return
        }
        let tokens = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: URL(fileURLWithPath: server.folder + "/tokens.json")))
        let upstream = UpstreamDefinition(id: "pyjwt", issuer: issuer, keys: .jwksURI(issuer + "/jwks.json"), audiences: ["tessera-cli"],
                                          algorithms: ["RS256", "PS256", "ES256", "EdDSA"], maximumTokenAgeSeconds: 600,
                                          maximumAuthenticationAgeSeconds: 3600, location: SourceLocation(file: "test"))
        let client = HTTPDocumentFetcher.makeHTTPClient()
        let registry = try UpstreamRegistry(upstreams: [upstream], directory: "/nonexistent", fetcher: HTTPDocumentFetcher(client: client),
                                            timeSource: SystemTimeSource(), logger: Logger.forCurrentTest())
        do {
            for alg in ["RS256", "ES256", "PS256", "EdDSA"] {
                let token = try #require(tokens[alg])
                let identity = try await registry.verify(subjectToken: token)
                #expect(identity.upstream == "pyjwt")
                #expect(identity.subject == "user-\(alg)")
                #expect(identity.groups == ["sre"])
                #expect(identity.authenticationMethods == ["pwd", "otp"])
                #expect(identity.email == "\(alg)@idp.example")
                // Tampering with the payload breaks the signature.
                let parts = token.split(separator: ".")
                let forged = "\(parts[0]).\(Self.base64URL(#"{"iss":"\#(issuer)","sub":"mallory","aud":"tessera-cli","exp":9999999999}"#)).\(parts[2])"
                await #expect(throws: UpstreamVerificationError.self) { try await registry.verify(subjectToken: forged) }
            }
            #expect(server.requests() == ["/jwks.json"])
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Runs python3 to completion on a Dispatch thread (never blocking the concurrency pool),
    /// killed after 60 s. Output goes to /dev/null; results come back through files.
    static func runPython(_ arguments: [String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
                DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: timer)
                process.waitUntilExit()
                timer.cancel()
                continuation.resume(returning: process.terminationStatus)
            }
        }
    }
}
