import Foundation
import TesseraSchedules

/// `on_call`: the subject must be on call now, for a schedule or at a level of an escalation
/// policy, or have been within `grace` (a shift that just ended still counts, for the incident
/// that outlives it). With `cap_to_shift` the access granted ends when the shift (and its grace)
/// does.
public struct OnCallCondition: Sendable, Hashable, CustomStringConvertible {
    public enum Target: Sendable, Hashable {
        case schedule(String)
        /// Levels 1 through `maxLevel` of the policy.
        case escalationPolicy(String, maxLevel: Int)
    }

    public var target: Target
    public var graceSeconds: Int
    public var capToShift: Bool

    public init(target: Target, graceSeconds: Int = 0, capToShift: Bool = false) {
        self.target = target
        self.graceSeconds = graceSeconds
        self.capToShift = capToShift
    }

    public init(schedule: String) {
        self.init(target: .schedule(schedule))
    }

    /// `on call for payments-primary`, `on call at levels 1-2 of payments`.
    public var description: String {
        switch target {
        case .schedule(let id): "on call for \(id)"
        case .escalationPolicy(let id, let maxLevel) where maxLevel == 1: "on call at level 1 of \(id)"
        case .escalationPolicy(let id, let maxLevel) where maxLevel == .max: "on call at any level of \(id)"
        case .escalationPolicy(let id, let maxLevel): "on call at levels 1-\(maxLevel) of \(id)"
        }
    }

    /// The schedules the condition reads, with the level each is at (nil for a plain schedule).
    func schedules(in state: OnCallState) -> [(schedule: String, level: Int?)] {
        switch target {
        case .schedule(let id):
            return [(id, nil)]
        case .escalationPolicy(let id, let maxLevel):
            guard let policy = state.snapshot.policies[id] else { return [] }
            return policy.levels.prefix(maxLevel).enumerated().flatMap { index, level in
                level.targets.compactMap { target -> (String, Int?)? in
                    if case .schedule(let schedule) = target { return (schedule, index + 1) }
                    return nil
                }
            }
        }
    }

    /// The people a policy's levels name directly: on call at those levels at all times.
    func directPeople(in state: OnCallState) -> [(person: String, level: Int)] {
        guard case .escalationPolicy(let id, let maxLevel) = target, let policy = state.snapshot.policies[id] else { return [] }
        return policy.levels.prefix(maxLevel).enumerated().flatMap { index, level in
            level.targets.compactMap { target -> (String, Int)? in
                if case .person(let person) = target { return (person, index + 1) }
                return nil
            }
        }
    }

    /// Whether the subject holds the condition now, the reason (built when read: deciding is
    /// the hot path, and formatting times costs more than the lookup), and the moment it stops
    /// holding when access is capped to the shift.
    func evaluate(identity: Identity, state: OnCallState?, now: Date) -> (met: Bool, reason: @Sendable () -> String, endsAt: Date?) {
        let description = description
        guard let state else {
            return (false, { "on-call state unknown: no schedules are configured, so \(identity.namespacedSubject) cannot be shown \(description)" }, nil)
        }
        let policyName = policyName
        if case .escalationPolicy(let id, _) = target, state.snapshot.policies[id] == nil {
            return (false, { "no escalation policy \(id)" }, nil)
        }
        let direct = directPeople(in: state)
        if !direct.isEmpty {
            let names = Set(state.people.participants(for: identity).map { $0.lowercased() })
            if let person = direct.first(where: { names.contains($0.person.lowercased()) }) {
                return (true, { "\(identity.namespacedSubject) is named at level \(person.level) of \(policyName)" }, nil)
            }
        }
        var unknown: [String] = []
        let schedules = schedules(in: state)
        for (schedule, level) in schedules {
            if let why = state.unavailable[schedule] {
                unknown.append("\(schedule): \(why)")
                continue
            }
            guard let shift = state.shift(of: identity, schedule: schedule, at: now, grace: TimeInterval(graceSeconds)) else { continue }
            let graceSeconds = graceSeconds
            let endsAt = capToShift ? shift.end.addingTimeInterval(TimeInterval(graceSeconds)) : nil
            return (true, {
                let at = level.map { " at level \($0) of \(policyName)" } ?? ""
                let until = state.clock(shift.end, schedule: schedule, now: now)
                if shift.end <= now {
                    return "\(identity.namespacedSubject) was on call for \(schedule)\(at) until \(until), within the grace of \(DurationText.format(graceSeconds))"
                }
                return "\(identity.namespacedSubject) is on call for \(schedule)\(at) until \(until)"
            }, endsAt)
        }
        // Fail closed: a schedule whose data cannot be trusted might have had the subject on it.
        if !unknown.isEmpty {
            let unknownText = unknown
            return (false, { "cannot tell whether \(identity.namespacedSubject) is \(description): " + unknownText.joined(separator: "; ") }, nil)
        }
        let target = target
        return (false, {
            switch target {
            case .schedule(let id):
                return "\(identity.namespacedSubject) is not on call for \(id); on call now: \(state.whoIsOnCall(id, at: now))"
            case .escalationPolicy:
                let current = schedules.map { "\($0.schedule): \(state.whoIsOnCall($0.schedule, at: now))" }
                return "\(identity.namespacedSubject) is not \(description); on call now: " + (current.isEmpty ? "nobody" : current.joined(separator: "; "))
            }
        }, nil)
    }

    private var policyName: String {
        if case .escalationPolicy(let id, _) = target { return id }
        return ""
    }
}
