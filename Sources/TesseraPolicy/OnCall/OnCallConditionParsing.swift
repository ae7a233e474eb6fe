import Foundation
import TesseraSchedules

extension OnCallCondition {
    /// `on_call: payments-primary`, or `{schedule: S}` / `{escalation_policy: P, max_level: 1}`
    /// with optional `grace: 15m` and `cap_to_shift: true`.
    init(field: YAMLField) throws(PolicyError) {
        if field.isScalar {
            self.init(target: .schedule(try field.nonEmptyString()))
            return
        }
        let members = try field.mapping(allowed: ["schedule", "escalation_policy", "max_level", "grace", "cap_to_shift"])
        let target: Target
        switch (members["schedule"], members["escalation_policy"]) {
        case (let schedule?, nil):
            if let level = members["max_level"] { throw level.error("max_level is for escalation_policy") }
            target = .schedule(try schedule.nonEmptyString())
        case (nil, let policy?):
            var maxLevel = Int.max
            if let level = members["max_level"] {
                maxLevel = try level.integer()
                guard maxLevel >= 1 else { throw level.error("levels count from 1") }
            }
            target = .escalationPolicy(try policy.nonEmptyString(), maxLevel: maxLevel)
        default:
            throw field.error("on_call needs schedule or escalation_policy (one of them)")
        }
        var grace = 0
        if let graceField = members["grace"] {
            grace = try graceField.durationSeconds()
            guard grace <= 86_400 else { throw graceField.error("grace is at most 1d") }
        }
        self.init(target: target, graceSeconds: grace, capToShift: try members["cap_to_shift"]?.bool() ?? false)
    }

    /// The schedule or policy named, if the bundle lacks it.
    func missingTarget(in configuration: OnCallConfiguration) -> String? {
        switch target {
        case .schedule(let id):
            configuration.scheduleIDs.contains(id) ? nil : "schedule \(id)"
        case .escalationPolicy(let id, _):
            configuration.escalationPolicies.contains { $0.id == id } ? nil : "escalation policy \(id)"
        }
    }
}

extension PolicyBundle {
    /// Every on-call condition (a role's, an auto-approval rule's) names a schedule or policy of
    /// `schedules/`: a typo would otherwise deny (or never auto-approve) everyone, silently.
    static func checkOnCallConditions(_ bundle: PolicyBundle) throws(PolicyError) {
        for role in bundle.roles {
            var conditions: [(OnCallCondition, String)] = []
            if let onCall = role.conditions.onCall { conditions.append((onCall, "conditions.on_call")) }
            for (index, rule) in (role.conditions.approval?.autoApprove ?? []).enumerated() {
                if let onCall = rule.onCall { conditions.append((onCall, "conditions.approval.auto_approve[\(index)].on_call")) }
            }
            for (condition, field) in conditions {
                guard let missing = condition.missingTarget(in: bundle.onCall) else { continue }
                throw PolicyError(role.location, field: "roles.\(role.name).\(field)",
                                  "names \(missing), which no file of \(OnCallConfiguration.directoryName)/ declares")
            }
        }
    }

    /// The on-call state of the bundle's own schedules at `now` (a week back, five weeks on),
    /// for `tessera policy test|explain`: imported schedules are synced only by the server, so
    /// conditions on them fail closed here unless a case says who is on call.
    public func onCallState(at now: Date) -> OnCallState? {
        guard !onCall.isEmpty else { return nil }
        let window = now.addingTimeInterval(-7 * 86_400)..<now.addingTimeInterval(35 * 86_400)
        return OnCallState(configuration: onCall, window: window, importedReason: "imported schedules are synced only by tessera serve")
    }
}

extension OnCallState {
    /// A state in which `identity` is on call (for a day either side of `now`) for exactly
    /// `schedules`, and nobody is on call for the bundle's other schedules: what a policy test
    /// or `tessera policy explain --on-call` asserts.
    public static func assuming(_ identity: Identity, onCallFor schedules: Set<String>, configuration: OnCallConfiguration,
                                now: Date) -> OnCallState {
        let window = now.addingTimeInterval(-86_400)..<now.addingTimeInterval(86_400)
        var timelines: [String: ShiftTimeline] = [:]
        for id in Set(configuration.scheduleIDs).union(schedules) {
            let shifts = schedules.contains(id) ? [Shift(person: identity.namespacedSubject, start: window.lowerBound, end: window.upperBound)] : []
            timelines[id] = ShiftTimeline(shifts: shifts, window: window)
        }
        var zones: [String: TimeZone] = [:]
        for id in configuration.scheduleIDs { zones[id] = configuration.timeZone(of: id) }
        return OnCallState(snapshot: .init(timelines: timelines, policies: configuration.escalationPolicies),
                           people: PeopleMapping(match: [.subject]), timeZones: zones)
    }
}
