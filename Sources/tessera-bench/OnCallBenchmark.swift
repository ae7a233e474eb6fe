import Foundation
import TesseraPolicy
import TesseraSchedules

/// On-call lookups and decisions, on one core: "is X on call for S at T" for a schedule of 50
/// participants in 3 layers with a year of overrides (target >= 1,000,000/s), and policy
/// decisions for 1,000 roles where every tenth has an on-call condition (the engine's
/// 200,000/s target still holds).
struct OnCallBenchmark {
    static let lookupTarget = 1_000_000.0
    static let seconds = 2.0

    func run() throws {
        let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
        let zone = TimeZone(identifier: "Europe/Berlin")!
        let people = (0..<50).map { "person-\($0)@example.com" }
        let layers = try [
            Layer(name: "weekly", participants: people, rotationStart: start, turnLength: .weeks(1), handoffTime: TimeOfDay(hour: 9, minute: 0)),
            Layer(name: "days", participants: Array(people.prefix(20)), rotationStart: start, turnLength: .days(1),
                  restrictions: [try Restriction(parsing: "mon 09:00 - fri 18:00")]),
            Layer(name: "nights", participants: Array(people.suffix(20)), rotationStart: start, turnLength: .seconds(12 * 3600)),
        ]
        // Two overrides a day for a year: swaps, cover for sick days.
        let overrides = (0..<730).map { index in
            Override(person: people[(index * 7) % 50], start: start.addingTimeInterval(Double(index) * 43_200 + 3600),
                     end: start.addingTimeInterval(Double(index) * 43_200 + 3 * 3600))
        }
        let schedule = try Schedule(id: "payments-primary", timeZone: zone, layers: layers, overrides: overrides)
        let year = start..<start.addingTimeInterval(365 * 86_400)
        let built = Date()
        let timeline = schedule.timeline(over: year)
        let buildSeconds = Date().timeIntervalSince(built)
        // Instants and people spread over the year, precomputed so the loop measures the lookup.
        var generator = SystemRandomNumberGenerator()
        let questions = (0..<4096).map { _ in
            (people[Int.random(in: 0..<50, using: &generator)], start.addingTimeInterval(Double.random(in: 0..<(365 * 86_400), using: &generator)))
        }
        var index = 0
        var hits = 0
        let lookups = Stopwatch.run(for: Self.seconds) {
            let (person, instant) = questions[index]
            if timeline.isOnCall(person, at: instant) { hits += 1 }
            index = (index + 1) & 4095
        }
        print("== oncall: 50 participants, 3 layers, 730 overrides, a year resolved in \(Int(buildSeconds * 1000)) ms (\(timeline.shifts.count) shifts)")
        let verdict = lookups.perSecond >= Self.lookupTarget ? "PASS" : "BELOW TARGET"
        print("   lookups    \(Format.right(Format.count(lookups.perSecond), 9))/s  \(verdict) (target >= \(Format.count(Self.lookupTarget))/s; \(hits) on call)")
        try decisions(timeline: timeline, at: start.addingTimeInterval(180 * 86_400))
    }

    /// 1,000 roles, every tenth with `on_call` on the schedule, the rest as the policy benchmark's.
    private func decisions(timeline: ShiftTimeline, at now: Date) throws {
        let network = NetworkSet(name: "corp", networks: [IPNetwork("10.0.0.0/8")!])
        let onCallPerson = try require(timeline.onCall(at: now).first?.person)
        let roles = (0..<PolicyBenchmark.roleCount).map { index in
            RoleDefinition(
                name: "role-\(index)", audiences: ["https://api.example.com"], scopes: ["read"], defaultDurationSeconds: 1800,
                maxDurationSeconds: 3600, eligibility: Eligibility(upstreams: ["corp"], groups: ["team-\(index % 50)"]),
                conditions: RoleConditions(mfa: MFACondition(), maxAuthAgeSeconds: 8 * 3600, deviceCompliant: true, networks: [network],
                                           onCall: index % 10 == 0 ? OnCallCondition(schedule: "payments-primary") : nil))
        }
        let engine = PolicyEngine(roles: roles)
        let identity = Identity(upstream: "corp", subject: "alice", email: onCallPerson, groups: (0..<50).map { "team-\($0)" },
                                authenticationMethods: ["pwd", "mfa"], authenticatedAt: now - 600, deviceCompliant: true)
        let state = OnCallState(snapshot: OnCallSnapshot(timelines: ["payments-primary": timeline]))
        let context = DecisionContext(clientID: "tessera-cli", clientAddress: IPAddress("10.1.2.3"), now: now, onCall: state)
        let requests = (0..<PolicyBenchmark.roleCount).map { AccessRequest(role: "role-\($0)") }
        guard engine.decide(identity: identity, request: requests[0], context: context).isAllowed else {
            throw BenchError(description: "the on-call role's request is not allowed: it would measure a deny path")
        }
        let rate = PolicyBenchmark.decisionRate(engine, identity: identity, requests: requests, context: context)
        let verdict = rate.perSecond >= PolicyBenchmark.target ? "PASS" : "BELOW TARGET"
        print("   decisions  \(Format.right(Format.count(rate.perSecond), 9))/s  \(verdict) (1,000 roles, every tenth on call; target >= "
            + "\(Format.count(PolicyBenchmark.target))/s)")
    }

    private func require<T>(_ value: T?) throws -> T {
        guard let value else { throw BenchError(description: "the on-call benchmark's fixture is invalid") }
        return value
    }
}
