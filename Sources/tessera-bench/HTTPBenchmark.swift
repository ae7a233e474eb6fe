import Foundation
import Logging
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraServer

/// The token endpoint and the JWKS under wrk, served by the real application in this process.
/// wrk and the server share the machine's cores, so the ratio to one core's raw signing rate
/// says how much of the machine the HTTP path leaves to signing.
struct HTTPBenchmark {
    static let target = 0.5

    let wrk: Wrk

    /// `storeURL` nil: the SQLite store in the workspace; otherwise that PostgreSQL database.
    func run(in workspace: Workspace, storeURL: String?, rawES256Signing: Double) async throws {
        let policies = workspace.path(storeURL == nil ? "policies" : "policies-pg")
        let client = try BenchClient.register(policiesDirectory: policies)
        let keysDirectory = workspace.path("keys")
        let settings = ServerSettings(host: "127.0.0.1", port: 0, issuer: IssuerConfiguration(
            issuer: TokenFixture.issuer, keysDirectory: keysDirectory,
            policiesDirectory: policies, dataDirectory: workspace.path("data"), storeURL: storeURL))
        // The logger `tessera serve --log-level warning` would have (see `BenchmarkCommand`):
        // an info line per request would measure the logger, not the issuer.
        var logger = Logger(label: "tessera-bench")
        logger.logLevel = .warning
        let server = try await RunningServer.start(settings, logger: logger)
        print("== http: Tessera on \(server.baseURL) in this process, durable audit on \(storeURL == nil ? "SQLite" : "PostgreSQL"), \(wrk.loadDescription); wrk shares the machine's \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let measured: (tokens: LoadResult, jwks: LoadResult)
        do {
            measured = try await measure(server, client: client, keysDirectory: keysDirectory, workspace: workspace)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()

        Self.report("POST /token", measured.tokens, unit: "tokens/s")
        Self.report("GET /.well-known/jwks.json", measured.jwks, unit: "requests/s")
        let ratio = measured.tokens.requestsPerSecond / rawES256Signing
        // The issue sets the bar for the embedded store; PostgreSQL adds a network round trip per group.
        let verdict = Verdict(ratio: ratio, target: Self.target, applies: storeURL == nil, appliesTo: "SQLite")
        print("   POST /token tokens/s / raw one-core ES256 sign/s (\(Format.count(rawES256Signing))/s): ratio \(Format.ratio(ratio))  \(verdict.description)")
        for (name, result) in [("POST /token", measured.tokens), ("GET /.well-known/jwks.json", measured.jwks)] where result.non2xx > 0 {
            throw BenchError(description: "\(name) had \(result.non2xx) responses that were not 2xx/3xx: its rate measures errors, not the issuer")
        }
    }

    private func measure(_ server: RunningServer, client: BenchClient, keysDirectory: String,
                         workspace: Workspace) async throws -> (tokens: LoadResult, jwks: LoadResult) {
        try await checkTokenRequest(client.tokenRequest, baseURL: server.baseURL, keysDirectory: keysDirectory)
        let tokens = try await wrk.run(client.tokenRequest, baseURL: server.baseURL, name: "token", workspace: workspace)
        let jwks = try await wrk.run(LoadRequest(path: "/.well-known/jwks.json"), baseURL: server.baseURL,
                                     name: "jwks", workspace: workspace)
        return (tokens, jwks)
    }

    /// One line per load run: rate, latency percentiles and counts.
    static func report(_ name: String, _ result: LoadResult, unit: String) {
        print([
            Format.left(name, 27),
            Format.right(Format.count(result.requestsPerSecond), 7) + " " + unit,
            "p50 " + Format.milliseconds(result.p50Microseconds),
            "p99 " + Format.milliseconds(result.p99Microseconds),
            "requests \(Format.count(Double(result.requests)))",
            "non-2xx \(result.non2xx)",
            "socket errors \(result.socketErrors)",
        ].joined(separator: "  "))
    }

    /// One request before the load: it must answer 200 with an access token that verifies
    /// against the issuer's keys, or the load test would only measure error responses.
    private func checkTokenRequest(_ request: LoadRequest, baseURL: String, keysDirectory: String) async throws {
        let (status, data) = try await request.sendOnce(to: baseURL)
        guard status == 200 else {
            throw BenchError(description: "POST \(request.path) answered \(status), not 200: \(String(decoding: data, as: UTF8.self))")
        }
        struct TokenResponse: Decodable { let access_token: String }
        let token = try JSONDecoder().decode(TokenResponse.self, from: data).access_token
        let keys = try SigningKeys(keys: KeyDirectory(path: keysDirectory).load())
        let verifier = JWTVerifier(policy: VerificationPolicy(issuer: TokenFixture.issuer, audiences: [TokenFixture.audience],
                                                              expectedType: "at+jwt"))
        _ = try verifier.verify(token, keys: keys.verificationKeys, now: Date())
        print("   check: one POST /token answered 200 with an \(keys.signer.algorithm.jwsName) token that verifies")
    }
}
