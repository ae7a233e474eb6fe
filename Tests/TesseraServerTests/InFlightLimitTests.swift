import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import TesseraCore
import TesseraServer
import TesseraStore

/// Overload: with the limit reached, a request is answered 503 `temporarily_unavailable` with
/// `Retry-After` at once (not queued), probes still answer, the refusal is counted, and once the
/// held request ends the server serves again.
@Suite("requests in flight")
struct InFlightLimitTests {
    @Test func pastTheLimitRequestsAreRefusedAtOnceAndProbesStillAnswer() async throws {
        let fixture = try ServerFixture()
        let storage = try await Issuer.openStorage(fixture.settings.issuer)
        let issuer = try await Issuer.load(fixture.settings.issuer, storage: storage, logger: .forCurrentTest())
        let router = buildRouter(for: issuer, maximumInFlight: 1)
        let (held, release) = AsyncStream<Void>.makeStream()
        let entered = Atomic<Bool>(false)
        router.get("/test/hold") { _, _ -> String in
            entered.store(true, ordering: .sequentiallyConsistent)
            for await _ in held { break }
            return "done"
        }
        try await Application(router: router).test(.router) { client in
            async let holding = client.execute(uri: "/test/hold", method: .get)
            while !entered.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(5)) }
            let refused = try await client.execute(uri: "/.well-known/jwks.json", method: .get)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headers[.retryAfter] == "1")
            #expect(String(buffer: refused.body).contains(#""error":"temporarily_unavailable""#))
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(String(buffer: metrics.body).contains(#"tessera_http_requests_refused_total{reason="overload"} 1"#))
            release.yield()
            release.finish()
            #expect(try await holding.status == .ok)
            #expect(try await client.execute(uri: "/.well-known/jwks.json", method: .get).status == .ok)
        }
        await issuer.shutdown()
        try await storage.close()
    }
}
