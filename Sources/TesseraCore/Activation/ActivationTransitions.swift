import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore
import TesseraText

/// Who asked, for a new request: what the exchange verified and decided.
public struct RequestOrigin: Sendable {
    public let identity: Identity
    public let request: AccessRequest
    public let lifetimeSeconds: Int
    public let clientID: String
    public let clientAddress: String?
    /// The decision trace, a JSON array of `{rule, status, reason}`.
    public let rules: JSONValue

    public init(identity: Identity, request: AccessRequest, lifetimeSeconds: Int, clientID: String, clientAddress: String?, rules: JSONValue) {
        self.identity = identity
        self.request = request
        self.lifetimeSeconds = lifetimeSeconds
        self.clientID = clientID
        self.clientAddress = clientAddress
        self.rules = rules
    }
}

extension ActivationService {
    /// The requester's pending request for the role, or a new one (`request.created`, the first
    /// stage's approvers notified). Asking again never pages anyone twice.
    public func requestApproval(_ origin: RequestOrigin, plan: ApprovalPlan) async throws(ActivationError) -> ActivationRequestRecord {
        let requester = origin.identity.namespacedSubject
        let role = origin.request.role
        for _ in 0..<4 {
            if let existing = try await pendingRequest(requester: requester, role: role), existing.pendingExpiresAt > timeSource.now() {
                return existing
            }
            let now = timeSource.now()
            var writer = JSONWriter(capacity: 512)
            writer.value(origin.rules)
            let record = ActivationRequestRecord(
                id: newID(prefix: "req_"), requester: requester, upstream: origin.identity.upstream, groups: origin.identity.groups,
                role: role, lifetimeSeconds: origin.lifetimeSeconds, justification: origin.request.justification,
                ticket: origin.request.ticket, clientID: origin.clientID, clientAddress: origin.clientAddress,
                decisionRules: String(decoding: writer.bytes, as: UTF8.self), stageStartedAt: now, createdAt: now,
                pendingExpiresAt: now.addingTimeInterval(TimeInterval(plan.pendingSeconds)), updatedAt: now)
            var target = summary(record, plan: plan)
            target["rules"] = origin.rules
            target["client_id"] = .string(origin.clientID)
            target["client_address"] = origin.clientAddress.map(JSONValue.string)
            let change = ActivationTransition(request: record, events: [event("request.created", actor: requester, role: role, target: target)],
                                              notifications: notify("request.created", role: role, summary(record, plan: plan), at: now))
            if try await commit(change, at: now) { return record }
        }
        throw .conflict("the request could not be created; try again")
    }

    /// Records `actor`'s approval. The last one the plan needs approves the request and opens
    /// its activation (window from now, or from the first token).
    public func approve(_ id: String, by actor: ActivationActor, comment: String?) async throws(ActivationError) -> ActivationRequestRecord {
        let comment = try Self.comment(comment)
        let change = try await transition(request: id) { (current, now) throws(ActivationError) -> ActivationTransition in
            guard let identity = actor.identity else {
                throw .forbidden("admins may deny, cancel or end, but an approval needs a person: sign in with an identity token")
            }
            try Self.expectPending(current, now: now)
            let plan = try plan(ofRole: current.role)
            let given = current.approvals.map { GivenApproval(approver: $0.approver, stage: $0.stage) }
            switch plan.judge(approver: identity, requester: current.requester, approvals: given, stageStartedAt: current.stageStartedAt, now: now) {
            case .refused(let reason):
                throw .forbidden(reason)
            case .counts(let stage, let viaEscalation, let completes):
                var next = current.nextVersion(at: now)
                next.approvals.append(RecordedApproval(approver: actor.subject, stage: stage, comment: comment, at: now, viaEscalation: viaEscalation))
                var target = summary(next, plan: plan)
                target["stage"] = .number(Double(stage + 1))
                target["comment"] = comment.map(JSONValue.string)
                target["via_escalation"] = .bool(viaEscalation)
                var change = ActivationTransition(request: next)
                if completes, let extended = current.extends {
                    next.state = .approved
                    next.activationID = extended
                    let activation = try await activation(extended)
                    guard activation.state == .active, let ends = activation.endsAt, ends > now else {
                        throw .conflict("activation \(extended) is no longer active, so it cannot be extended")
                    }
                    change = self.extended(activation, by: next.lifetimeSeconds, actor: actor.subject, requestID: next.id, now: now)
                    change.request = next
                    target["activation_id"] = .string(extended)
                    change.events.insert(event("request.approved", actor: actor.subject, role: next.role, target: target), at: 0)
                } else if completes {
                    next.state = .approved
                    let activation = opened(for: next, plan: plan, now: now)
                    next.activationID = activation.id
                    change.request = next
                    change.activations = [activation]
                    target["activation_id"] = .string(activation.id)
                    change.events = [event("request.approved", actor: actor.subject, role: next.role, target: target)]
                    change.notifications = notify("request.approved", role: next.role, summary(next, plan: plan).merging(["actor": .string(actor.subject)]) { $1 }, at: now)
                    if activation.state == .active { started(activation, into: &change, now: now) }
                } else {
                    if plan.currentStage(next.approvals.map { GivenApproval(approver: $0.approver, stage: $0.stage) }) != stage {
                        next.stageStartedAt = now  // the next stage waits from now (escalation timing)
                        change.request = next
                        change.notifications = notify("request.created", role: next.role, summary(next, plan: plan), at: now)
                    }
                    change.events = [event("request.approval_recorded", actor: actor.subject, role: next.role, target: target)]
                }
                return change
            }
        }
        return change.request!
    }

    /// Ends the request: any approver of its plan (meeting the approver conditions) or an admin.
    public func deny(_ id: String, by actor: ActivationActor, comment: String?) async throws(ActivationError) -> ActivationRequestRecord {
        let comment = try Self.comment(comment)
        let change = try await transition(request: id) { (current, now) throws(ActivationError) -> ActivationTransition in
            try Self.expectPending(current, now: now)
            if let identity = actor.identity {
                let plan = try plan(ofRole: current.role)
                if let refusal = plan.denialRefusal(approver: identity, requester: current.requester, now: now) { throw .forbidden(refusal) }
            }
            return closing(current, as: .denied, event: "request.denied", actor: actor.subject, comment: comment, now: now)
        }
        return change.request!
    }

    /// Withdraws the request: its requester or an admin.
    public func cancel(_ id: String, by actor: ActivationActor, comment: String?) async throws(ActivationError) -> ActivationRequestRecord {
        let comment = try Self.comment(comment)
        let change = try await transition(request: id) { (current, now) throws(ActivationError) -> ActivationTransition in
            guard actor.isAdmin || actor.subject.isExactly(current.requester) else {
                throw .forbidden("only the requester (\(current.requester)) or an admin may cancel this request")
            }
            try Self.expectPending(current, now: now)
            return closing(current, as: .cancelled, event: "request.cancelled", actor: actor.subject, comment: comment, now: now)
        }
        return change.request!
    }

    func closing(_ current: ActivationRequestRecord, as state: ActivationRequestState, event name: String, actor: String?, comment: String?,
                 now: Date) -> ActivationTransition {
        var next = current.nextVersion(at: now)
        next.state = state
        next.closedBy = actor
        next.closingComment = comment
        var target = summary(next, plan: nil)
        target["comment"] = comment.map(JSONValue.string)
        let data = summary(next, plan: nil).merging(["actor": actor.map(JSONValue.string) ?? .null, "comment": comment.map(JSONValue.string) ?? .null]) { $1 }
        return ActivationTransition(request: next, events: [event(name, actor: actor, role: next.role, target: target)],
                                    notifications: notify(name, role: next.role, data, at: now))
    }

    /// The activation an approved request opens: running from now (`window_starts: approval`)
    /// or waiting for its first token until the request's pending time would have run out.
    func opened(for request: ActivationRequestRecord, plan: ApprovalPlan, now: Date) -> ActivationRecord {
        let waits = plan.windowStarts == .firstToken
        return ActivationRecord(
            id: newID(prefix: "act_"), state: waits ? .approved : .active, holder: request.requester, upstream: request.upstream,
            role: request.role, clientID: request.clientID, requestID: request.id, windowSeconds: request.lifetimeSeconds,
            startsAt: waits ? nil : now, endsAt: waits ? nil : now.addingTimeInterval(TimeInterval(request.lifetimeSeconds)),
            startBy: waits ? now.addingTimeInterval(TimeInterval(plan.pendingSeconds)) : nil,
            justification: request.justification, ticket: request.ticket, createdAt: now, updatedAt: now)
    }

    /// Adds the `activation.started` entry and notice of `activation` to `change`.
    func started(_ activation: ActivationRecord, into change: inout ActivationTransition, now: Date) {
        var target = activationSummary(activation)
        target["window_seconds"] = .number(Double(activation.windowSeconds))
        change.events.append(event("activation.started", actor: activation.holder, role: activation.role, target: target))
        change.notifications += notify(activation.breakGlass ? "break_glass.used" : "activation.started", role: activation.role,
                                       breakGlass: activation.breakGlass, activationSummary(activation), at: now)
    }

    /// Ends an open activation early and revokes every token issued under it: its holder, an
    /// approver of its role, or an admin.
    public func end(_ id: String, by actor: ActivationActor, reason: String?) async throws(ActivationError) -> ActivationRecord {
        let reason = try Self.comment(reason)
        let change = try await transition(activation: id) { (current, now) throws(ActivationError) -> ActivationTransition in
            guard maySee(current, actor: actor) else {
                throw .forbidden("only the holder (\(current.holder)), an approver of role \(current.role) or an admin may end this activation")
            }
            guard current.state.isOpen else { throw .conflict("activation \(id) is already \(current.state.rawValue)") }
            let revoked = actor.subject.isExactly(current.holder) ? ActivationState.ended : .revoked
            return closing(current, as: revoked, event: revoked == .ended ? "activation.ended" : "activation.revoked", actor: actor.subject,
                           reason: reason, now: now)
        }
        return change.activations[0]
    }

    func closing(_ current: ActivationRecord, as state: ActivationState, event name: String, actor: String?, reason: String?,
                 now: Date) -> ActivationTransition {
        var next = current.nextVersion(at: now)
        next.state = state
        next.endedAt = now
        next.endedBy = actor
        next.endReason = reason
        var target = activationSummary(next)
        target["reason"] = reason.map(JSONValue.string)
        return ActivationTransition(activations: [next], events: [event(name, actor: actor, role: next.role, target: target)],
                                    notifications: notify(name, role: next.role, activationSummary(next), at: now), revokeTokensOf: [next.id])
    }

    /// Acknowledges a break-glass use: an approver of its role or an admin, with a comment.
    public func review(_ id: String, by actor: ActivationActor, comment: String?) async throws(ActivationError) -> ActivationRecord {
        guard let comment = try Self.comment(comment) else { throw .invalid("a review needs a comment saying what was checked") }
        let change = try await transition(activation: id) { (current, now) throws(ActivationError) -> ActivationTransition in
            guard current.awaitsReview else {
                throw .conflict(current.review == nil ? "activation \(id) was not a break-glass use" : "activation \(id) was already reviewed")
            }
            guard actor.isAdmin || (actor.identity.map { isApprover($0, ofRole: current.role) } ?? false) else {
                throw .forbidden("only an approver of role \(current.role) or an admin may review this break-glass use")
            }
            guard !actor.subject.isExactly(current.holder) else { throw .forbidden("\(actor.subject) used break-glass and cannot review it") }
            var next = current.nextVersion(at: now)
            next.review = ActivationReview(reviewer: actor.subject, comment: comment, at: now)
            var target = activationSummary(next)
            target["comment"] = .string(comment)
            return ActivationTransition(activations: [next], events: [event("request.reviewed", actor: actor.subject, role: next.role, target: target)],
                                        notifications: notify("request.reviewed", role: next.role, activationSummary(next), at: now))
        }
        return change.activations[0]
    }

    /// Extends an active window by `seconds` within the role's `extend` limits. Without
    /// `requires_approval` it is granted at once; with it, the extension becomes a new request
    /// against the role's plan, whose approval adds the time.
    public func extend(_ id: String, by actor: ActivationActor, seconds: Int, justification: String?) async throws(ActivationError)
        -> (activation: ActivationRecord, request: ActivationRequestRecord?) {
        guard seconds > 0 else { throw .invalid("extend by a positive duration, such as 30m") }
        let reason = try Self.comment(justification)
        let current = try await activation(id)
        guard actor.subject.isExactly(current.holder) else { throw .forbidden("only the holder (\(current.holder)) may extend this activation") }
        guard let rules = policy.value.engine.role(named: current.role)?.extensionPolicy else {
            throw .forbidden("role \(current.role) does not allow extensions")
        }
        if let refusal = rules.refusal(seconds: seconds, times: current.extensions, total: current.extendedSeconds) { throw .forbidden(refusal) }
        if rules.requiresApproval, let plan = policy.value.engine.role(named: current.role)?.conditions.approval, let identity = actor.identity {
            let origin = RequestOrigin(identity: identity, request: AccessRequest(role: current.role, justification: reason ?? current.justification,
                                                                                 ticket: current.ticket),
                                       lifetimeSeconds: seconds, clientID: current.clientID, clientAddress: nil, rules: .array([]))
            let request = try await requestExtension(origin, of: current, plan: plan)
            return (current, request)
        }
        let change = try await transition(activation: id) { (current, now) throws(ActivationError) -> ActivationTransition in
            guard current.state == .active, let ends = current.endsAt, ends > now else { throw .conflict("activation \(id) is not active") }
            if let refusal = rules.refusal(seconds: seconds, times: current.extensions, total: current.extendedSeconds) { throw .forbidden(refusal) }
            return extended(current, by: seconds, actor: actor.subject, requestID: nil, now: now)
        }
        return (change.activations[0], nil)
    }

    func extended(_ current: ActivationRecord, by seconds: Int, actor: String, requestID: String?, now: Date) -> ActivationTransition {
        var next = current.nextVersion(at: now)
        next.extensions += 1
        next.extendedSeconds += seconds
        next.windowSeconds += seconds
        next.endsAt = current.endsAt?.addingTimeInterval(TimeInterval(seconds))
        next.expiryWarned = false
        var target = activationSummary(next)
        target["added_seconds"] = .number(Double(seconds))
        target["extension_request_id"] = requestID.map(JSONValue.string)
        return ActivationTransition(activations: [next], events: [event("activation.extended", actor: actor, role: next.role, target: target)],
                                    notifications: notify("activation.extended", role: next.role, activationSummary(next), at: now))
    }

    /// An extension request: a pending request marked with the activation it extends.
    func requestExtension(_ origin: RequestOrigin, of activation: ActivationRecord, plan: ApprovalPlan) async throws(ActivationError)
        -> ActivationRequestRecord {
        let pending = try await read {
            try await store.activationRequests(matching: ActivationRequestQuery(states: [.pending], requester: activation.holder, roles: [activation.role]))
        }
        if let existing = pending.last(where: { $0.extends == activation.id }) { return existing }
        let now = timeSource.now()
        var record = ActivationRequestRecord(
            id: newID(prefix: "req_"), requester: activation.holder, upstream: activation.upstream, groups: origin.identity.groups,
            role: activation.role, lifetimeSeconds: origin.lifetimeSeconds, justification: origin.request.justification,
            ticket: origin.request.ticket, clientID: activation.clientID, clientAddress: nil, decisionRules: "[]", stageStartedAt: now,
            createdAt: now, pendingExpiresAt: now.addingTimeInterval(TimeInterval(plan.pendingSeconds)), updatedAt: now)
        record.extends = activation.id
        var target = summary(record, plan: plan)
        target["extends"] = .string(activation.id)
        let change = ActivationTransition(request: record, events: [event("request.created", actor: record.requester, role: record.role, target: target)],
                                          notifications: notify("request.created", role: record.role, target, at: now))
        guard try await commit(change, at: now) else { throw .conflict("the extension request could not be created; try again") }
        return record
    }

    static func expectPending(_ request: ActivationRequestRecord, now: Date) throws(ActivationError) {
        guard request.state == .pending else { throw .conflict("request \(request.id) is already \(request.state.rawValue)") }
        guard request.pendingExpiresAt > now else { throw .conflict("request \(request.id) has expired") }
    }

    /// Comments and reasons: trimmed, bounded, no control characters (as justifications).
    static func comment(_ text: String?) throws(ActivationError) -> String? {
        do {
            return try RequestText.comment(text)
        } catch {
            throw .invalid(error.message)
        }
    }
}
