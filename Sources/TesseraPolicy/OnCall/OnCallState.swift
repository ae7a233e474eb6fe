import Foundation
import TesseraSchedules

/// What is known about on-call duty when a decision is made: a snapshot of every schedule's
/// shifts over a window, the escalation policies, how participants name identities, and which
/// schedules cannot be trusted right now (never synced, or stale past their `max_staleness`).
/// Built outside the engine (TesseraCore syncs the feeds); the engine only reads it.
public struct OnCallState: Sendable {
    public var snapshot: OnCallSnapshot
    public var people: PeopleMapping
    /// Each schedule's zone, for times in reasons ("until 18:00 Europe/Paris").
    public var timeZones: [String: TimeZone]
    /// Schedule id -> why its data is not to be trusted. Conditions on it fail closed.
    public var unavailable: [String: String]

    public init(snapshot: OnCallSnapshot, people: PeopleMapping = PeopleMapping(), timeZones: [String: TimeZone] = [:],
                unavailable: [String: String] = [:]) {
        self.snapshot = snapshot
        self.people = people
        self.timeZones = timeZones
        self.unavailable = unavailable
    }

    /// The bundle's native schedules resolved over `window`; imported schedules unknown until
    /// a sync says otherwise (`unavailable`, with `reason`).
    public init(configuration: OnCallConfiguration, window: Range<Date>, importedReason: String) {
        var timelines: [String: ShiftTimeline] = [:]
        var zones: [String: TimeZone] = [:]
        for native in configuration.native {
            timelines[native.schedule.id] = native.schedule.timeline(over: window)
            zones[native.schedule.id] = native.schedule.timeZone
        }
        var unavailable: [String: String] = [:]
        for feed in configuration.feeds {
            zones[feed.id] = feed.timeZone
            unavailable[feed.id] = importedReason
        }
        self.init(snapshot: OnCallSnapshot(timelines: timelines, policies: configuration.escalationPolicies), people: configuration.people,
                  timeZones: zones, unavailable: unavailable)
    }

    /// A shift of one of the identity's participant names that covers `now`, or that ended
    /// within `grace` before it: half-open shifts, so one that ends at `now` is over.
    func shift(of identity: Identity, schedule: String, at now: Date, grace: TimeInterval) -> Shift? {
        guard let timeline = snapshot.timelines[schedule] else { return nil }
        let names = people.participants(for: identity)
        for name in names {
            if let shift = timeline.shift(of: name, at: now) { return shift }
        }
        guard grace > 0 else { return nil }
        let since = now.addingTimeInterval(-grace)
        for name in names {
            if let shift = timeline.shift(of: name, at: since) { return shift }
            if let shift = timeline.nextShift(of: name, after: since), shift.start <= now { return shift }
        }
        return nil
    }

    /// `bob@example.com until 18:00 Europe/Paris`, or `nobody`.
    func whoIsOnCall(_ schedule: String, at now: Date) -> String {
        let shifts = snapshot.onCall(schedule: schedule, at: now) ?? []
        guard !shifts.isEmpty else { return "nobody" }
        return shifts.map { "\($0.person) until \(clock($0.end, schedule: schedule, now: now))" }.joined(separator: ", ")
    }

    /// A time as the schedule's people read it: `18:00 Europe/Paris`, with the date when it is
    /// not today.
    public func clock(_ instant: Date, schedule: String, now: Date) -> String {
        let zone = timeZones[schedule] ?? TimeZone(identifier: "UTC")!
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = calendar.isDate(instant, inSameDayAs: now) ? "HH:mm" : "yyyy-MM-dd HH:mm"
        // Foundation names UTC "GMT"; people configured it as UTC.
        return "\(formatter.string(from: instant)) \(zone.identifier == "GMT" ? "UTC" : zone.identifier)"
    }
}

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
