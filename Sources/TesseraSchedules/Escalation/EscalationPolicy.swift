/// Who is paged, in order: level 1 first, then level 2 if level 1 does not answer...
/// Modelled on PagerDuty's escalation policies, so a condition can say "on call at level 1 of
/// payments" (teleport #46908 asks for only the first levels).
public struct EscalationPolicy: Sendable, Hashable {
    public let id: String
    /// Level 1 is `levels[0]`.
    public let levels: [EscalationLevel]

    public init(id: String, levels: [EscalationLevel]) throws(ScheduleError) {
        guard !levels.isEmpty else { throw ScheduleError("escalation policy \(id) has no levels") }
        for (index, level) in levels.enumerated() where level.targets.isEmpty {
            throw ScheduleError("escalation policy \(id): level \(index + 1) names no schedule or person")
        }
        self.id = id
        self.levels = levels
    }

    /// The level numbered `number` (1-based), nil when there is none.
    public func level(_ number: Int) -> EscalationLevel? {
        levels.indices.contains(number - 1) ? levels[number - 1] : nil
    }
}

/// One level of an escalation policy: everyone on call in its schedules, and the people it
/// names directly (who are on call at that level at all times, as PagerDuty's `start: null,
/// end: null` entries).
public struct EscalationLevel: Sendable, Hashable {
    public let targets: [EscalationTarget]

    public init(targets: [EscalationTarget]) {
        self.targets = targets
    }
}

public enum EscalationTarget: Sendable, Hashable {
    case schedule(String)
    case person(String)
}
