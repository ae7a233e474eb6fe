import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraServer

/// Every log line of a test, shared by all copies of its handler.
final class LogRecords: Sendable {
    let lines = Mutex<[String]>([])
}

/// Keeps every log record in memory so a test can read what the server logged.
struct RecordingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let line = "\(event.message) \(all.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "))"
        records.lines.withLock { $0.append(line) }
    }
}

@Suite("Logging")
struct LoggingTests {
    /// Token requests answered by the fast path and by the router log the same way, each line
    /// with its request's id.
    @Test func tokenLinesCarryTheRequestIDOnEitherPath() async throws {
        let fixture = try ServerFixture()
        let records = LogRecords()
        var logger = Logger(label: "test") { _ in RecordingLogHandler(records: records) }
        logger.logLevel = .info
        let app = try await buildApplication(fixture.settings, logger: logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let host = "Host: 127.0.0.1:\(port)\r\n"
            let fields = "Content-Type: application/x-www-form-urlencoded\r\nAuthorization: \(fixture.basicAuthorization)\r\n"
            // The first on the fast path; the second says `Connection: close`, which is the router's.
            let requests = FastPathTests.tokenRequest(host, fields: fields) + FastPathTests.tokenRequest(host, fields: fields + "Connection: close\r\n")
            let answers = FastPathTests.answers(try await onBlockingThread { try LoopbackSocket.exchange(Array(requests.utf8), port: port) })
            #expect(answers.map(\.status) == [200, 200])
        }
        let issued = records.lines.withLock { $0 }.filter { $0.hasPrefix("token issued") }
        #expect(issued.count == 2)
        let ids = Set(issued.compactMap { line in line.split(separator: " ").first { $0.hasPrefix("hb.request.id=") } })
        #expect(ids.count == 2, "\(issued)")
    }

    @Test func neverLogsSecretsTokensOrAssertions() async throws {
        let fixture = try ServerFixture()
        let records = LogRecords()
        let logger = Logger(label: "test") { _ in RecordingLogHandler(records: records) }
        let app = try await buildApplication(fixture.settings, logger: logger)
        let assertion = try fixture.clientAssertion()
        let issued = try await app.test(.router) { client -> [String] in
            var issued: [String] = []
            var headers = formHeaders
            headers[.authorization] = fixture.basicAuthorization
            issued.append(try await client.execute(uri: "/token", method: .post, headers: headers,
                                                   body: formBody([("grant_type", "client_credentials")])) { response in
                json(response.body)["access_token"] as? String ?? "missing"
            })
            headers[.authorization] = "Basic " + Data("demo:wrong-secret-value".utf8).base64EncodedString()
            try await client.execute(uri: "/token", method: .post, headers: headers,
                                     body: formBody([("grant_type", "client_credentials")])) { _ in }
            let body = formBody([("grant_type", "client_credentials"), ("client_assertion_type", ClientAuthenticator.jwtBearerAssertionType),
                                 ("client_assertion", assertion)])
            for _ in 0..<2 {  // the second one is a replay, refused and logged
                let token = try await client.execute(uri: "/token", method: .post, headers: formHeaders, body: body) { response in
                    json(response.body)["access_token"] as? String
                }
                if let token { issued.append(token) }
            }
            try await client.execute(uri: "/token", method: .post, headers: formHeaders,
                                     body: formBody([("client_id", "poster"), ("client_secret", fixture.postSecret)])) { _ in }
            return issued
        }
        #expect(issued.count == 2)
        let lines = records.lines.withLock { $0 }
        #expect(lines.contains { $0.hasPrefix("token issued") })
        #expect(lines.contains { $0.hasPrefix("client authentication failed") })
        let secrets = [fixture.basicSecret, fixture.postSecret, "wrong-secret-value", assertion,
                       String(assertion.split(separator: ".")[2])] + issued + issued.map { String($0.split(separator: ".")[2]) }
        for line in lines {
            for secret in secrets {
                #expect(!line.contains(secret), "a log line contains a secret, token or assertion: \(line)")
            }
            #expect(!line.lowercased().contains("authorization"), "\(line)")
        }
    }

    /// An upstream whose keys fail to fetch, then (after `recover()`) fetch again.
    final class FlakyFetcher: UpstreamDocumentFetcher, Sendable {
        let body: [UInt8]
        let state = Mutex((up: false, fetches: 0))

        init() throws {
            var jwk = try PrivateKey.generate(.p256).publicKey().jwk(algorithm: .es256)
            jwk.kid = "k1"
            body = Array(try JSONEncoder().encode(PublicJWKSet(keys: [jwk])))
        }

        func recover() { state.withLock { $0.up = true } }
        var fetches: Int { state.withLock { $0.fetches } }

        func fetch(_ url: String) async throws(UpstreamFetchError) -> FetchedDocument {
            let up = state.withLock { state in
                state.fetches += 1
                return state.up
            }
            guard up else { throw UpstreamFetchError("\(url) does not resolve") }
            return FetchedDocument(body: body)
        }
    }

    static func cache(example: Bool, fetcher: FlakyFetcher, clock: ManualTimeSource, records: LogRecords) -> UpstreamKeyCache {
        var upstream = UpstreamDefinition(id: "corp", issuer: "https://idp.corp.test", keys: .jwksURI("https://idp.corp.test/jwks"),
                                          audiences: ["tessera-cli"], algorithms: ["ES256"], location: SourceLocation(file: "upstreams.yaml"))
        upstream.isExample = example
        return UpstreamKeyCache(upstream: upstream, algorithms: [.es256], fetcher: fetcher, timeSource: clock,
                                logger: Logger(label: "test") { _ in RecordingLogHandler(records: records) })
    }

    @Test func anOutageIsLoggedWhenItStartsAndWhenItEnds() async throws {
        let (fetcher, clock, records) = (try FlakyFetcher(), ManualTimeSource(Date(timeIntervalSince1970: 1_800_000_000)), LogRecords())
        let cache = Self.cache(example: false, fetcher: fetcher, clock: clock, records: records)
        for _ in 0..<4 {
            await cache.prefetch()
            clock.advance(by: 31)
        }
        #expect(fetcher.fetches == 4, "a real upstream is retried every 30 s")
        fetcher.recover()
        await cache.prefetch()
        let lines = records.lines.withLock { $0 }
        #expect(lines.filter { $0.hasPrefix("cannot fetch upstream keys") }.count == 1, "\(lines)")
        #expect(lines.filter { $0.hasPrefix("upstream keys still cannot be fetched") }.count == 3)
        #expect(lines.filter { $0.hasPrefix("upstream keys can be fetched again") }.count == 1)
        #expect(await cache.failedFetches == 4)
        #expect(await cache.consecutiveFailures == 0)
    }

    @Test func anExampleUpstreamIsMentionedOnceWithAHintAndRetriedWithBackoff() async throws {
        let (fetcher, clock, records) = (try FlakyFetcher(), ManualTimeSource(Date(timeIntervalSince1970: 1_800_000_000)), LogRecords())
        let cache = Self.cache(example: true, fetcher: fetcher, clock: clock, records: records)
        // Asked every 31 s for 10 minutes, it fetches at 0, 31, then waits 60, 120, 240 s:
        // at 93, 217 and 465 s (a real upstream would have fetched 20 times).
        for _ in 0..<20 {
            await cache.prefetch()
            clock.advance(by: 31)
        }
        #expect(fetcher.fetches == 5, "an example upstream backs off: \(fetcher.fetches) fetches in 10 minutes")
        let lines = records.lines.withLock { $0 }
        let notices = lines.filter { $0.hasPrefix("example upstream cannot be reached") }
        #expect(notices.count == 1, "\(lines)")
        #expect(notices.first?.contains("replace its issuer in policies/upstreams.yaml or remove it") == true)
        #expect(!lines.contains { $0.hasPrefix("cannot fetch upstream keys") }, "an example upstream is not warned about")
    }

    /// Hummingbird's own start line says what Tessera's `listening` line says: one is shown.
    @Test func theServerSaysOnceThatItListens() async throws {
        let bundle = try ReviewBundle()
        let server = try await ReviewServer.start(try ActivationFlowTests.tesseraExecutable(), bundle)
        defer { server.kill() }
        try await server.stop()
        let lines = server.log().split(separator: "\n").filter { $0.contains("listening") }
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.contains(#""message":"listening""#) == true)
    }

    /// The key generated on a first start is logged as a person reads it, not as Swift's
    /// description of a dictionary of JSON values.
    @Test func aGeneratedKeyIsLoggedReadably() async throws {
        let bundle = try ReviewBundle()
        let server = try await ReviewServer.start(try ActivationFlowTests.tesseraExecutable(), root: bundle.root, arguments: [
            "--keys", bundle.root + "/fresh-keys", "--policies", bundle.root + "/policies", "--data", bundle.root + "/data",
        ])
        defer { server.kill() }
        try await server.stop()
        let line = try #require(server.log().split(separator: "\n").first { $0.contains("signing keys: key.generated") }, "\(server.log())")
        #expect(line.contains(#"alg=ES256 kid="#), "\(line)")
        #expect(!line.contains("JSONValue"), "\(line)")
    }
}
