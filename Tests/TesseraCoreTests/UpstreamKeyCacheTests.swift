import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraTestLogging

@Suite("Upstream JWKS cache")
struct UpstreamKeyCacheTests {
    @Test func fetchesLazilyAndSharesOneFetchAmongConcurrentRequests() async throws {
        let fixture = try UpstreamFixture()
        #expect(fixture.fetcher.total == 0, "building the registry fetched keys")
        fixture.fetcher.setDelay(.milliseconds(200))
        let token = try fixture.corpToken()
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 {
                group.addTask { try await fixture.verify(token).subject }
            }
            for try await subject in group { #expect(subject == "alice") }
        }
        #expect(fixture.fetcher.count(corpJWKS) == 1)
        #expect(fixture.fetcher.count(partnerJWKS) == 0)
    }

    @Test func picksUpARotationOnAnUnknownKid() async throws {
        let fixture = try UpstreamFixture()
        _ = try await fixture.verify(try fixture.corpToken())
        let rotated = try UpstreamTestKey("corp-2")
        fixture.fetcher.serve(corpJWKS, try jwksDocument([fixture.corpKey, rotated]), maxAge: 3600)
        // Within 30 s of the last fetch the new kid is not fetched for...
        fixture.clock.advance(by: 10)
        await #expect(throws: UpstreamVerificationError.self) { try await fixture.verify(try fixture.corpToken(key: rotated)) }
        #expect(fixture.fetcher.count(corpJWKS) == 1)
        // ...after that, one refetch finds it, though the cached set is still fresh.
        fixture.clock.advance(by: 21)
        #expect(try await fixture.verify(try fixture.corpToken(key: rotated)).subject == "alice")
        #expect(try await fixture.verify(try fixture.corpToken()).subject == "alice")
        #expect(fixture.fetcher.count(corpJWKS) == 2)
    }

    @Test func picksUpARotationForTokensWithoutKid() async throws {
        let fixture = try UpstreamFixture()
        _ = try await fixture.verify(try fixture.corpToken())
        let rotated = try UpstreamTestKey("corp-2")
        fixture.fetcher.serve(corpJWKS, try jwksDocument([rotated]))
        fixture.clock.advance(by: 31)
        #expect(try await fixture.verify(try fixture.corpToken(header: ["alg": "ES256"], key: rotated)).subject == "alice")
        #expect(fixture.fetcher.count(corpJWKS) == 2)
    }

    @Test func aFloodOfUnknownKidsCausesAtMostOneFetchPer30Seconds() async throws {
        let fixture = try UpstreamFixture()
        _ = try await fixture.verify(try fixture.corpToken())
        #expect(fixture.fetcher.count(corpJWKS) == 1)
        for round in 1...3 {
            fixture.clock.advance(by: 30)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<50 {
                    let key = try UpstreamTestKey("random-\(round)-\(index)")
                    let token = try fixture.corpToken(key: key)
                    group.addTask {
                        await #expect(throws: UpstreamVerificationError.self) { try await fixture.verify(token) }
                    }
                }
                try await group.waitForAll()
            }
            // One more fetch per 30 s window, however many tokens asked.
            #expect(fixture.fetcher.count(corpJWKS) == 1 + round)
            fixture.clock.advance(by: 29)
            await #expect(throws: UpstreamVerificationError.self) {
                try await fixture.verify(try fixture.corpToken(key: try UpstreamTestKey("late-\(round)")))
            }
            #expect(fixture.fetcher.count(corpJWKS) == 1 + round)
            fixture.clock.advance(by: -29)
        }
    }

    @Test func honoursCacheControlMaxAgeWithinBounds() async throws {
        let configuration = UpstreamKeyCacheConfiguration()
        // (max-age sent, seconds after which a refetch happens)
        let cases: [(maxAge: TimeInterval?, expected: TimeInterval)] = [(nil, 300), (10, 60), (600, 600), (864_000, 86_400)]
        for (maxAge, expected) in cases {
            let fixture = try UpstreamFixture(configuration: configuration)
            fixture.fetcher.serve(corpJWKS, try jwksDocument([fixture.corpKey]), maxAge: maxAge)
            _ = try await fixture.verify(try fixture.corpToken())
            fixture.clock.advance(by: expected - 1)
            _ = try await fixture.verify(try fixture.corpToken())
            #expect(fixture.fetcher.count(corpJWKS) == 1, "max-age \(String(describing: maxAge)): refetched too early")
            fixture.clock.advance(by: 2)
            _ = try await fixture.verify(try fixture.corpToken())
            // Stale keys answer at once; the refresh runs behind. Wait for it.
            await fixture.registry.caches["corp"]!.prefetch()
            #expect(fixture.fetcher.count(corpJWKS) == 2, "max-age \(String(describing: maxAge)): not refetched when stale")
        }
    }

    @Test func keepsServingCachedKeysWhileTheUpstreamIsDownThenFailsClosed() async throws {
        let fixture = try UpstreamFixture()
        _ = try await fixture.verify(try fixture.corpToken())
        fixture.fetcher.fail(corpJWKS)
        // Fresh for 5 minutes (no Cache-Control), then usable for 24 h more while fetches fail.
        let offsets: [TimeInterval] = [301, 3600, 12 * 3600, 24 * 3600 + 299]
        for offset in offsets {
            fixture.clock.advance(by: offset - (fixture.now.timeIntervalSince(testNow)))
            #expect(try await fixture.verify(try fixture.corpToken()).subject == "alice", "at +\(offset) s")
            await fixture.registry.caches["corp"]!.prefetch()
        }
        #expect(fixture.fetcher.count(corpJWKS) > 1)
        fixture.clock.advance(by: 2)
        let error = await #expect(throws: UpstreamVerificationError.self) { try await fixture.verify(try fixture.corpToken()) }
        #expect(error?.code == .keysUnavailable)
        #expect(error?.message.contains("unreachable") == true, "\(String(describing: error))")
        // Failing closed does not hammer the upstream: the next attempt waits 30 s.
        let count = fixture.fetcher.count(corpJWKS)
        await #expect(throws: UpstreamVerificationError.self) { try await fixture.verify(try fixture.corpToken()) }
        #expect(fixture.fetcher.count(corpJWKS) == count)
        // Back up: the next allowed fetch restores service.
        fixture.fetcher.serve(corpJWKS, try jwksDocument([fixture.corpKey]))
        fixture.clock.advance(by: 31)
        #expect(try await fixture.verify(try fixture.corpToken()).subject == "alice")
    }

    @Test func anUpstreamThatWasNeverReachedFailsClosedAtOnce() async throws {
        let fixture = try UpstreamFixture()
        fixture.fetcher.fail(corpJWKS)
        let first = await #expect(throws: UpstreamVerificationError.self) { try await fixture.verify(try fixture.corpToken()) }
        #expect(first?.code == .keysUnavailable)
        #expect(first?.upstream == "corp")
        // Partner is unaffected.
        let partner = try signedToken(header: ["alg": "ES256", "kid": "partner-1"],
                                      claims: fixture.corpClaims(["iss": .string(partnerIssuer)]), key: fixture.partnerKey)
        #expect(try await fixture.verify(partner).upstream == "partner")
    }

    @Test func findsKeysThroughDiscoveryAndChecksTheIssuer() async throws {
        var corp = UpstreamFixture.corp
        corp.keys = .discovery
        let fixture = try UpstreamFixture(upstreams: [corp])
        let discovery = corpIssuer + "/.well-known/openid-configuration"
        fixture.fetcher.serve(discovery, #"{"issuer":"https://corp.example","jwks_uri":"https://corp.example/keys"}"#)
        fixture.fetcher.serve("https://corp.example/keys", try jwksDocument([fixture.corpKey]))
        #expect(try await fixture.verify(try fixture.corpToken()).subject == "alice")

        let impostor = try UpstreamFixture(upstreams: [corp])
        impostor.fetcher.serve(discovery, #"{"issuer":"https://evil.example","jwks_uri":"https://corp.example/keys"}"#)
        impostor.fetcher.serve("https://corp.example/keys", try jwksDocument([impostor.corpKey]))
        let error = await #expect(throws: UpstreamVerificationError.self) { try await impostor.verify(try impostor.corpToken()) }
        #expect(error?.code == .keysUnavailable)
        #expect(error?.message.contains("evil.example") == true, "\(String(describing: error))")
        #expect(impostor.fetcher.count("https://corp.example/keys") == 0)
    }

    @Test func importsKeysStrictly() async throws {
        let fixture = try UpstreamFixture()
        let good = try fixture.corpKey.publicJWK
        // An encryption key and a P-384 key are skipped; the signing key still works.
        fixture.fetcher.serve(corpJWKS, """
        {"keys":[{"kty":"RSA","use":"enc","n":"abc","e":"AQAB","kid":"enc"},
                 {"kty":"EC","crv":"P-384","x":"abc","y":"def","kid":"p384"},
                 {"kty":"EC","crv":"P-256","x":"\(good.x!)","y":"\(good.y!)","kid":"corp-1"}]}
        """)
        #expect(try await fixture.verify(try fixture.corpToken()).subject == "alice")

        // A set that publishes private key material is refused as a whole.
        let leaking = try UpstreamFixture()
        leaking.fetcher.serve(corpJWKS, """
        {"keys":[{"kty":"EC","crv":"P-256","x":"\(good.x!)","y":"\(good.y!)","d":"c2VjcmV0","kid":"corp-1"}]}
        """)
        let error = await #expect(throws: UpstreamVerificationError.self) { try await leaking.verify(try leaking.corpToken()) }
        #expect(error?.message.contains("private key material") == true, "\(String(describing: error))")

        // A point off the curve and a 1024-bit RSA key leave no usable key.
        let weak = try UpstreamFixture()
        let smallRSA = String(repeating: "A", count: 171)
        weak.fetcher.serve(corpJWKS, """
        {"keys":[{"kty":"EC","crv":"P-256","x":"\(good.x!)","y":"\(good.x!)","kid":"corp-1"},
                 {"kty":"RSA","n":"\(smallRSA)","e":"AQAB","kid":"rsa"}]}
        """)
        let weakError = await #expect(throws: UpstreamVerificationError.self) { try await weak.verify(try weak.corpToken()) }
        #expect(weakError?.message.contains("no usable signing key") == true, "\(String(describing: weakError))")
    }

    @Test func parsesCacheControl() async throws {
        // Through the HTTP fetcher, against a real server.
        let server = try await JWKSTestServer()
        defer { server.stop() }
        let client = HTTPDocumentFetcher.makeHTTPClient()
        let fetcher = HTTPDocumentFetcher(client: client, maximumBytes: 64 * 1024)
        do {
            try server.serve("a.json", "{}", headers: ["Cache-Control": "public, max-age=900, must-revalidate"])
            try server.serve("b.json", "{}", headers: ["Cache-Control": "no-store"])
            try server.serve("c.json", "{}")
            try server.serve("big.json", String(repeating: " ", count: 64 * 1024 + 1) + "{}")
            #expect(try await fetcher.fetch(server.baseURL + "/a.json").maxAge == 900)
            #expect(try await fetcher.fetch(server.baseURL + "/b.json").maxAge == 0)
            #expect(try await fetcher.fetch(server.baseURL + "/c.json").maxAge == nil)
            #expect(try await fetcher.fetch(server.baseURL + "/c.json").body == Array("{}".utf8))
            let big = await #expect(throws: UpstreamFetchError.self) { try await fetcher.fetch(server.baseURL + "/big.json") }
            #expect(big?.message.contains("limit") == true, "\(String(describing: big))")
            let missing = await #expect(throws: UpstreamFetchError.self) { try await fetcher.fetch(server.baseURL + "/none.json") }
            #expect(missing?.message.contains("404") == true, "\(String(describing: missing))")
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    /// Over real HTTP: one upstream's server never answers, another's does. Tokens of the live
    /// upstream verify at once while a fetch for the dead one hangs until its timeout.
    @Test func aDeadUpstreamDoesNotDelayAnother() async throws {
        let server = try await JWKSTestServer()
        defer { server.stop() }
        let liveKey = try UpstreamTestKey("live-1")
        try server.serve("live.json", try jwksDocument([liveKey]), headers: ["Cache-Control": "max-age=600"])
        let live = UpstreamDefinition(id: "live", issuer: "http://127.0.0.1:\(server.port)", keys: .jwksURI(server.baseURL + "/live.json"),
                                      audiences: ["tessera-cli"], location: TesseraPolicy.SourceLocation(file: "test"))
        let dead = UpstreamDefinition(id: "dead", issuer: "https://dead.example", keys: .jwksURI(server.baseURL + "/hang/jwks"),
                                      audiences: ["tessera-cli"], location: TesseraPolicy.SourceLocation(file: "test"))
        let client = HTTPDocumentFetcher.makeHTTPClient()
        let clock = ManualTimeSource(testNow)
        let registry = try UpstreamRegistry(upstreams: [live, dead], directory: "/nonexistent",
                                            fetcher: HTTPDocumentFetcher(client: client, timeout: .seconds(6)), timeSource: clock,
                                            logger: Logger.forCurrentTest())
        func token(_ issuer: String, _ key: UpstreamTestKey) throws -> String {
            let now = testNow.timeIntervalSince1970
            return try signedToken(header: ["alg": "ES256", "kid": .string(key.kid)], claims: [
                "iss": .string(issuer), "sub": "ci", "aud": "tessera-cli", "iat": .number(now), "exp": .number(now + 300),
            ], key: key)
        }
        let deadToken = try token(dead.issuer, try UpstreamTestKey("dead-1"))
        let started = ContinuousClock.now
        let deadTask = Task { () -> Duration in
            _ = try? await registry.verify(subjectToken: deadToken, now: testNow)
            return ContinuousClock.now - started
        }
        // Let the dead fetch get under way (polling: a loaded CI machine is slow to start it),
        // then verify live tokens while it hangs.
        let deadline = ContinuousClock.now + .seconds(10)
        while !server.requests().contains("/hang/jwks"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.requests().contains("/hang/jwks"))
        let liveStart = ContinuousClock.now
        for _ in 0..<5 {
            #expect(try await registry.verify(subjectToken: try token(live.issuer, liveKey), now: testNow).upstream == "live")
        }
        let liveDone = ContinuousClock.now
        let liveElapsed = liveDone - liveStart
        let deadElapsed = await deadTask.value
        // The live upstream answered while the dead one was still hanging (not after its
        // timeout): compared by order, not by a fixed time a loaded machine may miss.
        #expect(liveDone < started + deadElapsed, "live verifications (\(liveElapsed)) waited for the dead upstream (\(deadElapsed))")
        #expect(deadElapsed >= .seconds(2), "the dead upstream answered too fast: \(deadElapsed)")
        #expect(deadElapsed < .seconds(15), "the fetch timeout did not hold: \(deadElapsed)")
        await registry.shutdown()
        try await client.shutdown()
    }

    @Test func picksUpARotationOverHTTP() async throws {
        let server = try await JWKSTestServer()
        defer { server.stop() }
        let first = try UpstreamTestKey("k1")
        let second = try UpstreamTestKey("k2")
        try server.serve("jwks.json", try jwksDocument([first]), headers: ["Cache-Control": "max-age=3600"])
        let upstream = UpstreamDefinition(id: "idp", issuer: "http://127.0.0.1:\(server.port)", keys: .jwksURI(server.baseURL + "/jwks.json"),
                                          audiences: ["tessera-cli"], location: TesseraPolicy.SourceLocation(file: "test"))
        let client = HTTPDocumentFetcher.makeHTTPClient()
        let clock = ManualTimeSource(testNow)
        let registry = try UpstreamRegistry(upstreams: [upstream], directory: "/nonexistent", fetcher: HTTPDocumentFetcher(client: client),
                                            timeSource: clock, logger: Logger.forCurrentTest())
        func token(_ key: UpstreamTestKey) throws -> String {
            let now = clock.now().timeIntervalSince1970
            return try signedToken(header: ["alg": "ES256", "kid": .string(key.kid)], claims: [
                "iss": .string(upstream.issuer), "sub": "bob", "aud": "tessera-cli", "iat": .number(now), "exp": .number(now + 300),
            ], key: key)
        }
        do {
            #expect(try await registry.verify(subjectToken: try token(first), now: clock.now()).subject == "bob")
            try server.serve("jwks.json", try jwksDocument([second]), headers: ["Cache-Control": "max-age=3600"])
            clock.advance(by: 31)
            #expect(try await registry.verify(subjectToken: try token(second), now: clock.now()).subject == "bob")
            #expect(server.requests() == ["/jwks.json", "/jwks.json"])
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    @Test func readsKeysFromAJWKSFileWithoutNetwork() async throws {
        let directory = try temporaryDirectory("upstream-file")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = try UpstreamTestKey("file-1")
        try jwksDocument([key]).write(toFile: directory + "/idp.jwks.json", atomically: true, encoding: .utf8)
        let upstream = UpstreamDefinition(id: "airgap", issuer: "https://idp.internal", keys: .file(path: "idp.jwks.json"),
                                          audiences: ["tessera-cli"], location: TesseraPolicy.SourceLocation(file: "upstreams.yaml", line: 3))
        let fetcher = StubFetcher()
        let registry = try UpstreamRegistry(upstreams: [upstream], directory: directory, fetcher: fetcher,
                                            timeSource: ManualTimeSource(testNow), logger: Logger.forCurrentTest())
        let now = testNow.timeIntervalSince1970
        let token = try signedToken(header: ["alg": "ES256", "kid": "file-1"], claims: [
            "iss": "https://idp.internal", "sub": "carol", "aud": "tessera-cli", "exp": .number(now + 60),
        ], key: key)
        #expect(try await registry.verify(subjectToken: token, now: testNow).subject == "carol")
        #expect(fetcher.total == 0)

        var broken = upstream
        broken.keys = .file(path: "missing.json")
        let error = #expect(throws: PolicyError.self) {
            try UpstreamRegistry(upstreams: [broken], directory: directory, fetcher: fetcher, timeSource: ManualTimeSource(testNow),
                                 logger: Logger.forCurrentTest())
        }
        #expect(error?.description.hasPrefix("upstreams.yaml:3: jwks_file:") == true, "\(String(describing: error))")
    }

    @Test func theExampleBundleBuildsARegistryOffline() async throws {
        let policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("policies").path
        let bundle = try PolicyBundle.load(directory: policies)
        let fetcher = StubFetcher()
        let registry = try UpstreamRegistry(upstreams: bundle.upstreams, directory: bundle.directory, fetcher: fetcher,
                                            timeSource: ManualTimeSource(testNow), logger: Logger.forCurrentTest())
        #expect(Set(registry.caches.keys) == ["corp", "partner-idp", "github-actions"])
        #expect(fetcher.total == 0)
        // Unreachable upstreams are logged by prefetch, never thrown.
        await registry.prefetch()
        #expect(fetcher.count("https://idp.example.com/.well-known/openid-configuration") == 1)
        #expect(fetcher.count("https://token.actions.githubusercontent.com/.well-known/jwks") == 1)
        await registry.shutdown()
    }

    @Test func aReloadKeepsTheCachesOfUnchangedUpstreams() async throws {
        let fixture = try UpstreamFixture()
        _ = try await fixture.verify(try fixture.corpToken())
        var partner = UpstreamFixture.partner
        partner.audiences = ["tessera-cli", "another"]
        let reloaded = try UpstreamRegistry(upstreams: [UpstreamFixture.corp, partner], directory: "/nonexistent",
                                            fetcher: fixture.fetcher, timeSource: fixture.clock, logger: Logger.forCurrentTest(),
                                            reusing: fixture.registry)
        #expect(reloaded.caches["corp"] === fixture.registry.caches["corp"])
        #expect(reloaded.caches["partner"] !== fixture.registry.caches["partner"])
        #expect(try await reloaded.verify(subjectToken: try fixture.corpToken(), now: fixture.now).subject == "alice")
        #expect(fixture.fetcher.count(corpJWKS) == 1)
    }
}
