import AsyncHTTPClient
import Foundation
import Logging
import Testing
import TesseraCore
import TesseraPolicy
import TesseraSchedules
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
        let service = OnCallService(configuration: configuration, sources: OnCallSources(http: http), timeSource: clock, logger: logger)

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
}
