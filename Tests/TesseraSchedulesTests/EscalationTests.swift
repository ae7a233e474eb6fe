import Foundation
import Testing
import TesseraSchedules

@Suite("escalation policies")
struct EscalationTests {
    /// payments: level 1 is the primary schedule, level 2 the secondary schedule and the
    /// engineering manager directly.
    func snapshot() throws -> OnCallSnapshot {
        let primary = try timeline(berlin, [layer(["ann@example.com", "bob@example.com"], from: "2026-03-02T09:00:00+01:00", turn: .weeks(1))])
        let secondary = try timeline(berlin, [layer(["cem@example.com", "ann@example.com"], from: "2026-03-02T09:00:00+01:00", turn: .weeks(1))])
        let payments = try EscalationPolicy(id: "payments", levels: [
            EscalationLevel(targets: [.schedule("payments-primary")]),
            EscalationLevel(targets: [.schedule("payments-secondary"), .person("mia@example.com")]),
        ])
        return OnCallSnapshot(timelines: ["payments-primary": primary, "payments-secondary": secondary], policies: [payments])
    }

    let monday = at("2026-03-02T10:00:00+01:00")

    @Test func whoIsOnCallAtEachLevel() throws {
        let s = try snapshot()
        let level1 = try #require(s.onCall(policy: "payments", level: 1, at: monday))
        #expect(level1.map(\.person) == ["ann@example.com"])
        #expect(level1.first?.schedule == "payments-primary")
        #expect(level1.first?.until == at("2026-03-09T09:00:00+01:00"))
        let level2 = try #require(s.onCall(policy: "payments", level: 2, at: monday))
        #expect(level2.map(\.person) == ["cem@example.com", "mia@example.com"])
        // Named directly: on call at that level with no end.
        #expect(level2.last?.schedule == nil)
        #expect(level2.last?.until == nil)
        #expect(s.onCall(policy: "payments", level: 3, at: monday) == nil)
        #expect(s.onCall(policy: "billing", level: 1, at: monday) == nil)
    }

    @Test func whereAndAtWhichLevelSomeoneIsOnCall() throws {
        let s = try snapshot()
        // Ann: level 1 through the primary this week; next week level 2 through the secondary.
        let now = s.duties(of: "Ann@Example.com", at: monday)
        #expect(now.map(\.description) == [
            "ann@example.com through payments-primary until 2026-03-09T08:00:00Z",
            "ann@example.com at level 1 of payments through payments-primary until 2026-03-09T08:00:00Z",
        ])
        let nextWeek = s.duties(of: "ann@example.com", at: at("2026-03-10T10:00:00+01:00"))
        #expect(nextWeek.compactMap(\.level) == [2])
        #expect(nextWeek.last?.schedule == "payments-secondary")
        #expect(s.duties(of: "mia@example.com", at: monday).map(\.description) == ["mia@example.com at level 2 of payments"])
        #expect(s.duties(of: "eve@example.com", at: monday).isEmpty)
    }

    @Test func maxLevelLimitsWhichLevelsCount() throws {
        let s = try snapshot()
        #expect(s.duty(of: "ann@example.com", policy: "payments", maxLevel: 1, at: monday)?.level == 1)
        #expect(s.duty(of: "cem@example.com", policy: "payments", maxLevel: 1, at: monday) == nil)
        #expect(s.duty(of: "cem@example.com", policy: "payments", maxLevel: 2, at: monday)?.level == 2)
        #expect(s.duty(of: "mia@example.com", policy: "payments", at: monday)?.until == nil)
        #expect(s.shift(of: "bob@example.com", schedule: "payments-primary", at: monday) == nil)
        #expect(s.onCall(schedule: "payments-primary", at: monday)?.map(\.person) == ["ann@example.com"])
        #expect(s.onCall(schedule: "nope", at: monday) == nil)
    }

    @Test func policiesNamingMissingSchedulesAreReported() throws {
        let policy = try EscalationPolicy(id: "db", levels: [EscalationLevel(targets: [.schedule("db-primary")])])
        let s = OnCallSnapshot(timelines: [:], policies: [policy])
        #expect(s.missingSchedules.map { "\($0.policy)/\($0.schedule)" } == ["db/db-primary"])
        #expect(s.onCall(policy: "db", level: 1, at: monday) == [])
        #expect(throws: ScheduleError.self) { try EscalationPolicy(id: "x", levels: []) }
        #expect(throws: ScheduleError.self) { try EscalationPolicy(id: "x", levels: [EscalationLevel(targets: [])]) }
    }
}
