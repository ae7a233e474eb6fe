import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// Requests and activations as the HTTP API answers them (snake_case, RFC 3339 times).
public enum ActivationJSON {
    public static func request(_ record: ActivationRequestRecord, plan: ApprovalPlan?, uri: String) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(record.id), "state": .string(record.state.rawValue), "requester": .string(record.requester),
            "role": .string(record.role), "lifetime_seconds": .number(Double(record.lifetimeSeconds)),
            "client_id": .string(record.clientID), "created_at": .string(rfc3339(record.createdAt)),
            "expires_at": .string(rfc3339(record.pendingExpiresAt)), "updated_at": .string(rfc3339(record.updatedAt)),
            "request_uri": .string(uri),
            "approvals": .array(record.approvals.map { approval in
                var given: [String: JSONValue] = ["approver": .string(approval.approver), "stage": .number(Double(approval.stage + 1)),
                                                  "at": .string(rfc3339(approval.at))]
                given["comment"] = approval.comment.map(JSONValue.string)
                if approval.viaEscalation { given["via_escalation"] = .bool(true) }
                return .object(given)
            }),
        ]
        object["justification"] = record.justification.map(JSONValue.string)
        object["ticket"] = record.ticket.map(JSONValue.string)
        object["closed_by"] = record.closedBy.map(JSONValue.string)
        object["comment"] = record.closingComment.map(JSONValue.string)
        object["activation_id"] = record.activationID.map(JSONValue.string)
        object["extends"] = record.extends.map(JSONValue.string)
        if let plan { object["stages"] = stages(plan, record: record) }
        return .object(object)
    }

    /// Each stage: who may approve, how many, who has, and whether it is the one waiting.
    static func stages(_ plan: ApprovalPlan, record: ActivationRequestRecord) -> JSONValue {
        let current = record.state == .pending ? plan.currentStage(record.approvals.map { GivenApproval(approver: $0.approver, stage: $0.stage) }) : nil
        return .array(plan.stages.enumerated().map { index, stage in
            var object: [String: JSONValue] = [
                "stage": .number(Double(index + 1)), "count": .number(Double(stage.count)),
                "approvers": .object(["groups": .array(stage.approvers.groups.map(JSONValue.string)),
                                      "subjects": .array(stage.approvers.subjects.map(JSONValue.string))]),
                "approved_by": .array(record.approvals.filter { $0.stage == index }.map { .string($0.approver) }),
                "state": .string(index == current ? "waiting" : (current.map { index > $0 } ?? (record.state != .approved)) ? "not_started" : "approved"),
            ]
            if let after = stage.escalateAfterSeconds, let targets = stage.escalateTo {
                object["escalate_after_seconds"] = .number(Double(after))
                object["escalate_to"] = .array(targets.names.map(JSONValue.string))
            }
            return .object(object)
        })
    }

    /// The members of a `403 approval_required` besides `error` and `error_description`.
    public static func approvalRequired(_ record: ActivationRequestRecord, plan: ApprovalPlan?, uri: String) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "request_id": .string(record.id), "request_uri": .string(uri), "expires_at": .string(rfc3339(record.pendingExpiresAt)),
            "state": .string(record.state.rawValue),
        ]
        if let plan { fields["stages"] = stages(plan, record: record) }
        return fields
    }

    public static func activation(_ record: ActivationRecord) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(record.id), "state": .string(record.state.rawValue), "holder": .string(record.holder), "role": .string(record.role),
            "client_id": .string(record.clientID), "window_seconds": .number(Double(record.windowSeconds)),
            "break_glass": .bool(record.breakGlass), "extensions": .number(Double(record.extensions)),
            "tokens": .number(Double(record.tokens)), "created_at": .string(rfc3339(record.createdAt)),
        ]
        object["request_id"] = record.requestID.map(JSONValue.string)
        object["starts_at"] = record.startsAt.map { .string(rfc3339($0)) }
        object["ends_at"] = record.endsAt.map { .string(rfc3339($0)) }
        object["start_by"] = record.startBy.map { .string(rfc3339($0)) }
        object["ended_at"] = record.endedAt.map { .string(rfc3339($0)) }
        object["ended_by"] = record.endedBy.map(JSONValue.string)
        object["end_reason"] = record.endReason.map(JSONValue.string)
        object["justification"] = record.justification.map(JSONValue.string)
        object["ticket"] = record.ticket.map(JSONValue.string)
        if let review = record.review {
            var reviewed: [String: JSONValue] = ["state": .string(review.isDone ? "reviewed" : "awaiting_review")]
            reviewed["reviewer"] = review.reviewer.map(JSONValue.string)
            reviewed["comment"] = review.comment.map(JSONValue.string)
            reviewed["at"] = review.at.map { .string(rfc3339($0)) }
            object["review"] = .object(reviewed)
        }
        return .object(object)
    }
}
