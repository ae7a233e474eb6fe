import Foundation

/// Where and until when someone is on call.
public struct OnCallDuty: Sendable, Hashable, CustomStringConvertible {
    public let person: String
    /// The schedule that puts them on call; nil when an escalation level names them directly.
    public let schedule: String?
    /// The escalation policy and its level (1-based), when the question was about one, or when
    /// `duties(of:at:)` found the schedule (or person) at that level.
    public let policy: String?
    public let level: Int?
    /// Their merged shift in `schedule`; nil for a person a level names directly, who is on call
    /// at all times.
    public let shift: Shift?

    public init(person: String, schedule: String?, policy: String?, level: Int?, shift: Shift?) {
        self.person = person
        self.schedule = schedule
        self.policy = policy
        self.level = level
        self.shift = shift
    }

    /// The end of the shift; nil: no end.
    public var until: Date? { shift?.end }

    public var description: String {
        var text = person
        if let policy, let level { text += " at level \(level) of \(policy)" }
        if let schedule { text += " through \(schedule)" }
        if let until { text += " until \(until.ISO8601Format())" }
        return text
    }
}

/// Everything the on-call condition needs, as plain values: resolved timelines per schedule
/// (native or imported, keyed by schedule id) and the escalation policies over them. The policy
/// engine reads one of these from its decision context and never fetches anything.
public struct OnCallSnapshot: Sendable {
    public let timelines: [String: ShiftTimeline]
    public let policies: [String: EscalationPolicy]

    /// Policies that name a schedule missing from `timelines` are kept; `missingSchedules`
    /// lists them so a loader can warn, and lookups treat the missing schedule as empty.
    public init(timelines: [String: ShiftTimeline], policies: [EscalationPolicy] = []) {
        self.timelines = timelines
        self.policies = Dictionary(policies.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// (policy, schedule) pairs where a policy names a schedule this snapshot does not have.
    public var missingSchedules: [(policy: String, schedule: String)] {
        policies.values.sorted { $0.id < $1.id }.flatMap { policy in
            policy.levels.flatMap(\.targets).compactMap { target -> (policy: String, schedule: String)? in
                if case let .schedule(id) = target, timelines[id] == nil { return (policy.id, id) }
                return nil
            }
        }
    }

    /// Who is on call for `schedule` at `instant`, each until the end of their merged shift;
    /// nil when the schedule is unknown (so "nobody" and "no such schedule" differ).
    public func onCall(schedule: String, at instant: Date) -> [Shift]? {
        timelines[schedule]?.onCall(at: instant)
    }

    /// `person`'s merged shift in `schedule` at `instant`, nil when they are not on call (or the
    /// schedule is unknown).
    public func shift(of person: String, schedule: String, at instant: Date) -> Shift? {
        timelines[schedule]?.shift(of: person, at: instant)
    }

    /// Who is on call at `level` (1-based) of `policy`: everyone on call in its schedules, then
    /// the people it names directly; nil when the policy or the level does not exist.
    public func onCall(policy id: String, level number: Int, at instant: Date) -> [OnCallDuty]? {
        guard let policy = policies[id], let level = policy.level(number) else { return nil }
        return level.targets.flatMap { target -> [OnCallDuty] in
            switch target {
            case let .schedule(schedule):
                (timelines[schedule]?.onCall(at: instant) ?? []).map {
                    OnCallDuty(person: $0.person, schedule: schedule, policy: id, level: number, shift: $0)
                }
            case let .person(person):
                [OnCallDuty(person: person, schedule: nil, policy: id, level: number, shift: nil)]
            }
        }
    }

    /// Every duty of `person` at `instant`: one per schedule they are on call in (no policy),
    /// and one per escalation level that reaches them, through a schedule or directly. Sorted
    /// by schedule, then policy and level, so answers are stable.
    public func duties(of person: String, at instant: Date) -> [OnCallDuty] {
        var shifts: [String: Shift] = [:]
        for (schedule, timeline) in timelines {
            if let shift = timeline.shift(of: person, at: instant) { shifts[schedule] = shift }
        }
        var duties = shifts.map { OnCallDuty(person: $0.value.person, schedule: $0.key, policy: nil, level: nil, shift: $0.value) }
        for policy in policies.values {
            for (index, level) in policy.levels.enumerated() {
                for target in level.targets {
                    switch target {
                    case let .schedule(schedule):
                        if let shift = shifts[schedule] {
                            duties.append(OnCallDuty(person: shift.person, schedule: schedule, policy: policy.id, level: index + 1, shift: shift))
                        }
                    case let .person(named) where named.lowercased() == person.lowercased():
                        duties.append(OnCallDuty(person: named, schedule: nil, policy: policy.id, level: index + 1, shift: nil))
                    case .person:
                        break
                    }
                }
            }
        }
        return duties.sorted { ($0.schedule ?? "", $0.policy ?? "", $0.level ?? 0) < ($1.schedule ?? "", $1.policy ?? "", $1.level ?? 0) }
    }

    /// Whether `person` is on call at some level from 1 to `maxLevel` of `policy` at `instant`;
    /// the duty that says so (the lowest level), or nil.
    public func duty(of person: String, policy id: String, maxLevel: Int = .max, at instant: Date) -> OnCallDuty? {
        guard let policy = policies[id] else { return nil }
        for (index, level) in policy.levels.enumerated() where index < maxLevel {
            for target in level.targets {
                switch target {
                case let .schedule(schedule):
                    if let shift = timelines[schedule]?.shift(of: person, at: instant) {
                        return OnCallDuty(person: shift.person, schedule: schedule, policy: id, level: index + 1, shift: shift)
                    }
                case let .person(named) where named.lowercased() == person.lowercased():
                    return OnCallDuty(person: named, schedule: nil, policy: id, level: index + 1, shift: nil)
                case .person:
                    break
                }
            }
        }
        return nil
    }
}
