import AsyncHTTPClient
import Foundation
import Logging
import Synchronization
import Testing
import TesseraCore
import TesseraPolicy
import TesseraSchedules
import TesseraStore
import TesseraTestLogging

/// The on-call sync with an injected clock: a feed's first good sync makes its schedule known,
/// a broken feed leaves the last good data in force until `max_staleness`, then conditions on it
/// fail closed and say why, and a repaired feed brings it back. Native schedules need no sync.
@Suite("on-call sync and staleness")
struct OnCallServiceTests {
    static let start = RFC3339.date("2026-03-02T09:00:00Z")!

    /// alice until 12:00 UTC, then bob until 18:00.
    static let feed = """
    BEGIN:VCALENDAR\r
    VERSION:2.0\r
    PRODID:-//test//EN\r
    BEGIN:VEVENT\r
    UID:1\r
    DTSTART:20260302T080000Z\r
    DTEND:20260302T120000Z\r
    ATTENDEE:mailto:alice@example.com\r
    END:VEVENT\r
    BEGIN:VEVENT\r
    UID:2\r
    DTSTART:20260302T120000Z\r
    DTEND:20260302T180000Z\r
    ATTENDEE:mailto:bob@example.com\r
    END:VEVENT\r
    END:VCALENDAR\r

    """

    static let schedules = """
    schedules:
      - id: team
        ical: {file: team.ics}
        poll_interval: 1m
        max_staleness: 1h
      - id: native
        layers:
          - {participants: [carol@example.com], rotation_start: 2026-03-01T00:00:00Z, turn: 1w}
    """

    static func person(_ email: String) -> Identity {
        Identity(upstream: "corp", subject: email, email: email, groups: [], authenticationMethods: ["pwd"])
    }

    func onCall(_ service: OnCallService, _ email: String, schedule: String, at now: Date) -> (met: Bool, reason: String) {
        let role = RoleDefinition(name: "r", audiences: ["https://api.example.com"], defaultDurationSeconds: 600, maxDurationSeconds: 600,
                                  eligibility: Eligibility(subjects: [GlobPattern("*")]),
                                  conditions: RoleConditions(onCall: OnCallCondition(schedule: schedule)))
        let decision = PolicyEngine(roles: [role]).decide(identity: Self.person(email), request: AccessRequest(role: "r"),
                                                          context: DecisionContext(clientID: "cli", now: now, onCall: service.state))
        return (decision.isAllowed, decision.rules.first { $0.rule == "on_call" }?.reason ?? "")
    }

    @Test func aBrokenFeedKeepsItsLastGoodDataUntilMaxStaleness() async throws {
        let folder = NSTemporaryDirectory() + "oncall-sync-\(UUID())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var configuration = OnCallConfiguration()
        try PolicyBundle.parseSchedules(Self.schedules, file: "team.yaml", directory: folder, into: &configuration)
        let clock = ManualTimeSource(Self.start)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let logger = Logger.forCurrentTest()
        let service = OnCallService(configuration: configuration, sources: OnCallSources(http: http, logger: logger), timeSource: clock,
                                    logger: logger)

        // Before the first sync: the native schedule answers, the feed fails closed.
        #expect(onCall(service, "carol@example.com", schedule: "native", at: clock.now()).met)
        #expect(onCall(service, "alice@example.com", schedule: "team", at: clock.now()).reason
            == "cannot tell whether corp:alice@example.com is on call for team: team: not synced yet")

        // A missing file: never synced, and the reason says what failed.
        await service.syncDue()
        #expect(onCall(service, "alice@example.com", schedule: "team", at: clock.now()).reason.contains("never synced: cannot read \(folder)/team.ics"))

        try Self.feed.write(toFile: folder + "/team.ics", atomically: true, encoding: .utf8)
        await service.syncDue()
        #expect(!onCall(service, "alice@example.com", schedule: "team", at: clock.now()).met, "the poll interval has not passed")
        clock.advance(by: 60)
        await service.syncDue()
        #expect(onCall(service, "alice@example.com", schedule: "team", at: clock.now()).met)
        #expect(onCall(service, "bob@example.com", schedule: "team", at: clock.now()).reason
            == "corp:bob@example.com is not on call for team; on call now: alice@example.com until 12:00 UTC")

        // The feed breaks: the last good data stays in force...
        try "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n".write(toFile: folder + "/team.ics", atomically: true, encoding: .utf8)
        clock.advance(by: 30 * 60)
        await service.syncDue()
        #expect(onCall(service, "alice@example.com", schedule: "team", at: clock.now()).met)
        // ... until max_staleness has passed without a good sync: then nobody is trusted.
        clock.advance(by: 31 * 60)
        await service.syncDue()
        let stale = onCall(service, "alice@example.com", schedule: "team", at: clock.now())
        #expect(!stale.met)
        #expect(stale.reason.contains("team: no good sync for 1h1m (max_staleness 1h): file \(folder)/team.ics: line"), "\(stale.reason)")

        // Repaired: known again at the next poll, with bob on call after 12:00.
        try Self.feed.write(toFile: folder + "/team.ics", atomically: true, encoding: .utf8)
        clock.advance(by: 2 * 3600)
        await service.syncDue()
        #expect(onCall(service, "bob@example.com", schedule: "team", at: clock.now()).met)
        let reports = await service.syncAll()
        #expect(reports.map(\.schedule) == ["team"])
        #expect(reports.first?.shifts == 2)
        #expect(reports.first?.error == nil)
        try await http.shutdown()
    }

    /// A PagerDuty schedule synced through the API (a stub on loopback), kept in the store: a
    /// restart while PagerDuty is down starts from the stored sync, and a second replica whose
    /// poll is due takes the stored sync instead of fetching again.
    @Test func pagerDutySchedulesSyncThroughTheAPIAndSurviveARestartFromTheStore() async throws {
        let folder = NSTemporaryDirectory() + "oncall-pd-\(UUID())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "pd-token-123\n".write(toFile: folder + "/pagerduty.token", atomically: true, encoding: .utf8)
        let down = Mutex(false)
        let stub = try await PagerDutyStubServer.start { _, _ in
            if down.withLock({ $0 }) { return .respond(status: 503, body: Array("unavailable".utf8)) }
            return .respond(status: 200, headers: ["Content-Type": "application/json"], body: PagerDutyClientTests.page([
                PagerDutyClientTests.entry(policy: "P1", level: 1, schedule: "PSCHED", user: "U1", email: "Alice@Example.com",
                                           start: "2026-03-02T08:00:00Z", end: "2026-03-02T20:00:00Z"),
            ]))
        }
        var configuration = OnCallConfiguration()
        try PolicyBundle.parseSchedules("""
        schedules:
          - id: payments-pd
            pagerduty: {schedule_id: PSCHED}
            poll_interval: 1m
        pagerduty: {base_url: "\(stub.baseURL)", token_file: pagerduty.token}
        """, file: "pd.yaml", directory: folder, into: &configuration)
        let clock = ManualTimeSource(Self.start)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let store = InMemoryStorage()
        let logger = Logger.forCurrentTest()
        func service() -> OnCallService {
            OnCallService(configuration: configuration, sources: OnCallSources(http: http, logger: logger), cache: store, timeSource: clock,
                          logger: logger)
        }
        let first = service()
        await first.syncDue()
        #expect(onCall(first, "alice@example.com", schedule: "payments-pd", at: clock.now()).met)
        #expect(stub.requests.count == 1)
        #expect(stub.requests.first?.header("Authorization") == "Token token=pd-token-123")
        #expect(stub.requests.first?.values("schedule_ids[]") == ["PSCHED"])

        // A second replica, due at once: the stored sync is fresh, so PagerDuty is not asked again.
        let replica = service()
        await replica.syncDue()
        #expect(onCall(replica, "alice@example.com", schedule: "payments-pd", at: clock.now()).met)
        #expect(stub.requests.count == 1)

        // PagerDuty goes down and the server restarts: it starts from the stored sync.
        down.withLock { $0 = true }
        clock.advance(by: 10 * 60)
        let restarted = service()
        await restarted.syncDue()
        #expect(stub.requests.count == 2, "the restarted server tried PagerDuty")
        #expect(onCall(restarted, "alice@example.com", schedule: "payments-pd", at: clock.now()).met)
        let reports = await restarted.syncAll()
        #expect(reports.first?.error?.contains("PagerDuty schedule PSCHED: ") == true, "\(reports)")
        #expect(reports.first?.error?.contains("pd-token-123") == false)
        await stub.stop()
        try await http.shutdown()
    }

    /// An escalation policy imported from PagerDuty: each level a schedule of its own, synced
    /// with `escalation_policy_ids[]`; a condition on level 1 holds for level 1 only, and a
    /// person the policy names directly (no schedule, no end) is on call at their level.
    @Test func pagerDutyEscalationPoliciesImportTheirLevels() async throws {
        let folder = NSTemporaryDirectory() + "oncall-pd-\(UUID())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let stub = try await PagerDutyStubServer.start { _, _ in
            .respond(status: 200, headers: ["Content-Type": "application/json"], body: PagerDutyClientTests.page([
                PagerDutyClientTests.entry(policy: "PEP1", level: 1, schedule: "PSCHED", user: "U1", email: "alice@example.com",
                                           start: "2026-03-02T08:00:00Z", end: "2026-03-02T20:00:00Z"),
                PagerDutyClientTests.entry(policy: "PEP1", level: 2, schedule: nil, user: "U2", email: "lead@example.com", start: nil, end: nil),
            ]))
        }
        var configuration = OnCallConfiguration()
        try PolicyBundle.parseSchedules("""
        escalation_policies:
          - id: payments
            pagerduty: {escalation_policy_id: PEP1, levels: 2}
            time_zone: Europe/Paris
            poll_interval: 1m
        pagerduty: {base_url: "\(stub.baseURL)", token_env: TESSERA_TEST_PD_TOKEN}
        """, file: "pd.yaml", directory: folder, into: &configuration)
        #expect(configuration.scheduleIDs == ["payments.level-1", "payments.level-2"])
        #expect(configuration.escalationPolicies.first?.levels.count == 2)
        setenv("TESSERA_TEST_PD_TOKEN", "pd-token-ep", 1)
        let clock = ManualTimeSource(Self.start)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let logger = Logger.forCurrentTest()
        let service = OnCallService(configuration: configuration, sources: OnCallSources(http: http, logger: logger), timeSource: clock,
                                    logger: logger)
        let reports = await service.syncAll()
        #expect(reports.allSatisfy { $0.error == nil }, "\(reports)")
        #expect(reports.map(\.source) == ["PagerDuty escalation policy PEP1 level 1", "PagerDuty escalation policy PEP1 level 2"])
        #expect(stub.requests.first?.values("escalation_policy_ids[]") == ["PEP1"])
        let state = try #require(service.state)
        #expect(state.snapshot.onCall(policy: "payments", level: 1, at: clock.now())?.map(\.person) == ["alice@example.com"])
        #expect(state.snapshot.onCall(policy: "payments", level: 2, at: clock.now())?.map(\.person).contains("lead@example.com") == true)

        func decide(_ email: String, maxLevel: Int) -> Bool {
            let role = RoleDefinition(name: "r", audiences: ["https://api.example.com"], defaultDurationSeconds: 600, maxDurationSeconds: 600,
                                      eligibility: Eligibility(subjects: [GlobPattern("*")]),
                                      conditions: RoleConditions(onCall: OnCallCondition(target: .escalationPolicy("payments", maxLevel: maxLevel))))
            return PolicyEngine(roles: [role]).decide(identity: Self.person(email), request: AccessRequest(role: "r"),
                                                      context: DecisionContext(clientID: "cli", now: clock.now(), onCall: service.state)).isAllowed
        }
        #expect(decide("alice@example.com", maxLevel: 1))
        #expect(!decide("lead@example.com", maxLevel: 1))
        #expect(decide("lead@example.com", maxLevel: 2))
        await stub.stop()
        try await http.shutdown()
    }

    /// Bundle errors of an imported escalation policy name the field.
    @Test func importedEscalationPoliciesAreChecked() {
        let cases: [(String, String)] = [
            ("pagerduty: {escalation_policy_id: PEP1}", "pagerduty needs escalation_policy_id and levels"),
            ("pagerduty: {escalation_policy_id: PEP1, levels: 0}", "levels is how many levels to import: 1 to 10"),
            ("pagerduty: {escalation_policy_id: PEP1, levels: 2}\n    levels: [{people: [a@example.com]}]", "takes its levels from PagerDuty"),
        ]
        for (policy, message) in cases {
            var configuration = OnCallConfiguration()
            let text = "escalation_policies:\n  - id: payments\n    \(policy)\n"
            #expect(throws: PolicyError.self) { try PolicyBundle.parseSchedules(text, file: "pd.yaml", directory: "/tmp", into: &configuration) }
            do {
                try PolicyBundle.parseSchedules(text, file: "pd.yaml", directory: "/tmp", into: &configuration)
            } catch {
                #expect(error.description.contains(message), "\(error.description)")
                #expect(error.description.contains("pd.yaml:"), "\(error.description)")
            }
        }
    }

    /// A sync says what changed since the stored one; an override made at run time replaces
    /// everyone the feed has on call over its interval, and its removal gives the feed back.
    @Test func syncsReportChangesAndOverridesLieOverFeeds() async throws {
        let folder = NSTemporaryDirectory() + "oncall-sync-\(UUID())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.feed.write(toFile: folder + "/team.ics", atomically: true, encoding: .utf8)
        var configuration = OnCallConfiguration()
        try PolicyBundle.parseSchedules(Self.schedules, file: "team.yaml", directory: folder, into: &configuration)
        configuration.upstreamIDs = ["corp"]
        let clock = ManualTimeSource(Self.start)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = http.shutdown() }
        let logger = Logger.forCurrentTest()
        let store = InMemoryStorage()
        let service = OnCallService(configuration: configuration, sources: OnCallSources(http: http, logger: logger), cache: store,
                                    timeSource: clock, logger: logger)
        let first = await service.syncAll()
        #expect(first.first?.changes == nil, "a first sync has nothing to compare with")
        #expect(await service.syncAll().first?.changes?.isEmpty == true)

        // bob's shift moves to dave, an hour later.
        clock.advance(by: 60)
        try Self.feed.replacingOccurrences(of: "bob@example.com", with: "dave@example.com")
            .replacingOccurrences(of: "DTSTART:20260302T120000Z", with: "DTSTART:20260302T130000Z")
            .write(toFile: folder + "/team.ics", atomically: true, encoding: .utf8)
        let changes = try #require(await service.syncAll().first?.changes)
        #expect(changes.added.map(\.person) == ["dave@example.com"])
        #expect(changes.removed.map(\.person) == ["bob@example.com"])
        #expect(changes.previousSync == Self.start)

        let overrides = OnCallOverrides(entries: DatedEntryService(kind: .onCallOverride, store: store, timeSource: clock, changed: { service.useOverrides($0) }),
                                        onCall: service, timeSource: clock)
        let at = RFC3339.date("2026-03-02T10:00:00Z")!
        #expect(onCall(service, "alice@example.com", schedule: "team", at: at).met)
        let cover = try await overrides.add(schedule: "team", person: "carol@example.com", from: at.addingTimeInterval(-3600),
                                            until: at.addingTimeInterval(3600), reason: nil, actor: AuditActor(subject: "ops"))
        #expect(onCall(service, "carol@example.com", schedule: "team", at: at).met)
        let alice = onCall(service, "alice@example.com", schedule: "team", at: at)
        #expect(!alice.met)
        #expect(alice.reason.contains("on call now: carol@example.com"), "\(alice.reason)")
        // Checked against the bundle: unknown schedules and people who map to nobody.
        await #expect(throws: DatedEntryError.self) {
            try await overrides.add(schedule: "nope", person: "carol@example.com", from: at, until: at + 60, reason: nil, actor: AuditActor())
        }
        await #expect(throws: DatedEntryError.self) {
            try await overrides.add(schedule: "team", person: "Carol Unknown", from: at, until: at + 60, reason: nil, actor: AuditActor())
        }
        _ = try await overrides.remove(id: cover.id, actor: AuditActor(subject: "ops"))
        #expect(onCall(service, "alice@example.com", schedule: "team", at: at).met)
        // The sweep marks what has ended, once.
        _ = try await overrides.add(schedule: "native", person: "erin@example.com", from: clock.now(), until: clock.now() + 120,
                                    reason: nil, actor: AuditActor(subject: "ops"))
        clock.advance(by: 121)
        #expect(try await overrides.entries.expireDue() == 1)
        #expect(try await overrides.entries.expireDue() == 0)
        #expect(await store.datedEntries(kind: .onCallOverride, state: .expired).map(\.subject) == ["erin@example.com"])
        let events = try await store.auditEntries(after: 0, limit: 10).map(\.event)
        #expect(events == ["oncall.override_added", "oncall.override_removed", "oncall.override_added", "oncall.override_expired"])
    }
}
