import Foundation

/// `conditions.approval`, `break_glass` and `extend` of a role, from YAML. Every problem names
/// file, line and field; a plan that could never be satisfied is refused when the bundle loads.
extension ApprovalPlan {
    static let fields: Set<String> = [
        "required", "approvers", "count", "pending_ttl", "window_starts", "stages", "approver_conditions", "auto_approve",
    ]

    /// nil for `{required: false}`.
    init?(field: YAMLField) throws(PolicyError) {
        let members = try field.mapping(allowed: Self.fields)
        guard try members["required"]?.bool() ?? true else { return nil }
        var stages: [ApprovalStage]
        if let stagesField = members["stages"] {
            for short in ["approvers", "count"] where members[short] != nil {
                throw members[short]!.error("use either stages or the short form (approvers, count), not both")
            }
            let list = try stagesField.sequence()
            guard (1...Self.maximumStages).contains(list.count) else {
                throw stagesField.error("an approval plan has 1 to \(Self.maximumStages) stages")
            }
            stages = []
            for stageField in list { stages.append(try ApprovalStage(field: stageField)) }
        } else {
            guard let approversField = members["approvers"] else {
                throw field.error("approval needs stages, or approvers: the groups whose members may approve")
            }
            let approvers = try approversField.stringList()
            guard !approvers.isEmpty else { throw approversField.error("needs at least one approver group") }
            let stage = ApprovalStage(approvers: ApproverSet(groups: approvers), count: try Self.count(members["count"], in: field))
            stages = [stage]
        }
        var pending = Self.defaultPendingSeconds
        if let ttl = members["pending_ttl"] {
            pending = try ttl.durationSeconds()
            guard (60...Self.maximumPendingSeconds).contains(pending) else { throw ttl.error("pending_ttl must be between 1m and 7d") }
        }
        var windowStarts = WindowStart.approval
        if let start = members["window_starts"] {
            let text = try start.string()
            guard let value = WindowStart(rawValue: text) else { throw start.error("expected approval or first_token, got \"\(text)\"") }
            windowStarts = value
        }
        var conditions = ApproverConditions()
        if let conditionsField = members["approver_conditions"], !conditionsField.isNull {
            let fields = try conditionsField.mapping(allowed: ["mfa", "max_auth_age"])
            if let mfa = fields["mfa"], try mfa.bool() { conditions.mfa = MFACondition() }
            if let age = fields["max_auth_age"] {
                let seconds = try age.durationSeconds()
                guard seconds >= 1 else { throw age.error("must be at least 1s") }
                conditions.maxAuthAgeSeconds = seconds
            }
        }
        var autoApprove: [AutoApprovalRule] = []
        if let rules = members["auto_approve"] {
            for ruleField in try rules.sequence() { autoApprove.append(try AutoApprovalRule(field: ruleField)) }
        }
        self.init(pendingSeconds: pending, windowStarts: windowStarts, stages: stages, approverConditions: conditions, autoApprove: autoApprove)
    }

    static func count(_ field: YAMLField?, in parent: YAMLField) throws(PolicyError) -> Int {
        let count = try field?.integer() ?? 1
        guard (1...maximumCount).contains(count) else { throw (field ?? parent).error("count must be between 1 and \(maximumCount)") }
        return count
    }
}

extension ApprovalStage {
    init(field: YAMLField) throws(PolicyError) {
        let members = try field.mapping(allowed: ["approvers", "count", "escalate_after", "escalate_to"])
        guard let approversField = members["approvers"] else { throw field.error("a stage needs approvers: {groups: [...], subjects: [...]}") }
        let approvers = try ApproverSet(field: approversField)
        let count = try ApprovalPlan.count(members["count"], in: field)
        if approvers.groups.isEmpty, approvers.subjects.count < count {
            throw (members["count"] ?? field).error("count \(count) can never be reached by \(approvers.subjects.count) listed subjects")
        }
        var escalateAfter: Int?
        var escalateTo: ApproverSet?
        switch (members["escalate_after"], members["escalate_to"]) {
        case (nil, nil): break
        case (let after?, let to?):
            let seconds = try after.durationSeconds()
            guard seconds >= 60 else { throw after.error("escalate_after must be at least 1m") }
            escalateAfter = seconds
            escalateTo = try ApproverSet(field: to)
        case (let after?, nil): throw after.error("escalate_after needs escalate_to: who is asked when the stage waits that long")
        case (nil, let to?): throw to.error("escalate_to needs escalate_after: how long the stage waits before it escalates")
        }
        self.init(approvers: approvers, count: count, escalateAfterSeconds: escalateAfter, escalateTo: escalateTo)
    }
}

extension ApproverSet {
    /// `{groups: [...], subjects: [...]}`, or a plain list of groups.
    init(field: YAMLField) throws(PolicyError) {
        if field.isMapping {
            let members = try field.mapping(allowed: ["groups", "subjects"])
            let subjects = try members["subjects"]?.stringList() ?? []
            if let bad = subjects.first(where: { !$0.contains(":") }), let subjectsField = members["subjects"] {
                throw subjectsField.error("approver subjects are namespaced upstream:subject (for example corp:\(bad)), got \"\(bad)\"")
            }
            self.init(groups: try members["groups"]?.stringList() ?? [], subjects: subjects)
        } else {
            self.init(groups: try field.stringList())
        }
        guard !isEmpty else { throw field.error("list at least one approver group or subject") }
    }
}

extension AutoApprovalRule {
    init(field: YAMLField) throws(PolicyError) {
        let members = try field.mapping(allowed: ["max_lifetime", "ticket", "groups", "on_call"])
        guard !members.isEmpty else { throw field.error("an auto_approve rule needs at least one of max_lifetime, ticket, groups, on_call") }
        var ticket: RegexPattern?
        if let ticketField = members["ticket"] {
            let fields = try ticketField.mapping(allowed: ["pattern"])
            guard let pattern = fields["pattern"] else { throw ticketField.error("ticket needs a pattern") }
            ticket = try pattern.regex()
        }
        self.init(maxLifetimeSeconds: try members["max_lifetime"]?.durationSeconds(), ticket: ticket,
                  groups: try members["groups"]?.stringList(),
                  onCall: try members["on_call"].map { (onCallField) throws(PolicyError) in try OnCallCondition(field: onCallField) })
    }
}

extension BreakGlassPolicy {
    init(field: YAMLField, roleMaximum: Int) throws(PolicyError) {
        let members = try field.mapping(allowed: ["max_duration", "ticket"])
        guard let durationField = members["max_duration"] else { throw field.error("break_glass needs max_duration (for example 30m)") }
        let seconds = try durationField.durationSeconds()
        guard (60...roleMaximum).contains(seconds) else {
            throw durationField.error("break_glass max_duration must be between 1m and the role's max_duration (\(DurationText.format(roleMaximum)))")
        }
        var ticketRequired = false
        if let ticket = members["ticket"] {
            let text = try ticket.string()
            guard ["required", "optional"].contains(text) else { throw ticket.error("expected required or optional, got \"\(text)\"") }
            ticketRequired = text == "required"
        }
        self.init(maxDurationSeconds: seconds, ticketRequired: ticketRequired)
    }
}

extension ExtensionPolicy {
    init(field: YAMLField) throws(PolicyError) {
        let members = try field.mapping(allowed: ["max_times", "max_total", "requires_approval"])
        let times = try members["max_times"]?.integer() ?? 1
        guard (1...10).contains(times) else { throw (members["max_times"] ?? field).error("max_times must be between 1 and 10") }
        guard let totalField = members["max_total"] else { throw field.error("extend needs max_total: the most all extensions may add") }
        let total = try totalField.durationSeconds()
        guard (60...RoleDefinition.maximumDuration).contains(total) else { throw totalField.error("max_total must be between 1m and 12h") }
        self.init(maxTimes: times, maxTotalSeconds: total, requiresApproval: try members["requires_approval"]?.bool() ?? true)
    }
}
