import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore
import TesseraText

/// Someone acting on a request or activation: a person (verified identity token) or an admin.
public struct ActivationActor: Sendable, Hashable {
    public let subject: String
    /// The person's identity; nil for an admin token.
    public let identity: Identity?
    public var isAdmin: Bool { identity == nil }

    public init(identity: Identity) {
        self.subject = identity.namespacedSubject
        self.identity = identity
    }

    public init(adminSubject: String) {
        self.subject = adminSubject
        self.identity = nil
    }
}

/// What one transition writes: the new versions, its audit events and its notifications.
struct ActivationTransition: Sendable {
    var request: ActivationRequestRecord?
    var activations: [ActivationRecord] = []
    var events: [AuditEvent] = []
    var notifications: [OutboxNotification] = []
    var revokeTokensOf: [String] = []
}

/// Carries out the approval workflow (DESIGN.md "Activation lifecycle"): the policy decides
/// (`ApprovalPlan`), this turns the decision into new record versions with their audit entries
/// and notifications, and the store commits them as one compare-and-swap. A transition that
/// loses a race is decided again on what won, so the loser gets a clear answer.
public struct ActivationService: Sendable {
    let store: any TesseraStorage
    let policy: CurrentValue<AccessPolicy>
    let planner: CurrentValue<any NotificationPlanner>
    let timeSource: any TimeSource
    let random: any RandomSource
    public let waiters: ActivationWaiters
    /// Where requests are read (`request_uri`), from the issuer's URL.
    let requestsURL: String
    /// Called after notifications were committed, so delivery starts at once.
    let wakeSender: @Sendable () -> Void
    /// How long a request waits for a store read or commit before it is answered 503.
    let storeTimeout: Duration

    public init(store: any TesseraStorage, policy: CurrentValue<AccessPolicy>, planner: CurrentValue<any NotificationPlanner>,
                timeSource: any TimeSource, random: any RandomSource = BufferedSecureRandom(), waiters: ActivationWaiters = ActivationWaiters(),
                issuer: String, storeTimeout: Duration = IssuerConfiguration.defaultStoreTimeout, wakeSender: @escaping @Sendable () -> Void = {}) {
        self.storeTimeout = storeTimeout
        self.store = store
        self.policy = policy
        self.planner = planner
        self.timeSource = timeSource
        self.random = random
        self.waiters = waiters
        self.requestsURL = issuer.hasSuffix("/") ? issuer + "requests" : issuer + "/requests"
        self.wakeSender = wakeSender
    }

    public func newID(prefix: String) -> String { prefix + Base64URL.encode(random.bytes(count: 16)) }

    public func requestURI(_ id: String) -> String { "\(requestsURL)/\(id)" }

    // MARK: Reading

    public func request(_ id: String) async throws(ActivationError) -> ActivationRequestRecord {
        guard let record = try await read({ try await store.activationRequest(id: id) }) else {
            throw .notFound("no request has the id \(displayed(id))")
        }
        return record
    }

    public func activation(_ id: String) async throws(ActivationError) -> ActivationRecord {
        guard let record = try await read({ try await store.activation(id: id) }) else {
            throw .notFound("no activation has the id \(displayed(id))")
        }
        return record
    }

    /// The holder's open activation of `role` whose window has not ended, if any.
    public func openActivation(holder: String, role: String, now: Date) async throws(ActivationError) -> ActivationRecord? {
        let open = try await read { try await store.activations(matching: ActivationQuery(states: [.approved, .active], holder: holder, roles: [role])) }
        return open.last { record in (record.deadline.map { $0 > now } ?? false) }
    }

    /// The requester's pending request for `role`, if any.
    public func pendingRequest(requester: String, role: String) async throws(ActivationError) -> ActivationRequestRecord? {
        try await read { try await store.activationRequests(matching: ActivationRequestQuery(states: [.pending], requester: requester, roles: [role])) }.last
    }

    func read<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(ActivationError) -> T {
        do {
            return try await StoreDeadline.run(storeTimeout, "an activation read", body)
        } catch {
            throw .unavailable("the store cannot be read: \(error)")
        }
    }

    /// Whether `actor` may see `request`: the requester, an approver of its role, an admin.
    public func maySee(_ request: ActivationRequestRecord, actor: ActivationActor) -> Bool {
        if actor.isAdmin || actor.subject.isExactly(request.requester) { return true }
        guard let identity = actor.identity, let plan = policy.value.engine.role(named: request.role)?.conditions.approval else { return false }
        return plan.mayDecide(subject: identity.namespacedSubject, groups: identity.groups)
    }

    /// Whether `actor` may see or end `activation`: the holder, an approver of its role, an admin.
    public func maySee(_ activation: ActivationRecord, actor: ActivationActor) -> Bool {
        if actor.isAdmin || actor.subject.isExactly(activation.holder) { return true }
        guard let identity = actor.identity else { return false }
        return isApprover(identity, ofRole: activation.role)
    }

    func isApprover(_ identity: Identity, ofRole role: String) -> Bool {
        guard let plan = policy.value.engine.role(named: role)?.conditions.approval else { return false }
        return plan.mayDecide(subject: identity.namespacedSubject, groups: identity.groups)
    }

    /// The roles whose plans name `identity` as an approver.
    public func rolesApprovable(by identity: Identity) -> [String] {
        let engine = policy.value.engine
        return engine.roleNames.filter { name in
            engine.role(named: name)?.conditions.approval?.mayDecide(subject: identity.namespacedSubject, groups: identity.groups) ?? false
        }
    }

    // MARK: Committing

    /// Reads the request, lets `decide` make the transition, commits it; on a lost race, reads
    /// again and decides again (the second approver then sees the first one's result).
    func transition(request id: String, _ decide: (ActivationRequestRecord, Date) async throws(ActivationError) -> ActivationTransition)
        async throws(ActivationError) -> ActivationTransition {
        let outcome = try await deciding(attempts: 8, read: { () async throws(ActivationError) in try await request(id) }, decide)
        guard case .committed(let change) = outcome else { throw .conflict("request \(id) kept changing while this decision was made; try again") }
        return change
    }

    /// The same for an activation.
    func transition(activation id: String, _ decide: (ActivationRecord, Date) async throws(ActivationError) -> ActivationTransition)
        async throws(ActivationError) -> ActivationTransition {
        let outcome = try await deciding(attempts: 8, read: { () async throws(ActivationError) in try await activation(id) }, decide)
        guard case .committed(let change) = outcome else { throw .conflict("activation \(id) kept changing while this decision was made; try again") }
        return change
    }

    enum DecisionOutcome {
        case committed(ActivationTransition)
        /// The record is gone, or `decide` found nothing to do.
        case unchanged
        /// Every attempt lost its race.
        case keptChanging
    }

    /// The loop under every transition: read the current version, decide at the current time,
    /// commit as a compare-and-swap, and on a lost race start again from what won.
    func deciding<Record>(attempts: Int, read: () async throws(ActivationError) -> Record?,
                          _ decide: (Record, Date) async throws(ActivationError) -> ActivationTransition?) async throws(ActivationError)
        -> DecisionOutcome {
        for _ in 0..<attempts {
            guard let current = try await read() else { return .unchanged }
            let now = timeSource.now()
            guard let change = try await decide(current, now) else { return .unchanged }
            if try await commit(change, at: now) { return .committed(change) }
        }
        return .keptChanging
    }

    /// False when a version moved (a lost race): nothing was written.
    func commit(_ transition: ActivationTransition, at now: Date, extra: [AuditChain.Prepared] = []) async throws(ActivationError) -> Bool {
        let prepared = transition.events.map { AuditChain.Prepared($0) } + extra
        let change = ActivationChange(requests: transition.request.map { [$0] } ?? [], activations: transition.activations,
                                      notifications: transition.notifications, revokeTokensOf: transition.revokeTokensOf, time: now)
        let written: [SealedAuditEntry]?
        do {
            written = try await StoreDeadline.run(storeTimeout, "an activation change") { [store] in
                try await store.commit(change) { head in AuditChain.seal(prepared, after: head, time: now) }
            }
        } catch let error as StoreTimeout {
            // The commit is one transaction: it lands whole or not at all, perhaps after this answer.
            throw .unavailable("\(error); the change may still be recorded, so read it again before retrying")
        } catch {
            throw .unavailable("the change could not be recorded, so it was not made: \(error)")
        }
        guard written != nil else { return false }
        if let request = transition.request { await waiters.changed(request.id, request: request) }
        for activation in transition.activations { await waiters.changed(activation.id) }
        if !transition.notifications.isEmpty { wakeSender() }
        return true
    }

    // MARK: Building blocks

    func event(_ name: String, actor: String?, role: String, target: [String: JSONValue], reasons: [String] = []) -> AuditEvent {
        var fields = target
        fields["role"] = .string(role)
        return AuditEvent(name, outcome: .success, actor: AuditActor(subject: actor), target: fields, reasons: reasons)
    }

    func notify(_ event: String, role: String, breakGlass: Bool = false, _ data: [String: JSONValue], at now: Date) -> [OutboxNotification] {
        var fields = data
        fields["role"] = .string(role)
        return planner.value.notifications(event: event, role: role, breakGlass: breakGlass, data: fields, at: now)
    }

    /// What notifications say about a request.
    func summary(_ request: ActivationRequestRecord, plan: ApprovalPlan?) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "request_id": .string(request.id), "requester": .string(request.requester), "request_uri": .string(requestURI(request.id)),
            "expires_at": .string(rfc3339(request.pendingExpiresAt)), "lifetime_seconds": .number(Double(request.lifetimeSeconds)),
            "command": .string("tessera approve \(request.id)"), "state": .string(request.state.rawValue),
        ]
        data["justification"] = request.justification.map(JSONValue.string)
        data["ticket"] = request.ticket.map(JSONValue.string)
        if let plan {
            let stage = plan.currentStage(request.approvals.map { GivenApproval(approver: $0.approver, stage: $0.stage) })
            data["stages"] = .number(Double(plan.stages.count))
            if let stage {
                data["stage"] = .number(Double(stage + 1))
                data["approvers"] = .array(plan.stages[stage].approvers.names.map(JSONValue.string))
            }
        }
        return data
    }

    func activationSummary(_ activation: ActivationRecord) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "activation_id": .string(activation.id), "holder": .string(activation.holder), "state": .string(activation.state.rawValue),
            "break_glass": .bool(activation.breakGlass),
        ]
        data["ends_at"] = activation.endsAt.map { .string(rfc3339($0)) }
        data["request_id"] = activation.requestID.map(JSONValue.string)
        data["justification"] = activation.justification.map(JSONValue.string)
        data["ticket"] = activation.ticket.map(JSONValue.string)
        return data
    }

    func plan(ofRole role: String) throws(ActivationError) -> ApprovalPlan {
        guard let plan = policy.value.engine.role(named: role)?.conditions.approval else {
            throw .conflict("role \(role) no longer needs approval or no longer exists; ask for it again")
        }
        return plan
    }
}


/// RFC 3339 in UTC with seconds, as the API and notifications write times.
func rfc3339(_ date: Date) -> String {
    date.formatted(Date.ISO8601FormatStyle())
}
