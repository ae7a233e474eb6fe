import Foundation
import TesseraText

/// An approval already given on a request, as the plan's rules need to see it.
public struct GivenApproval: Sendable, Hashable {
    /// Namespaced subject of the approver.
    public var approver: String
    /// The stage it counted for, from 0.
    public var stage: Int

    public init(approver: String, stage: Int) {
        self.approver = approver
        self.stage = stage
    }
}

/// What the plan says about one person's approval of a pending request.
public enum ApprovalVerdict: Sendable, Hashable {
    /// It counts for `stage`; `completes` when it is the last one the plan needed.
    case counts(stage: Int, viaEscalation: Bool, completes: Bool)
    case refused(String)
}

/// The rules of approving, as pure functions of values (STYLE.md): the requester never
/// approves their own request, one person counts once across all stages, stages are satisfied
/// in order, an escalation target may decide only once the stage has waited its
/// `escalate_after`, and every approver meets `approver_conditions` at the moment they decide.
extension ApprovalPlan {
    /// The first stage the approvals do not yet satisfy; nil when every stage is satisfied.
    public func currentStage(_ approvals: [GivenApproval]) -> Int? {
        stages.indices.first { index in approvals.filter { $0.stage == index }.count < stages[index].count }
    }

    /// Judges `approver`'s approval of a request by `requester` (namespaced) that already has
    /// `approvals`, whose current stage began at `stageStartedAt`.
    public func judge(approver: Identity, requester: String, approvals: [GivenApproval], stageStartedAt: Date,
                      now: Date) -> ApprovalVerdict {
        let subject = approver.namespacedSubject
        if subject.isExactly(requester) { return .refused("\(subject) asked for this access and cannot approve it") }
        if let earlier = approvals.first(where: { $0.approver.isExactly(subject) }) {
            return .refused("\(subject) has already approved (stage \(earlier.stage + 1)); one person counts once")
        }
        guard let index = currentStage(approvals) else { return .refused("every stage is already approved") }
        let stage = stages[index]
        let viaEscalation: Bool
        if stage.approvers.admits(subject: subject, groups: approver.groups) {
            viaEscalation = false
        } else if let targets = stage.escalateTo, targets.admits(subject: subject, groups: approver.groups),
                  let after = stage.escalateAfterSeconds {
            let escalatesAt = stageStartedAt.addingTimeInterval(TimeInterval(after))
            guard now >= escalatesAt else {
                return .refused("\(subject) may decide stage \(index + 1) only once it escalates, "
                                + "\(DurationText.format(Int(escalatesAt.timeIntervalSince(now).rounded(.up)))) from now")
            }
            viaEscalation = true
        } else {
            return .refused("\(subject) is not an approver of stage \(index + 1) of \(stages.count): it needs \(stage.approvers.description)")
        }
        if let refusal = conditionRefusal(approver, now: now) { return .refused(refusal) }
        let given = approvals.filter { $0.stage == index }.count + 1
        return .counts(stage: index, viaEscalation: viaEscalation, completes: given >= stage.count && index == stages.count - 1)
    }

    /// Why `approver` may not deny the request, or nil: a denial ends the request, so anyone the
    /// plan names for any stage may deny, provided they meet the approver conditions; never the
    /// requester (who cancels instead).
    public func denialRefusal(approver: Identity, requester: String, now: Date) -> String? {
        let subject = approver.namespacedSubject
        if subject.isExactly(requester) { return "\(subject) asked for this access; cancel the request instead of denying it" }
        guard mayDecide(subject: subject, groups: approver.groups) else {
            return "\(subject) is not an approver of this request: it needs \(stages.map(\.approvers.description).joined(separator: "; or "))"
        }
        return conditionRefusal(approver, now: now)
    }

    /// Why `approver` fails `approver_conditions` now, or nil.
    public func conditionRefusal(_ approver: Identity, now: Date) -> String? {
        let context = DecisionContext(clientID: "", now: now)
        let request = AccessRequest(role: "")
        var rules: [any AccessRule] = []
        if let mfa = approverConditions.mfa { rules.append(MFARule(condition: mfa)) }
        if let age = approverConditions.maxAuthAgeSeconds { rules.append(AuthAgeRule(maximumSeconds: age)) }
        let failures = rules.map { $0.evaluate(identity: approver, request: request, context: context) }.filter(\.isFailed)
        guard !failures.isEmpty else { return nil }
        return "approver conditions not met: " + failures.map(\.reason).joined(separator: "; ")
    }

    /// The first auto-approval rule the request meets, with its number (from 1), what the
    /// on-call part of it saw (who is on call until when), and, with `cap_to_shift`, when the
    /// approval stops holding; or nil.
    public func autoApproval(identity: Identity, request: AccessRequest, lifetimeSeconds: Int,
                             context: DecisionContext) -> (number: Int, rule: AutoApprovalRule, onCall: (@Sendable () -> String)?, endsAt: Date?)? {
        for (index, rule) in autoApprove.enumerated() {
            if let maximum = rule.maxLifetimeSeconds, lifetimeSeconds > maximum { continue }
            if let pattern = rule.ticket {
                guard let ticket = request.ticket, pattern.matches(ticket) else { continue }
            }
            if let groups = rule.groups, !identity.groups.contains(where: { groups.containsExactly($0) }) { continue }
            var endsAt: Date?
            var seen: (@Sendable () -> String)?
            if let onCall = rule.onCall {
                let answer = onCall.evaluate(identity: identity, state: context.onCall, now: context.now)
                guard answer.met else { continue }
                (seen, endsAt) = (answer.reason, answer.endsAt)
            }
            return (index + 1, rule, seen, endsAt)
        }
        return nil
    }
}

extension Identity {
    /// `upstream:subject`, how Tessera names a person everywhere (tokens, requests, approvers).
    public var namespacedSubject: String { "\(upstream):\(subject)" }
}
