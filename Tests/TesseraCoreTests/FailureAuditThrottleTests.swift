import Foundation
import Logging
import Testing
@testable import TesseraCore
import TesseraStore
import TesseraTestLogging

/// Failures anyone can cause are recorded bounded per source (security review, finding 4).
@Suite("failure audit throttle")
struct FailureAuditThrottleTests {
    let store = InMemoryStorage()
    let clock = ManualTimeSource(testNow)
    var throttle: FailureAuditThrottle {
        FailureAuditThrottle(audit: AuditLog(store: store, timeSource: clock), timeSource: clock, interval: 60, logger: Logger.forCurrentTest())
    }

    func failure(from address: String, client: String = "unknown:sha256:00") -> AuditEvent {
        AuditEvent("client.authentication_failed", outcome: .failure, actor: AuditActor(clientID: client, remoteAddress: address),
                   reasons: ["invalid_client: client authentication failed"])
    }

    func entries() async throws -> [[String: Any]] {
        try await store.auditEntries(after: 0, limit: 100_000).map { entry in
            let object = try JSONSerialization.jsonObject(with: Data(entry.body.utf8)) as? [String: Any]
            return object?["entry"] as? [String: Any] ?? [:]
        }
    }

    @Test func theFirstFailureOfASourceIsRecordedAndTheRestCounted() async throws {
        let throttle = throttle
        #expect(await throttle.record(failure(from: "192.0.2.1")))
        for index in 0..<99 {
            clock.advance(by: 0.1)
            #expect(await !throttle.record(failure(from: "192.0.2.1", client: "unknown:\(index % 7)")))
        }
        // Another source is recorded on its own.
        #expect(await throttle.record(failure(from: "192.0.2.2")))
        #expect(try await entries().count == 2)

        // Nothing is summarised before the interval ends...
        await throttle.flushEnded()
        #expect(try await entries().count == 2)
        // ... and then one summary says how many, when, and which client ids.
        clock.advance(by: 60)
        await throttle.flushEnded()
        let all = try await entries()
        #expect(all.count == 3)
        let summary = try #require(all.last?["target"] as? [String: Any])
        #expect(summary["aggregated"] as? Bool == true)
        #expect(summary["count"] as? Int == 99)
        #expect(summary["source"] as? String == "192.0.2.1")
        #expect((summary["client_ids"] as? [String])?.count == FailureAuditThrottle.samplesKept)
        // The source without repeats has nothing to summarise.
        #expect(!all.dropLast().contains { ($0["target"] as? [String: Any])?["aggregated"] != nil })
    }

    @Test func aNewIntervalRecordsInFullAgainAfterTheSummary() async throws {
        let throttle = throttle
        await throttle.record(failure(from: "192.0.2.1"))
        await throttle.record(failure(from: "192.0.2.1"))
        clock.advance(by: 61)
        #expect(await throttle.record(failure(from: "192.0.2.1")))
        let all = try await entries()
        #expect(all.count == 3)
        #expect((all[1]["target"] as? [String: Any])?["count"] as? Int == 1)
        #expect((all[2]["target"] as? [String: Any])?["aggregated"] == nil)
    }

    @Test func shutdownWritesEveryPendingSummary() async throws {
        let throttle = throttle
        for _ in 0..<5 { await throttle.record(failure(from: "192.0.2.1")) }
        await throttle.flushAll()
        let all = try await entries()
        #expect(all.count == 2)
        #expect((all[1]["target"] as? [String: Any])?["count"] as? Int == 4)
    }

    @Test func manySourcesShareOneWindowBeyondTheLimit() async throws {
        let throttle = throttle
        for index in 0..<(FailureAuditThrottle.maximumSources + 50) {
            await throttle.record(failure(from: "10.\(index / 65_536).\(index / 256 % 256).\(index % 256)"))
        }
        // One entry per tracked source, one for the first of the rest; the other 49 are counted.
        #expect(try await entries().count == FailureAuditThrottle.maximumSources + 1)
        await throttle.flushAll()
        let summary = try #require(try await entries().last?["target"] as? [String: Any])
        #expect(summary["source"] as? String == FailureAuditThrottle.overflowSource)
        #expect(summary["count"] as? Int == 49)
    }

    @Test func unknownClientIDsAreFingerprintedNeverCopied() {
        let pasted = "s3cr3t-" + String(repeating: "p", count: 36)
        let recorded = AuditText.unknownClientID(pasted)
        #expect(!recorded.contains(pasted))
        #expect(recorded.hasPrefix("unknown:s3cr3t-p...sha256:"))
        #expect(recorded.hasSuffix(":43B"))
        let huge = AuditText.unknownClientID(String(repeating: "A", count: 60_000))
        #expect(huge.utf8.count < 64)
        #expect(!huge.contains("AAAA"), "an id that is no client id shape keeps no prefix")
        #expect(AuditText.unknownClientID("x") == AuditText.unknownClientID("x"), "the fingerprint correlates attempts")
    }

    @Test func userAgentsAreCappedAndCleaned() {
        let capped = AuditText.bounded(String(repeating: "U", count: 8_000), maximumBytes: AuditText.maximumUserAgentBytes)
        #expect(capped.hasPrefix(String(repeating: "U", count: 256)))
        #expect(capped.hasSuffix("...(7744 more bytes)"))
        #expect(AuditText.bounded("curl/8\r\nX-Forged: 1", maximumBytes: 256) == "curl/8\u{FFFD}\u{FFFD}X-Forged: 1")
        // Never cut inside a character.
        #expect(AuditText.bounded("\u{00E9}\u{00E9}", maximumBytes: 3) == "\u{00E9}...(2 more bytes)")
    }
}
