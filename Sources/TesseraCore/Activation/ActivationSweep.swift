import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// What time does to requests and activations, run every few seconds by the maintenance
/// service of each replica (each transition is a compare-and-swap, so replicas sweeping at
/// once record each change once): pending requests expire, stages escalate, windows warn
/// before they end and then expire, and approvals waiting for a first token lapse.
extension ActivationService {
    /// How long before its end an activation's `activation.expiring` notice goes out.
    public static let defaultExpiryWarningSeconds = 300

    public struct SweepCounts: Sendable, Hashable {
        public var expiredRequests = 0
        public var escalated = 0
        public var warned = 0
        public var expiredActivations = 0
    }

    @discardableResult
    public func sweep(warningSeconds: Int = ActivationService.defaultExpiryWarningSeconds) async throws(ActivationError) -> SweepCounts {
        var counts = SweepCounts()
        let now = timeSource.now()
        for request in try await read({ try await store.activationRequests(matching: ActivationRequestQuery(states: [.pending], deadlineBefore: now)) }) {
            if try await settle(request: request.id, { (current, now) -> ActivationTransition? in
                guard current.state == .pending, current.pendingExpiresAt <= now else { return nil }
                return closing(current, as: .expired, event: "request.expired", actor: nil, comment: nil, now: now)
            }) { counts.expiredRequests += 1 }
        }
        for request in try await read({ try await store.activationRequests(matching: ActivationRequestQuery(states: [.pending])) }) {
            if try await settle(request: request.id, { (current, now) -> ActivationTransition? in escalation(of: current, now: now) }) {
                counts.escalated += 1
            }
        }
        let warnBefore = now.addingTimeInterval(TimeInterval(warningSeconds))
        for activation in try await read({ try await store.activations(matching: ActivationQuery(states: [.active, .approved], deadlineBefore: warnBefore)) }) {
            if try await settle(activation: activation.id, { (current, now) -> ActivationTransition? in
                guard current.state.isOpen, let deadline = current.deadline else { return nil }
                if deadline <= now {
                    return closing(current, as: .expired, event: "activation.expired", actor: nil, reason: nil, now: now)
                }
                guard current.state == .active, !current.expiryWarned else { return nil }
                var next = current
                next.version += 1
                next.updatedAt = now
                next.expiryWarned = true
                return ActivationTransition(activations: [next],
                                            notifications: notify("activation.expiring", role: next.role, activationSummary(next), at: now))
            }) {
                if try await self.activation(activation.id).state == .expired { counts.expiredActivations += 1 } else { counts.warned += 1 }
            }
        }
        return counts
    }

    /// The stage waiting longer than its `escalate_after`, announced once to its escalation group.
    func escalation(of request: ActivationRequestRecord, now: Date) -> ActivationTransition? {
        guard request.state == .pending, let plan = policy.value.engine.role(named: request.role)?.conditions.approval,
              let index = plan.currentStage(request.approvals.map { GivenApproval(approver: $0.approver, stage: $0.stage) }),
              !request.escalatedStages.contains(index), let after = plan.stages[index].escalateAfterSeconds,
              let targets = plan.stages[index].escalateTo,
              request.stageStartedAt.addingTimeInterval(TimeInterval(after)) <= now
        else { return nil }
        var next = request
        next.version += 1
        next.updatedAt = now
        next.escalatedStages.append(index)
        var data = summary(next, plan: plan)
        data["escalated_to"] = .array(targets.names.map(JSONValue.string))
        return ActivationTransition(request: next, events: [event("request.escalated", actor: nil, role: next.role, target: data)],
                                    notifications: notify("request.escalated", role: next.role, data, at: now))
    }

    /// Commits what `decide` makes of the current request, retrying a lost race; false when
    /// there was nothing to do.
    func settle(request id: String, _ decide: (ActivationRequestRecord, Date) -> ActivationTransition?) async throws(ActivationError) -> Bool {
        for _ in 0..<4 {
            let now = timeSource.now()
            guard let current = try await read({ try await store.activationRequest(id: id) }), let change = decide(current, now) else { return false }
            if try await commit(change, at: now) { return true }
        }
        return false
    }

    func settle(activation id: String, _ decide: (ActivationRecord, Date) -> ActivationTransition?) async throws(ActivationError) -> Bool {
        for _ in 0..<4 {
            let now = timeSource.now()
            guard let current = try await read({ try await store.activation(id: id) }), let change = decide(current, now) else { return false }
            if try await commit(change, at: now) { return true }
        }
        return false
    }
}
