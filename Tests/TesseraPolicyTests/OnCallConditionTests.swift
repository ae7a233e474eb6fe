import Foundation
import Testing
import TesseraPolicy
import TesseraSchedules

/// `schedules/*.yaml` and the `on_call` condition: who is on call comes from the bundle's
/// schedules at the decision's time, reasons say who is on call instead, grace and
/// cap_to_shift bound the access, and a schedule whose data cannot be trusted fails closed.
@Suite("on-call schedules and conditions")
struct OnCallConditionTests {
    /// Daily 09:00 Berlin hand-offs between alice and bob from Monday 2 March 2026 (alice first),
    /// and a policy whose level 2 is carol's.
    static let schedules = """
    schedules:
      - id: primary
        time_zone: Europe/Berlin
        layers:
          - participants: [alice@example.com, bob@example.com]
            rotation_start: 2026-03-02T09:00:00+01:00
            turn: 1d
            handoff: "09:00"
      - id: secondary
        time_zone: Europe/Berlin
        layers:
          - participants: [carol@example.com]
            rotation_start: 2026-03-02T09:00:00+01:00
            turn: 1w
      - id: feed
        ical: {file: feed.ics}
        max_staleness: 1h
    escalation_policies:
      - id: payments
        levels:
          - {schedules: [primary]}
          - {schedules: [secondary], people: [lead@example.com]}
    people:
      aliases:
        "Dana Contractor": partner:dana
    """

    static func configuration() throws -> OnCallConfiguration {
        var configuration = OnCallConfiguration()
        try PolicyBundle.parseSchedules(schedules, file: "schedules/team.yaml", directory: "/bundle/schedules", into: &configuration)
        return configuration
    }

    static func person(_ email: String, upstream: String = "corp") -> Identity {
        Identity(upstream: upstream, subject: email, email: email, groups: [], authenticationMethods: ["pwd", "mfa"])
    }

    static let monday10 = RFC3339.date("2026-03-02T09:00:00Z")!  // 10:00 Berlin: alice's day

    func decide(_ condition: OnCallCondition, _ identity: Identity, at now: Date = monday10,
                unavailable: [String: String] = [:]) throws -> AccessDecision {
        let role = RoleDefinition(name: "r", audiences: ["https://api.example.com"], scopes: ["s"], defaultDurationSeconds: 3600,
                                  maxDurationSeconds: 4 * 3600, eligibility: Eligibility(subjects: [GlobPattern("*")]),
                                  conditions: RoleConditions(onCall: condition))
        var state = OnCallState(configuration: try Self.configuration(), window: now.addingTimeInterval(-86_400 * 3)..<now.addingTimeInterval(86_400 * 7),
                                importedReason: "not synced yet")
        for (schedule, why) in unavailable { state.unavailable[schedule] = why }
        var context = DecisionContext(clientID: "cli", now: now)
        context.onCall = state
        return PolicyEngine(roles: [role]).decide(identity: identity, request: AccessRequest(role: "r"), context: context)
    }

    @Test func parsesSchedulesPoliciesFeedsAndPeople() throws {
        let configuration = try Self.configuration()
        #expect(configuration.native.map(\.schedule.id) == ["primary", "secondary"])
        #expect(configuration.feeds.map(\.id) == ["feed"])
        #expect(configuration.feeds.first?.source == .iCalendarFile(path: "/bundle/schedules/feed.ics"))
        #expect(configuration.feeds.first?.maximumStalenessSeconds == 3600)
        #expect(configuration.escalationPolicies.map(\.id) == ["payments"])
        #expect(configuration.people.participants(for: Identity(upstream: "partner", subject: "dana", groups: [], authenticationMethods: []))
            == ["partner:dana", "Dana Contractor"])
    }

    @Test(arguments: [
        ("schedules:\n  - id: a\n    layers:\n      - {participants: [x], rotation_start: 2026-03-02T09:00:00Z, turn: 30s}\n", "turn", 4),
        ("schedules:\n  - id: a\n    time_zone: Mars/Olympus\n    layers: []\n", "unknown time zone", 3),
        ("schedules:\n  - id: a\n    layers:\n      - {participants: [x], rotation_start: 2026-03-02T09:00:00Z, turn: 1d, handoff: \"25:00\"}\n", "not a time of day", 4),
        ("schedules:\n  - id: a\n    layers: []\n    ical: {file: a.ics}\n", "one of them", 2),
        ("schedules:\n  - id: a\n    ical: {url: \"http://calendar.example.com/a.ics\"}\n", "https", 3),
        ("schedules:\n  - id: a\n    pagerduty: {schedule_id: P1}\npagerduty: {base_url: \"https://api.pagerduty.com\"}\n", "token_file or token_env", 4),
        ("escalation_policies:\n  - id: p\n    levels:\n      - {}\n", "names schedules, people or both", 4),
        ("people:\n  aliases:\n    \"Dana\": dana\n", "upstream:subject", 3),
    ])
    func refusesBrokenFilesWithTheLine(_ text: String, _ message: String, _ line: Int) {
        var configuration = OnCallConfiguration()
        let error = #expect(throws: PolicyError.self) {
            try PolicyBundle.parseSchedules(text, file: "schedules/x.yaml", directory: "/bundle/schedules", into: &configuration)
        }
        #expect(error?.location.line == line, "\(String(describing: error))")
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test func theOnCallEngineerHoldsTheConditionAndOthersAreToldWhoDoes() throws {
        let primary = OnCallCondition(target: .schedule("primary"))
        let alice = try decide(primary, Self.person("alice@example.com"))
        #expect(alice.isAllowed)
        #expect(alice.rules.first { $0.rule == "on_call" }?.reason == "corp:alice@example.com is on call for primary until 2026-03-03 09:00 Europe/Berlin")
        let bob = try decide(primary, Self.person("bob@example.com"))
        #expect(!bob.isAllowed)
        #expect(bob.failureSummary == "corp:bob@example.com is not on call for primary; on call now: alice@example.com until 2026-03-03 09:00 Europe/Berlin")
        // Case does not matter in e-mail addresses; the hand-off instant belongs to the next person.
        #expect(try decide(primary, Self.person("Alice@Example.com")).isAllowed)
        let handOff = RFC3339.date("2026-03-03T08:00:00Z")!
        #expect(try !decide(primary, Self.person("alice@example.com"), at: handOff).isAllowed)
        #expect(try decide(primary, Self.person("bob@example.com"), at: handOff).isAllowed)
    }

    @Test func graceCountsAShiftThatJustEndedAndCapToShiftEndsTheAccessWithIt() throws {
        let afterHandOff = RFC3339.date("2026-03-03T08:10:00Z")!  // 10 minutes into bob's day
        let plain = OnCallCondition(target: .schedule("primary"), graceSeconds: 15 * 60)
        let within = try decide(plain, Self.person("alice@example.com"), at: afterHandOff)
        #expect(within.isAllowed)
        #expect(within.rules.first { $0.rule == "on_call" }?.reason.contains("was on call for primary until 09:00 Europe/Berlin, within the grace of 15m") == true)
        #expect(within.lifetimeSeconds == 3600, "without cap_to_shift the grace does not shorten the access")
        #expect(try !decide(plain, Self.person("alice@example.com"), at: afterHandOff.addingTimeInterval(6 * 60)).isAllowed)

        let capped = OnCallCondition(target: .schedule("primary"), graceSeconds: 15 * 60, capToShift: true)
        #expect(try decide(capped, Self.person("alice@example.com"), at: afterHandOff).lifetimeSeconds == 5 * 60)
        let lateInTheDay = RFC3339.date("2026-03-03T07:30:00Z")!
        #expect(try decide(capped, Self.person("alice@example.com"), at: lateInTheDay).lifetimeSeconds == 45 * 60)
    }

    @Test func escalationLevelsCountUpToMaxLevel() throws {
        let firstLevel = OnCallCondition(target: .escalationPolicy("payments", maxLevel: 1))
        let anyLevel = OnCallCondition(target: .escalationPolicy("payments", maxLevel: .max))
        #expect(try decide(firstLevel, Self.person("alice@example.com")).isAllowed)
        let carol = try decide(firstLevel, Self.person("carol@example.com"))
        #expect(!carol.isAllowed)
        #expect(carol.failureSummary.contains("is not on call at level 1 of payments; on call now: primary: alice@example.com"))
        #expect(try decide(anyLevel, Self.person("carol@example.com")).rules.first { $0.rule == "on_call" }?.reason
            .contains("is on call for secondary at level 2 of payments") == true)
        #expect(try decide(anyLevel, Self.person("lead@example.com")).rules.first { $0.rule == "on_call" }?.reason
            == "corp:lead@example.com is named at level 2 of payments")
    }

    @Test func anUntrustedScheduleFailsClosedAndSaysWhy() throws {
        let feed = OnCallCondition(target: .schedule("feed"))
        let unsynced = try decide(feed, Self.person("alice@example.com"))
        #expect(!unsynced.isAllowed)
        #expect(unsynced.failureSummary == "cannot tell whether corp:alice@example.com is on call for feed: feed: not synced yet")
        let stale = try decide(OnCallCondition(target: .schedule("primary")), Self.person("alice@example.com"),
                               unavailable: ["primary": "last good sync 7h ago, more than max_staleness 6h"])
        #expect(stale.failureSummary.contains("primary: last good sync 7h ago"))
    }

    @Test func aConditionOnAScheduleNobodyDeclaredIsRefusedWhenTheBundleLoads() throws {
        let root = NSTemporaryDirectory() + "oncall-bundle-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/roles", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try """
        roles:
          - name: r
            audiences: [https://api.example.com]
            scopes: [s]
            default_duration: 1h
            max_duration: 1h
            eligible: {subjects: ["*"]}
            conditions:
              approval:
                stages: [{approvers: {groups: [leads]}}]
                auto_approve:
                  - {on_call: {escalation_policy: paymnets, max_level: 1}}
        """.write(toFile: root + "/roles/r.yaml", atomically: true, encoding: .utf8)
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.load(directory: root) }
        #expect(error?.description.contains("auto_approve[0].on_call: names escalation policy paymnets, which no file of schedules/ declares") == true,
                "\(String(describing: error))")
    }
}
