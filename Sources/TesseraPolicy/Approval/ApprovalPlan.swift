import Foundation
import TesseraText

/// Who may decide a stage: members of any of `groups`, or one of `subjects` (namespaced
/// `upstream:subject`, compared exactly).
public struct ApproverSet: Sendable, Hashable {
    public var groups: [String]
    public var subjects: [String]

    public init(groups: [String] = [], subjects: [String] = []) {
        self.groups = groups
        self.subjects = subjects
    }

    public var isEmpty: Bool { groups.isEmpty && subjects.isEmpty }

    /// Whether the person with namespaced `subject` and `groups` is in the set.
    public func admits(subject: String, groups memberOf: [String]) -> Bool {
        subjects.containsExactly(subject) || memberOf.contains { groups.containsExactly($0) }
    }

    /// `groups [sre-leads] or subjects [corp:ciso@example.com]`, for reasons and notifications.
    public var description: String {
        var parts: [String] = []
        if !groups.isEmpty { parts.append("groups \(bracketed(groups))") }
        if !subjects.isEmpty { parts.append("subjects \(bracketed(subjects))") }
        return parts.joined(separator: " or ")
    }

    /// Every group and subject, as notifications list them.
    public var names: [String] { groups + subjects }
}

/// One stage of an approval plan: `count` distinct people of `approvers` must approve; after
/// `escalateAfterSeconds` without that, members of `escalateTo` may decide too.
public struct ApprovalStage: Sendable, Hashable {
    public var approvers: ApproverSet
    public var count: Int
    public var escalateAfterSeconds: Int?
    public var escalateTo: ApproverSet?

    public init(approvers: ApproverSet, count: Int = 1, escalateAfterSeconds: Int? = nil, escalateTo: ApproverSet? = nil) {
        self.approvers = approvers
        self.count = count
        self.escalateAfterSeconds = escalateAfterSeconds
        self.escalateTo = escalateTo
    }
}

/// When an approved request's access window begins.
public enum WindowStart: String, Sendable, Hashable {
    /// At the last approval: a slow approval never eats the window.
    case approval
    /// At the first token issued under it (the approval then waits up to `pending_ttl`).
    case firstToken = "first_token"
}

/// What an approver must show to decide: the same conditions as a role's, checked on the
/// approver's own identity token at the moment of the decision.
public struct ApproverConditions: Sendable, Hashable {
    public var mfa: MFACondition?
    public var maxAuthAgeSeconds: Int?

    public init(mfa: MFACondition? = nil, maxAuthAgeSeconds: Int? = nil) {
        self.mfa = mfa
        self.maxAuthAgeSeconds = maxAuthAgeSeconds
    }
}

/// A rule under which a request is approved without anyone deciding, recorded as such. Every
/// field given must hold; a rule with none is refused when the bundle loads.
public struct AutoApprovalRule: Sendable, Hashable {
    /// The granted lifetime is at most this.
    public var maxLifetimeSeconds: Int?
    /// A ticket is given and matches.
    public var ticket: RegexPattern?
    /// The requester is in one of these groups.
    public var groups: [String]?
    /// The requester is on call (the on-call engineer needs nobody to approve).
    public var onCall: OnCallCondition?

    public init(maxLifetimeSeconds: Int? = nil, ticket: RegexPattern? = nil, groups: [String]? = nil, onCall: OnCallCondition? = nil) {
        self.maxLifetimeSeconds = maxLifetimeSeconds
        self.ticket = ticket
        self.groups = groups
        self.onCall = onCall
    }

    /// `max_lifetime 15m, ticket ^INC-[0-9]+$`.
    public var description: String {
        var parts: [String] = []
        if let seconds = maxLifetimeSeconds { parts.append("max_lifetime \(DurationText.format(seconds))") }
        if let ticket { parts.append("ticket \(ticket.pattern)") }
        if let groups { parts.append("groups \(bracketed(groups))") }
        if let onCall { parts.append(onCall.description) }
        return parts.joined(separator: ", ")
    }
}

/// A role's approval workflow (`conditions.approval`): how long a request waits, when the
/// window starts, the stages in order, what approvers must show, and the rules that approve
/// without anyone.
public struct ApprovalPlan: Sendable, Hashable {
    public static let defaultPendingSeconds = 4 * 3600
    /// Longest `pending_ttl` a plan may have.
    public static let maximumPendingSeconds = 7 * 86_400
    public static let maximumStages = 5
    public static let maximumCount = 10

    public var pendingSeconds: Int
    public var windowStarts: WindowStart
    public var stages: [ApprovalStage]
    public var approverConditions: ApproverConditions
    public var autoApprove: [AutoApprovalRule]

    public init(pendingSeconds: Int = ApprovalPlan.defaultPendingSeconds, windowStarts: WindowStart = .approval, stages: [ApprovalStage],
                approverConditions: ApproverConditions = ApproverConditions(), autoApprove: [AutoApprovalRule] = []) {
        self.pendingSeconds = pendingSeconds
        self.windowStarts = windowStarts
        self.stages = stages
        self.approverConditions = approverConditions
        self.autoApprove = autoApprove
    }

    /// The short form `{required: true, approvers: [groups...], count: N}`: one stage.
    public init(approverGroups: [String], count: Int = 1) {
        self.init(stages: [ApprovalStage(approvers: ApproverSet(groups: approverGroups), count: count)])
    }

    /// `1 approver from groups [sre-leads], then 2 approvers from groups [security]`.
    public var description: String {
        stages.map { stage in
            "\(stage.count == 1 ? "1 approver" : "\(stage.count) approvers") from \(stage.approvers.description)"
        }.joined(separator: ", then ")
    }

    /// Whether the person may approve or deny some stage of the plan (directly or as an
    /// escalation target), whatever the timing.
    public func mayDecide(subject: String, groups: [String]) -> Bool {
        stages.contains { stage in
            stage.approvers.admits(subject: subject, groups: groups) || (stage.escalateTo?.admits(subject: subject, groups: groups) ?? false)
        }
    }
}

/// `break_glass: {max_duration: 30m, ticket: required}`: the role may be activated at once,
/// without approval, when every other condition holds and a justification is given; every
/// use is announced and must be reviewed afterwards.
public struct BreakGlassPolicy: Sendable, Hashable {
    public var maxDurationSeconds: Int
    public var ticketRequired: Bool

    public init(maxDurationSeconds: Int, ticketRequired: Bool = false) {
        self.maxDurationSeconds = maxDurationSeconds
        self.ticketRequired = ticketRequired
    }
}

/// `extend: {max_times: 2, max_total: 4h, requires_approval: true}`: how an active window may
/// be made longer by its holder.
public struct ExtensionPolicy: Sendable, Hashable {
    public var maxTimes: Int
    /// The most all extensions together may add.
    public var maxTotalSeconds: Int
    /// An extension is a new request against the role's plan; without, it is granted at once.
    public var requiresApproval: Bool

    public init(maxTimes: Int, maxTotalSeconds: Int, requiresApproval: Bool = true) {
        self.maxTimes = maxTimes
        self.maxTotalSeconds = maxTotalSeconds
        self.requiresApproval = requiresApproval
    }

    /// Why an extension of `seconds` is refused after `times` extensions adding `total`, or nil.
    public func refusal(seconds: Int, times: Int, total: Int) -> String? {
        if times >= maxTimes { return "the activation has been extended \(times) times, the most its role allows" }
        if total + seconds > maxTotalSeconds {
            return "extensions may add at most \(DurationText.format(maxTotalSeconds)) in all; "
                + "\(DurationText.format(max(maxTotalSeconds - total, 0))) remain"
        }
        return nil
    }
}
