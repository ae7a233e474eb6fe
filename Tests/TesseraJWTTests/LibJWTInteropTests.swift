import Foundation
import Testing
import TesseraCrypto
import TesseraJWT

/// Resource servers written in C verify Tessera's tokens with libjwt (DESIGN.md). These tests
/// compile a tiny libjwt verifier and feed it tokens minted by `JWSSigner`.
///
/// libjwt 1.10 (Debian 12's libjwt-dev) supports ES256 and RS256 but not PS256 or EdDSA, and
/// wants ECDSA signatures in the raw JWS `r || s` form: exactly what this checks we produce.
///
/// Known incompatibility: libjwt 1.x `jwt_decode` refuses (EINVAL) any token whose `typ` is
/// present and not "JWT" (`jwt_verify_head`: `if (val && strcasecmp(val, "JWT")) ret = EINVAL;`),
/// so it cannot verify RFC 9068 access tokens, whose `typ` is "at+jwt". The signature and claim
/// interop is therefore checked with tokens minted with `type: "JWT"`, and the default `at+jwt`
/// token is checked under `withKnownIssue`, which fails once libjwt starts accepting it.
///
/// When libjwt or a C compiler is missing the tests fail under `CI=true`, and are skipped with a
/// note otherwise.
@Suite("libjwt interop")
struct LibJWTInteropTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let algorithm: SignatureAlgorithm
        let keySpec: KeySpec
        var testDescription: String { algorithm.jwsName }
    }

    static let cases = [
        Case(algorithm: .es256, keySpec: .p256),
        Case(algorithm: .rs256, keySpec: .rsa(bits: 2048)),
    ]

    static func claims(_ algorithm: SignatureAlgorithm) -> AccessTokenClaims {
        AccessTokenClaims(
            issuer: "https://tessera.example.com", subject: "alice@example.com", audiences: ["https://db.example.com"],
            expiresAt: Fixture.nowSeconds + 1800, issuedAt: Fixture.nowSeconds, jwtID: "jti-\(algorithm)",
            clientID: "tessera-cli", scope: "db-admin")
    }

    @Test("libjwt verifies Tessera's signatures and reads its claims, and refuses tampered or foreign tokens",
          arguments: cases)
    func libjwtVerifiesTesseraSignedTokens(_ testCase: Case) throws {
        guard let verifier = try LibJWTVerifier.make() else { return }
        defer { verifier.cleanUp() }

        let key = try PrivateKey.generate(testCase.keySpec)
        #expect(key.bits == (testCase.algorithm == .rs256 ? 2048 : 256))
        let pemFile = try verifier.write(name: "public.pem", contents: try key.publicKey().pem())
        // typ "JWT": the one typ libjwt 1.x accepts (see the type comment).
        let signer = JWSSigner(keyID: try key.publicKey().thumbprint(), signer: try Signer(key: key, algorithm: testCase.algorithm),
                               type: "JWT")
        let claims = Self.claims(testCase.algorithm)
        let token = try signer.sign(claims)

        let accepted = try verifier.run(pemFile: pemFile, token: token)
        #expect(accepted.status == 0, "libjwt refused a valid \(testCase.algorithm) token: \(accepted.output)")
        #expect(accepted.lines.contains("alg=\(testCase.algorithm.jwsName)"), "\(accepted.output)")
        #expect(accepted.lines.contains("sub=alice@example.com"), "\(accepted.output)")
        #expect(accepted.lines.contains("iss=https://tessera.example.com"), "\(accepted.output)")
        #expect(accepted.lines.contains("aud=https://db.example.com"), "\(accepted.output)")
        #expect(accepted.lines.contains("exp=\(Fixture.nowSeconds + 1800)"), "\(accepted.output)")

        // Tampered payload: same header and signature, different claims.
        var tamperedClaims = claims
        tamperedClaims.subject = "mallory@example.com"
        let tamperedPayload = TokenFactory.segment(bytes: tamperedClaims.jsonBytes())
        let tampered = TokenFactory.replacing(segment: 1, of: token, with: tamperedPayload)
        let tamperedRun = try verifier.run(pemFile: pemFile, token: tampered)
        #expect(tamperedRun.status != 0, "libjwt accepted a tampered token: \(tamperedRun.output)")
        #expect(!tamperedRun.output.contains("mallory"))

        // Flipped signature bit.
        var signature = TokenFactory.signature(of: token)
        signature[signature.count / 2] ^= 0x01
        let flippedRun = try verifier.run(pemFile: pemFile, token: TokenFactory.replacingSignature(of: token, with: signature))
        #expect(flippedRun.status != 0, "libjwt accepted a token with a corrupted signature: \(flippedRun.output)")

        // Signed by another key of the same kind, verified against the first key's PEM.
        let otherKey = try PrivateKey.generate(testCase.keySpec)
        let foreign = try JWSSigner(keyID: signer.keyID, signer: try Signer(key: otherKey, algorithm: testCase.algorithm),
                                    type: "JWT").sign(claims)
        let foreignRun = try verifier.run(pemFile: pemFile, token: foreign)
        #expect(foreignRun.status != 0, "libjwt accepted a token signed by another key: \(foreignRun.output)")
    }

    @Test("libjwt verifies Tessera's RFC 9068 access tokens (typ at+jwt)", arguments: cases)
    func libjwtVerifiesTesseraAccessTokens(_ testCase: Case) throws {
        guard let verifier = try LibJWTVerifier.make() else { return }
        defer { verifier.cleanUp() }
        let key = try PrivateKey.generate(testCase.keySpec)
        let pemFile = try verifier.write(name: "public.pem", contents: try key.publicKey().pem())
        let signer = JWSSigner(keyID: try key.publicKey().thumbprint(), signer: try Signer(key: key, algorithm: testCase.algorithm))
        #expect(signer.type == "at+jwt")
        let run = try verifier.run(pemFile: pemFile, token: try signer.sign(Self.claims(testCase.algorithm)))
        withKnownIssue("libjwt 1.x jwt_decode refuses any typ other than \"JWT\" with EINVAL, so it cannot verify at+jwt tokens") {
            #expect(run.status == 0, "\(run.output)")
            #expect(run.lines.contains("sub=alice@example.com"), "\(run.output)")
        }
    }

    @Test func libjwtRefusesAnUnsignedTokenWhenGivenAKey() throws {
        // A sanity check of the harness: a verifier that accepted everything would pass nothing above.
        guard let verifier = try LibJWTVerifier.make() else { return }
        defer { verifier.cleanUp() }
        let key = try PrivateKey.generate(.p256)
        let pemFile = try verifier.write(name: "public.pem", contents: try key.publicKey().pem())
        let unsigned = TokenFactory.segment(#"{"alg":"none","typ":"JWT"}"#) + "." + TokenFactory.segment(TokenFactory.payload()) + "."
        let run = try verifier.run(pemFile: pemFile, token: unsigned)
        #expect(run.status != 0, "libjwt accepted alg none: \(run.output)")
    }

    @Test func libjwtRefusesDEREncodedECDSASignatures() throws {
        // Shows the harness tells the two ECDSA encodings apart: ours (r || s) passes above.
        guard let verifier = try LibJWTVerifier.make() else { return }
        defer { verifier.cleanUp() }
        let key = try PrivateKey.generate(.p256)
        let pemFile = try verifier.write(name: "public.pem", contents: try key.publicKey().pem())
        let token = try JWSSigner(keyID: "k", signer: try Signer(key: key, algorithm: .es256), type: "JWT").sign(Self.claims(.es256))
        let der = try ECDSASignature.der(fromRaw: TokenFactory.signature(of: token))
        let run = try verifier.run(pemFile: pemFile, token: TokenFactory.replacingSignature(of: token, with: der))
        #expect(run.status != 0, "libjwt accepted a DER ECDSA signature: \(run.output)")
    }
}

/// A compiled libjwt verifier in its own temporary directory.
struct LibJWTVerifier {
    let directory: URL
    let executable: URL

    struct Run {
        let status: Int32
        let output: String
        var lines: [String] { output.split(separator: "\n").map(String.init) }
    }

    static let source = #"""
    #include <jwt.h>
    #include <stdio.h>
    #include <stdlib.h>

    /* usage: verify PUBLIC_KEY.pem TOKEN
       Verifies TOKEN with jwt_decode against the PEM key, then prints alg and claims. */
    int main(int argc, char **argv) {
        if (argc != 3) { fprintf(stderr, "usage: verify key.pem token\n"); return 2; }
        FILE *file = fopen(argv[1], "rb");
        if (!file) { perror("fopen"); return 2; }
        unsigned char key[16384];
        size_t key_len = fread(key, 1, sizeof key, file);
        fclose(file);
        if (key_len == 0 || key_len == sizeof key) { fprintf(stderr, "bad key file\n"); return 2; }

        jwt_t *jwt = NULL;
        int rc = jwt_decode(&jwt, argv[2], key, (int)key_len);
        if (rc != 0 || jwt == NULL) { fprintf(stderr, "jwt_decode failed: %d\n", rc); return 1; }
        if (jwt_get_alg(jwt) == JWT_ALG_NONE) { fprintf(stderr, "unsigned token\n"); jwt_free(jwt); return 1; }

        const char *sub = jwt_get_grant(jwt, "sub");
        const char *iss = jwt_get_grant(jwt, "iss");
        const char *aud = jwt_get_grant(jwt, "aud");
        long exp = jwt_get_grant_int(jwt, "exp");
        printf("alg=%s\n", jwt_alg_str(jwt_get_alg(jwt)));
        printf("sub=%s\n", sub ? sub : "(none)");
        printf("iss=%s\n", iss ? iss : "(none)");
        printf("aud=%s\n", aud ? aud : "(none)");
        printf("exp=%ld\n", exp);
        jwt_free(jwt);
        return 0;
    }
    """#

    /// Compiles the verifier, or returns nil (after failing the test in CI) when the toolchain
    /// or libjwt is missing.
    static func make() throws -> LibJWTVerifier? {
        var missing: [String] = []
        let compiler = findExecutable("cc") ?? findExecutable("gcc") ?? findExecutable("clang")
        if compiler == nil { missing.append("a C compiler (cc)") }
        if !libjwtInstalled() { missing.append("libjwt (Debian package libjwt-dev: /usr/include/jwt.h, pkg-config libjwt)") }
        guard let compiler, missing.isEmpty else {
            let message = "libjwt interop test cannot run: missing \(missing.joined(separator: " and "))"
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record(Comment(rawValue: message + "; install with `apt-get install -y libjwt-dev`"))
            } else {
                print("note: skipping: \(message). Install with `apt-get install -y libjwt-dev`; under CI=true this fails.")
            }
            return nil
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-libjwt-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let verifier = LibJWTVerifier(directory: directory, executable: directory.appendingPathComponent("verify"))
        let sourceFile = try verifier.write(name: "verify.c", contents: source)
        let build = try run(compiler, ["-std=c99", "-Wall", "-o", verifier.executable.path, sourceFile.path, "-ljwt"])
        guard build.status == 0 else {
            verifier.cleanUp()
            Issue.record("compiling the libjwt verifier failed (\(build.status)): \(build.output)")
            return nil
        }
        return verifier
    }

    func write(name: String, contents: String) throws -> URL {
        let file = directory.appendingPathComponent(name)
        try Data(contents.utf8).write(to: file)
        return file
    }

    func run(pemFile: URL, token: String) throws -> Run {
        try Self.run(executable, [pemFile.path, token])
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }

    static func libjwtInstalled() -> Bool {
        if FileManager.default.fileExists(atPath: "/usr/include/jwt.h") { return true }
        guard let pkgConfig = findExecutable("pkg-config") else { return false }
        return (try? run(pkgConfig, ["--exists", "libjwt"]).status) == 0
    }

    static func findExecutable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// Runs a program to completion; stdout and stderr are captured together.
    static func run(_ executable: URL, _ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}
