import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// What time does to requests and activations, run every few seconds by the maintenance
/// service of each replica (each transition is a compare-and-swap, so replicas sweeping at
/// once record each change once): pending requests expire, stages escalate, windows warn
/// before they end and then expire, and approvals waiting for a first token lapse.
extension ActivationService {
    public struct SweepCounts: Sendable, Hashable {
        public var expiredRequests = 0
        public var escalated = 0
        public var warned = 0
        public var expiredActivations = 0
    }

    /// One pass; windows warn `expiry_warning` (notifications.yaml) before they end.
    @discardableResult
    public func sweep() async throws(ActivationError) -> SweepCounts {
        var counts = SweepCounts()
        let warningSeconds = planner.value.expiryWarningSeconds
        let now = timeSource.now()
        for request in try await requests(ActivationRequestQuery(states: [.pending], dueBy: now)) {
            if try await settle(request: request.id, { (current, now) -> ActivationTransition? in
                guard current.state == .pending, current.pendingExpiresAt <= now else { return nil }
                return closing(current, as: .expired, event: "request.expired", actor: nil, comment: nil, now: now)
            }) { counts.expiredRequests += 1 }
        }
        for request in try await requests(ActivationRequestQuery(states: [.pending])) {
            if try await settle(request: request.id, { (current, now) -> ActivationTransition? in escalation(of: current, now: now) }) {
                counts.escalated += 1
            }
        }
        let warnBefore = now.addingTimeInterval(TimeInterval(warningSeconds))
        for activation in try await activations(ActivationQuery(states: [.active, .approved], dueBy: warnBefore)) {
            if try await settle(activation: activation.id, { (current, now) -> ActivationTransition? in
                guard current.state.isOpen, let deadline = current.deadline else { return nil }
                if deadline <= now {
                    return closing(current, as: .expired, event: "activation.expired", actor: nil, reason: nil, now: now)
                }
                guard current.state == .active, !current.expiryWarned else { return nil }
                var next = current.nextVersion(at: now)
                next.expiryWarned = true
                return ActivationTransition(activations: [next],
                                            notifications: notify("activation.expiring", role: next.role, activationSummary(next), at: now))
            }) {
                if try await self.activation(activation.id).state == .expired { counts.expiredActivations += 1 } else { counts.warned += 1 }
            }
        }
        return counts
    }

    /// Every page of a listing, so a sweep reaches past the first page.
    func requests(_ query: ActivationRequestQuery) async throws(ActivationError) -> [ActivationRequestRecord] {
        try await allPages(limit: query.limit) { [store] cursor in
            var page = query
            page.after = cursor
            return try await store.activationRequests(matching: page)
        } cursor: { ActivationCursor(createdAt: $0.createdAt, id: $0.id) }
    }

    func activations(_ query: ActivationQuery) async throws(ActivationError) -> [ActivationRecord] {
        try await allPages(limit: query.limit) { [store] cursor in
            var page = query
            page.after = cursor
            return try await store.activations(matching: page)
        } cursor: { ActivationCursor(createdAt: $0.createdAt, id: $0.id) }
    }

    private func allPages<Record: Sendable>(limit: Int, _ page: @escaping @Sendable (ActivationCursor?) async throws -> [Record],
                                            cursor: (Record) -> ActivationCursor) async throws(ActivationError) -> [Record] {
        var all: [Record] = []
        var after: ActivationCursor?
        while true {
            let position = after
            let next = try await read { try await page(position) }
            all += next
            guard next.count == limit, let last = next.last else { return all }
            after = cursor(last)
        }
    }

    /// The stage waiting longer than its `escalate_after`, announced once to its escalation group.
    func escalation(of request: ActivationRequestRecord, now: Date) -> ActivationTransition? {
        guard request.state == .pending, let plan = policy.value.engine.role(named: request.role)?.conditions.approval,
              let index = plan.currentStage(request.approvals.map { GivenApproval(approver: $0.approver, stage: $0.stage) }),
              !request.escalatedStages.contains(index), let after = plan.stages[index].escalateAfterSeconds,
              let targets = plan.stages[index].escalateTo,
              request.stageStartedAt.addingTimeInterval(TimeInterval(after)) <= now
        else { return nil }
        var next = request.nextVersion(at: now)
        next.escalatedStages.append(index)
        var data = summary(next, plan: plan)
        data["escalated_to"] = .array(targets.names.map(JSONValue.string))
        return ActivationTransition(request: next, events: [event("request.escalated", actor: nil, role: next.role, target: data)],
                                    notifications: notify("request.escalated", role: next.role, data, at: now))
    }

    /// Commits what `decide` makes of the current request, retrying a lost race; false when
    /// there was nothing to do (or the record kept changing: the next sweep looks again).
    func settle(request id: String, _ decide: (ActivationRequestRecord, Date) -> ActivationTransition?) async throws(ActivationError) -> Bool {
        let outcome = try await deciding(attempts: 4, read: { () async throws(ActivationError) in
            try await read { try await store.activationRequest(id: id) }
        }, decide)
        if case .committed = outcome { return true }
        return false
    }

    func settle(activation id: String, _ decide: (ActivationRecord, Date) -> ActivationTransition?) async throws(ActivationError) -> Bool {
        let outcome = try await deciding(attempts: 4, read: { () async throws(ActivationError) in
            try await read { try await store.activation(id: id) }
        }, decide)
        if case .committed = outcome { return true }
        return false
    }
}
