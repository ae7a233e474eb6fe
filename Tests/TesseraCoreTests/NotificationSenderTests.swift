import Foundation
import Logging
import Synchronization
import Testing
import TesseraCore
import TesseraJWT
import TesseraPolicy
import TesseraStore
import TesseraTestLogging

/// A receiver that answers from a script, recording every request.
final class ScriptedTransport: NotificationTransport {
    private let state: Mutex<(answers: [NotificationResponse], requests: [NotificationRequestRecord])>

    init(_ answers: [NotificationResponse]) {
        state = Mutex((answers, []))
    }

    /// Answered after the script runs out.
    static let ok = NotificationResponse.answered(status: 204, retryAfter: nil, body: "")

    func post(_ request: NotificationRequest) async -> NotificationResponse {
        state.withLock { state in
            state.requests.append(NotificationRequestRecord(url: request.url, headers: Dictionary(request.headers.map { ($0.name, $0.value) },
                                                                                                  uniquingKeysWith: { $1 }), body: request.body))
            return state.answers.isEmpty ? Self.ok : state.answers.removeFirst()
        }
    }

    var requests: [NotificationRequestRecord] { state.withLock { $0.requests } }
}

struct NotificationRequestRecord: Sendable {
    let url: String
    let headers: [String: String]
    let body: [UInt8]
}

@Suite("notification retries")
struct NotificationRetryPolicyTests {
    let policy = NotificationRetryPolicy()

    func notification(attempts: Int = 0, createdAt: Date = testNow) -> OutboxNotification {
        OutboxNotification(id: "msg_1", event: "request.created", sink: "hook", payload: "{}", createdAt: createdAt, dueAt: createdAt,
                           attempts: attempts)
    }

    @Test func backsOffExponentiallyUpToTenMinutes() {
        #expect((1...10).map { policy.backoff(afterAttempts: $0) } == [5, 10, 20, 40, 80, 160, 320, 600, 600, 600])
        // Jitter keeps the wait between half and all of the backoff.
        let early = policy.outcome(of: .unreachable("refused"), for: notification(attempts: 2), now: testNow, jitter: 0)
        let late = policy.outcome(of: .unreachable("refused"), for: notification(attempts: 2), now: testNow, jitter: 1)
        #expect(early == .retry(at: testNow + 10, attempts: 3, error: "refused"))
        #expect(late == .retry(at: testNow + 20, attempts: 3, error: "refused"))
    }

    @Test func onlyTwoHundredsSucceedAnd410Stops() {
        #expect(policy.outcome(of: .answered(status: 200, retryAfter: nil, body: ""), for: notification(), now: testNow, jitter: 0.5)
            == .delivered(at: testNow))
        #expect(policy.outcome(of: .answered(status: 299, retryAfter: nil, body: ""), for: notification(), now: testNow, jitter: 0.5)
            == .delivered(at: testNow))
        guard case .failed(1, let error) = policy.outcome(of: .answered(status: 410, retryAfter: nil, body: "channel_is_archived"),
                                                          for: notification(), now: testNow, jitter: 0.5)
        else { Issue.record("410 must fail for good"); return }
        #expect(error.hasPrefix("HTTP 410: channel_is_archived"))
        for status in [301, 400, 404, 429, 500, 503] {
            guard case .retry(_, 1, let error) = policy.outcome(of: .answered(status: status, retryAfter: nil, body: ""), for: notification(),
                                                                now: testNow, jitter: 0.5)
            else { Issue.record("\(status) must be retried"); continue }
            #expect(error == "HTTP \(status)")
        }
    }

    @Test func honoursRetryAfterWhenItIsLater() {
        let seconds = policy.outcome(of: .answered(status: 503, retryAfter: "120", body: ""), for: notification(), now: testNow, jitter: 1)
        #expect(seconds == .retry(at: testNow + 120, attempts: 1, error: "HTTP 503"))
        // Earlier than the backoff: the backoff stands.
        let sooner = policy.outcome(of: .answered(status: 429, retryAfter: "1", body: ""), for: notification(), now: testNow, jitter: 1)
        #expect(sooner == .retry(at: testNow + 5, attempts: 1, error: "HTTP 429"))
        // An HTTP-date (IMF-fixdate and the obsolete RFC 850 form).
        let date = policy.outcome(of: .answered(status: 503, retryAfter: "Fri, 15 Jan 2027 08:05:00 GMT", body: ""), for: notification(),
                                  now: testNow, jitter: 1)
        #expect(date == .retry(at: testNow + 300, attempts: 1, error: "HTTP 503"))
        let old = policy.outcome(of: .answered(status: 503, retryAfter: "Friday, 15-Jan-27 08:05:00 GMT", body: ""), for: notification(),
                                 now: testNow, jitter: 1)
        #expect(old == .retry(at: testNow + 300, attempts: 1, error: "HTTP 503"))
        // Nonsense is ignored.
        let junk = policy.outcome(of: .answered(status: 503, retryAfter: "soon", body: ""), for: notification(), now: testNow, jitter: 1)
        #expect(junk == .retry(at: testNow + 5, attempts: 1, error: "HTTP 503"))
    }

    @Test func givesUpAfterTheLastAttemptOrADay() {
        guard case .failed(15, let error) = policy.outcome(of: .unreachable("refused"), for: notification(attempts: 14), now: testNow, jitter: 0)
        else { Issue.record("the 15th attempt is the last"); return }
        #expect(error.contains("gave up after 15 attempts"))
        // A day after the event, nothing more is tried, whatever Retry-After says.
        let aged = policy.outcome(of: .answered(status: 503, retryAfter: "600", body: ""), for: notification(attempts: 3, createdAt: testNow - 86_000),
                                  now: testNow, jitter: 0)
        guard case .failed(4, let reason) = aged else { Issue.record("past the age limit it must fail, got \(aged)"); return }
        #expect(reason.contains("24h"))
    }
}

@Suite("notification sender")
struct NotificationSenderTests {
    struct Harness {
        let store = InMemoryStorage()
        let time = ManualTimeSource(testNow)
        let settings: CurrentValue<NotificationSettings>
        let transport: ScriptedTransport
        let sender: NotificationSender

        init(_ answers: [NotificationResponse], settings: NotificationSettings = notificationSettings(
            webhookURL: "https://hooks.example/a", routes: [NotificationRoute(events: nil, sinks: ["hook", "slack"], location: SourceLocation(file: "n"))]))
        {
            self.settings = CurrentValue(settings)
            transport = ScriptedTransport(answers)
            var logger = Logger.forCurrentTest()
            logger.logLevel = .critical
            sender = NotificationSender(outbox: store, settings: self.settings, transport: transport,
                                        audit: AuditLog(store: store, timeSource: time), timeSource: time, random: CountingRandom(),
                                        claimant: "test-replica", logger: logger)
        }

        /// Writes the notifications of `event` as a transition would.
        @discardableResult
        func record(_ event: NotificationEvent) async throws -> [OutboxNotification] {
            let rows = NotificationRouter(settings: settings.value, random: CountingRandom()).notifications(for: event, at: time.now())
            _ = try await store.commit(ActivationChange(notifications: rows, time: time.now())) { _ in [] }
            return rows
        }

        func auditTargets(_ event: String) async throws -> [[String: Any]] {
            try await store.auditEntries(after: 0, limit: 100).filter { $0.event == event }.map { entry in
                try #require((try jsonObject(entry.body)["entry"] as? [String: Any])?["target"] as? [String: Any])
            }
        }
    }

    @Test func retriesWithTheSameIDUntilDeliveredAndAuditsOnlyTheFirstFailure() async throws {
        let harness = Harness([.answered(status: 500, retryAfter: nil, body: "oops"), .unreachable("refused"), ScriptedTransport.ok],
                              settings: notificationSettings(routes: [NotificationRoute(events: nil, sinks: ["hook"], location: SourceLocation(file: "n"))]))
        let rows = try await harness.record(NotificationEvent(.requestCreated, role: "db-admin", data: ["request_id": "req_1"]))
        let row = try #require(rows.first)
        await harness.sender.deliverDue()
        var pending = await harness.store.notifications(in: .pending, limit: 10)
        #expect(pending.map(\.attempts) == [1])
        #expect(pending.first?.lastError == "HTTP 500: oops")
        let retryAt = try #require(pending.first?.dueAt)
        #expect(retryAt >= testNow + 2.5 && retryAt <= testNow + 5)

        // Not due yet: nothing is sent.
        await harness.sender.deliverDue()
        #expect(harness.transport.requests.count == 1)
        harness.time.advance(by: 5)
        await harness.sender.deliverDue()
        pending = await harness.store.notifications(in: .pending, limit: 10)
        #expect(pending.map(\.attempts) == [2])
        harness.time.advance(by: 10)
        await harness.sender.deliverDue()
        #expect(await harness.store.notifications(in: .pending, limit: 10).isEmpty)
        #expect(await harness.store.notifications(in: .delivered, limit: 10).map(\.id) == [row.id])

        let requests = harness.transport.requests
        #expect(requests.count == 3)
        #expect(Set(requests.map { $0.headers["webhook-id"] }) == [row.id])
        #expect(requests.allSatisfy { $0.body == Array(row.payload.utf8) && $0.url == "https://hooks.example/a" })
        // Each attempt is signed with its own time.
        #expect(requests.map { $0.headers["webhook-timestamp"] } == ["1800000000", "1800000005", "1800000015"])
        let failures = try await harness.auditTargets("notification.failed")
        #expect(failures.count == 1)
        #expect(failures.first?["notification_id"] as? String == row.id)
        #expect(failures.first?["sink"] as? String == "hook")
        #expect(failures.first?["event"] as? String == "request.created")
        #expect(failures.first?["will_retry"] as? Bool == true)
        #expect(failures.first?["attempts"] as? Double == 1)
    }

    @Test func goneStopsAtOnceAndIsAudited() async throws {
        let harness = Harness([.answered(status: 410, retryAfter: nil, body: "")],
                              settings: notificationSettings(routes: [NotificationRoute(events: nil, sinks: ["slack"], location: SourceLocation(file: "n"))]))
        try await harness.record(NotificationEvent(.activationStarted, role: "db-admin", data: [:]))
        await harness.sender.deliverDue()
        harness.time.advance(by: 3600)
        await harness.sender.deliverDue()
        #expect(harness.transport.requests.count == 1)
        // Slack sinks are not signed.
        #expect(harness.transport.requests.first?.headers["webhook-signature"] == nil)
        let failed = await harness.store.notifications(in: .failed, limit: 10)
        #expect(failed.map(\.attempts) == [1])
        let audit = try await harness.auditTargets("notification.failed")
        #expect(audit.count == 1)
        #expect(audit.first?["will_retry"] as? Bool == false)
    }

    @Test func aSinkRemovedFromTheConfigurationFailsClearly() async throws {
        let harness = Harness([])
        try await harness.record(NotificationEvent(.activationEnded, role: "db-admin", data: [:]))
        harness.settings.replace(with: notificationSettings(routes: []).removingSink("slack"))
        await harness.sender.deliverDue()
        #expect(harness.transport.requests.map(\.url) == ["https://hooks.example/a"])
        let failed = await harness.store.notifications(in: .failed, limit: 10)
        #expect(failed.map(\.sink) == ["slack"])
        #expect(failed.first?.lastError?.contains("no longer in notifications.yaml") == true)
        #expect(try await harness.auditTargets("notification.failed").map { $0["sink"] as? String } == ["slack"])
    }

    @Test func wakingDeliversPromptlyWithoutWaitingForThePoll() async throws {
        let store = InMemoryStorage()
        let transport = ScriptedTransport([])
        var logger = Logger.forCurrentTest()
        logger.logLevel = .critical
        let settings = CurrentValue(notificationSettings(routes: [NotificationRoute(events: nil, sinks: ["hook"], location: SourceLocation(file: "n"))]))
        let sender = NotificationSender(outbox: store, settings: settings, transport: transport,
                                        audit: AuditLog(store: store, timeSource: SystemTimeSource()),
                                        options: NotificationSender.Options(pollInterval: .seconds(3600)), logger: logger)
        let running = Task { await sender.run() }
        let rows = NotificationRouter(settings: settings.value).notifications(for: NotificationEvent(.requestCreated, role: "r", data: [:]), at: Date())
        _ = try await store.commit(ActivationChange(notifications: rows, time: Date())) { _ in [] }
        sender.wake()
        let clock = ContinuousClock()
        // Prompt against the hour-long poll; generous for a machine busy with other tests.
        let deadline = clock.now + .seconds(30)
        while transport.requests.isEmpty, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(transport.requests.map { $0.headers["webhook-id"] } == [rows[0].id])
        sender.stop()
        await running.value
    }
}

extension NotificationSettings {
    func removingSink(_ name: String) -> NotificationSettings {
        var copy = self
        copy.sinks.removeAll { $0.name == name }
        return copy
    }
}
