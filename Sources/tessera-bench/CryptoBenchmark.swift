import TesseraCrypto

/// Tessera's signing and verification on one thread against raw OpenSSL doing only the
/// signature work, per algorithm. The targets apply to ES256, the default algorithm.
struct CryptoBenchmark {
    static let target = 0.85
    static let targetAlgorithm = SignatureAlgorithm.es256
    static let algorithms: [SignatureAlgorithm] = [.es256, .edDSA, .rs256]

    /// Each side of each comparison runs this long (about 2-3 s gives stable rates).
    var secondsPerMeasurement = 2.4

    /// One line of the report.
    struct Row {
        let algorithm: SignatureAlgorithm
        let operation: OpenSSLBaseline.Operation
        let comparison: Comparison

        var tesseraLabel: String { operation == .sign ? "Tessera mint" : "Tessera verify" }
        var rawLabel: String { operation == .sign ? "raw sign" : "raw verify" }

        var verdict: Verdict {
            Verdict(ratio: comparison.ratio, target: CryptoBenchmark.target,
                    applies: algorithm == CryptoBenchmark.targetAlgorithm)
        }

        var line: String {
            [
                Format.left(algorithm.jwsName, 6),
                Format.left(rawLabel, 10), Format.right(Format.count(comparison.baseline.perSecond), 8) + "/s",
                Format.left(tesseraLabel, 14), Format.right(Format.count(comparison.candidate.perSecond), 8) + "/s",
                "ratio " + Format.ratio(comparison.ratio),
                verdict.description,
            ].joined(separator: "  ")
        }
    }

    /// Prints a line per comparison as it completes, and returns the raw ES256 rates (the
    /// references of the HTTP and exchange benchmarks).
    func run(in workspace: Workspace) throws -> CryptoFloor {
        print("== crypto: one thread, \(OpenSSLBaseline.version)")
        print("   raw = EVP_PKEY_sign/verify on one reused EVP_PKEY_CTX over a precomputed SHA-256 digest")
        print("         (Ed25519: EVP_DigestSign/Verify on one reused EVP_MD_CTX), as `openssl speed` measures;")
        print("   Tessera = TokenMinter.mint (claims -> compact JWT) and JWTVerifier.verify (full RFC 9068 policy);")
        print("   each rate: \(secondsPerMeasurement) s in \(Comparison.rounds) rounds alternating with its baseline")
        var raw: [OpenSSLBaseline.Operation: Double] = [:]
        for algorithm in Self.algorithms {
            let fixture = try TokenFixture(algorithm: algorithm, keysDirectory: workspace.path("crypto-keys-\(algorithm.jwsName)"))
            for row in try compare(fixture) {
                print(row.line)
                if algorithm == Self.targetAlgorithm { raw[row.operation] = row.comparison.baseline.perSecond }
            }
        }
        return CryptoFloor(signPerSecond: raw[.sign] ?? 0, verifyPerSecond: raw[.verify] ?? 0)
    }

    private func compare(_ fixture: TokenFixture) throws -> [Row] {
        let message = fixture.signingInput
        let rawSign = try OpenSSLBaseline(key: fixture.privateKey, algorithm: fixture.algorithm, operation: .sign, message: message)
        let rawVerify = try OpenSSLBaseline(key: fixture.privateKey, algorithm: fixture.algorithm, operation: .verify, message: message)
        let token = fixture.sampleToken
        let signing = try Comparison.measure(seconds: secondsPerMeasurement, baseline: rawSign.run, candidate: fixture.mint)
        let verifying = try Comparison.measure(seconds: secondsPerMeasurement, baseline: rawVerify.run,
                                               candidate: { try fixture.verify(token) })
        return [
            Row(algorithm: fixture.algorithm, operation: .sign, comparison: signing),
            Row(algorithm: fixture.algorithm, operation: .verify, comparison: verifying),
        ]
    }

    /// The raw single-core ES256 signing and verification rates alone, for when the HTTP or
    /// exchange benchmark runs without the crypto one.
    func rawES256Rates(in workspace: Workspace) throws -> CryptoFloor {
        let fixture = try TokenFixture(algorithm: .es256, keysDirectory: workspace.path("raw-keys"))
        let rates = try [OpenSSLBaseline.Operation.sign, .verify].map { operation in
            let raw = try OpenSSLBaseline(key: fixture.privateKey, algorithm: .es256, operation: operation, message: fixture.signingInput)
            _ = try Stopwatch.run(for: Comparison.warmUpSeconds, raw.run)
            return try Stopwatch.run(for: secondsPerMeasurement, raw.run).perSecond
        }
        return CryptoFloor(signPerSecond: rates[0], verifyPerSecond: rates[1])
    }
}
