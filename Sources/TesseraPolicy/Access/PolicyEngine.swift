import Foundation
import TesseraText

/// What is asked for: a role, and what the request says about itself.
public struct AccessRequest: Sendable, Hashable {
    public var role: String
    /// The lifetime asked for; nil takes the role's default.
    public var lifetimeSeconds: Int?
    public var justification: String?
    public var ticket: String?
    /// Asks for break-glass: no approval, the role's `break_glass` limits, reviewed afterwards.
    public var breakGlass: Bool

    public init(role: String, lifetimeSeconds: Int? = nil, justification: String? = nil, ticket: String? = nil, breakGlass: Bool = false) {
        self.role = role
        self.lifetimeSeconds = lifetimeSeconds
        self.justification = justification
        self.ticket = ticket
        self.breakGlass = breakGlass
    }
}

/// The facts around a request that do not come from the identity token. Everything the engine
/// would otherwise have to look up (the time, the client address, on-call state) is passed in.
public struct DecisionContext: Sendable {
    /// The authenticated OAuth client making the request.
    public var clientID: String
    /// The client's address, already resolved through trusted proxies (`TrustedProxies`);
    /// nil when unknown, which fails any network condition.
    public var clientAddress: IPAddress?
    public var now: Date
    /// Who is on call, for on-call conditions; nil when nobody knows (no schedules are
    /// configured), which fails any on-call condition.
    public var onCall: OnCallState?
    /// Eligibility assignments made at run time, merged with each role's own eligibility.
    public var assignments: EligibilityAssignments?

    public init(clientID: String, clientAddress: IPAddress? = nil, now: Date, onCall: OnCallState? = nil,
                assignments: EligibilityAssignments? = nil) {
        self.clientID = clientID
        self.clientAddress = clientAddress
        self.now = now
        self.onCall = onCall
        self.assignments = assignments
    }
}

/// The engine's answer, with every rule's result so the decision explains itself.
public struct AccessDecision: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case allow(lifetimeSeconds: Int)
        /// Every other rule holds; the role needs this approval before it activates.
        case approvalRequired(ApprovalPlan)
        case deny
    }

    public let outcome: Outcome
    /// The role asked for; nil when no role has that name.
    public let role: RoleDefinition?
    /// The lifetime an allow grants, or an approved request would grant; nil on deny.
    public let lifetimeSeconds: Int?
    /// Every rule evaluated, in order, met or not.
    public let rules: [RuleResult]

    public init(outcome: Outcome, role: RoleDefinition?, lifetimeSeconds: Int?, rules: [RuleResult]) {
        self.outcome = outcome
        self.role = role
        self.lifetimeSeconds = lifetimeSeconds
        self.rules = rules
    }

    public var isAllowed: Bool {
        if case .allow = outcome { return true }
        return false
    }

    /// The reason of the auto-approval rule that approved an allowed request, if one did.
    public var autoApproval: String? {
        rules.first { $0.rule == "approval" && $0.status == .met }?.reason
    }

    public var failures: [RuleResult] { rules.filter(\.isFailed) }

    /// The failed rules' reasons in one line, for an `error_description`.
    public var failureSummary: String { failures.map(\.reason).joined(separator: "; ") }

    /// `allow (30m)`, `approval_required`, `deny`.
    public var outcomeText: String {
        switch outcome {
        case .allow(let seconds): "allow (\(DurationText.format(seconds)))"
        case .approvalRequired: "approval_required"
        case .deny: "deny"
        }
    }

    /// The full decision trace, one rule per line, as `tessera policy explain` prints it.
    public var trace: String {
        var lines = ["role \(role?.name ?? "(unknown)"): \(outcomeText)"]
        let width = rules.map(\.rule.count).max() ?? 0
        for result in rules {
            let mark = switch result.status {
            case .met: "met     "
            case .failed: "FAILED  "
            case .approvalRequired: "APPROVAL"
            }
            lines.append("  \(mark) \(result.rule.padding(toLength: width, withPad: " ", startingAt: 0))  \(result.reason)")
        }
        if let role, case .allow = outcome {
            lines.append("  grants audiences \(bracketed(role.audiences)) scopes \(bracketed(role.scopes))")
        }
        return lines.joined(separator: "\n")
    }
}

/// The conditional-access engine: built once from the bundle's roles (every pattern, CIDR and
/// time zone already parsed), then `decide` is a dictionary lookup and a walk over the role's
/// precompiled rules. Pure: no I/O, no clock, no global state; safe to share between tasks.
public struct PolicyEngine: Sendable {
    /// A class so a lookup retains one reference instead of copying the whole definition.
    final class CompiledRole: Sendable {
        let definition: RoleDefinition
        /// The approval rule comes last, so break-glass evaluates every rule but that one.
        let rules: [any AccessRule]
        let breakGlass: BreakGlassRule

        init(definition: RoleDefinition, rules: [any AccessRule]) {
            self.definition = definition
            self.rules = rules
            self.breakGlass = BreakGlassRule(policy: definition.breakGlass)
        }
    }

    private let roles: [String: CompiledRole]

    public init(roles: [RoleDefinition]) {
        var compiled: [String: CompiledRole] = [:]
        compiled.reserveCapacity(roles.count)
        for role in roles {
            compiled[role.name] = CompiledRole(definition: role, rules: Self.rules(for: role))
        }
        self.roles = compiled
    }

    public init(bundle: PolicyBundle) {
        self.init(roles: bundle.roles)
    }

    public var roleNames: [String] { roles.keys.sorted() }

    public func role(named name: String) -> RoleDefinition? { roles[exactly: name]?.definition }

    /// The rules a role compiles to, in the order they are evaluated and reported: who
    /// (eligibility, client), how they authenticated, from where and when, what the token says,
    /// what the request says, the lifetime, and last the approval.
    public static func rules(for role: RoleDefinition) -> [any AccessRule] {
        var rules: [any AccessRule] = [EligibilityRule(role.eligibility, role: role.name)]
        let conditions = role.conditions
        if let clients = role.allowedClients { rules.append(AllowedClientsRule(clients: clients)) }
        if let mfa = conditions.mfa { rules.append(MFARule(condition: mfa)) }
        if let strength = conditions.phishingResistant { rules.append(StrengthRule(condition: strength)) }
        if let age = conditions.maxAuthAgeSeconds { rules.append(AuthAgeRule(maximumSeconds: age)) }
        if conditions.deviceCompliant { rules.append(DeviceComplianceRule()) }
        if let networks = conditions.networks { rules.append(NetworkRule(networks)) }
        if let windows = conditions.timeWindows, !windows.isEmpty { rules.append(TimeWindowRule(windows: windows)) }
        for claim in conditions.claims { rules.append(ClaimRule(claim)) }
        if let onCall = conditions.onCall { rules.append(OnCallRule(condition: onCall)) }
        if let justification = conditions.justification { rules.append(JustificationRule(condition: justification)) }
        if let ticket = conditions.ticket { rules.append(TicketRule(condition: ticket)) }
        rules.append(LifetimeRule(defaultSeconds: role.defaultDurationSeconds, maximumSeconds: role.maxDurationSeconds))
        if let approval = conditions.approval {
            rules.append(ApprovalRule(plan: approval, defaultSeconds: role.defaultDurationSeconds, maximumSeconds: role.maxDurationSeconds))
        }
        return rules
    }

    /// Decides one request. Deny by default: an unknown role, an ineligible identity or any
    /// failed rule denies; approval is asked for only when every other rule holds. Every rule
    /// is evaluated (no short cut) so the answer lists all that must change, not just the first.
    public func decide(identity: Identity, request: AccessRequest, context: DecisionContext) -> AccessDecision {
        guard let role = roles[exactly: request.role] else {
            return AccessDecision(outcome: .deny, role: nil, lifetimeSeconds: nil,
                                  rules: [.failed("role", "unknown role \"\(request.role)\"")])
        }
        var results: [RuleResult] = []
        results.reserveCapacity(role.rules.count)
        var failed = false
        var approval = false
        let rules = role.rules
        let definition = role.definition
        // Break-glass replaces the approval (the last rule) with its own rule.
        let evaluated = request.breakGlass && definition.conditions.approval != nil ? rules.count - 1 : rules.count
        var maximum = definition.maxDurationSeconds
        for index in 0..<evaluated {  // by index: evaluated in place, not copied out of the array
            let result = rules[index].evaluate(identity: identity, request: request, context: context)
            switch result.status {
            case .met:
                // A rule that holds only until a moment (on call with cap_to_shift) caps the lifetime there.
                if let endsAt = result.endsAt { maximum = min(maximum, max(0, Int(endsAt.timeIntervalSince(context.now).rounded(.down)))) }
            case .failed: failed = true
            case .approvalRequired: approval = true
            }
            results.append(result)
        }
        if request.breakGlass {
            let result = role.breakGlass.evaluate(identity: identity, request: request, context: context)
            failed = failed || result.isFailed
            results.append(result)
            maximum = min(maximum, definition.breakGlass?.maxDurationSeconds ?? maximum)
        }
        if failed {
            return AccessDecision(outcome: .deny, role: role.definition, lifetimeSeconds: nil, rules: results)
        }
        let lifetime = min(request.lifetimeSeconds ?? definition.defaultDurationSeconds, maximum)
        if approval, let requirement = role.definition.conditions.approval {
            return AccessDecision(outcome: .approvalRequired(requirement), role: role.definition, lifetimeSeconds: lifetime, rules: results)
        }
        return AccessDecision(outcome: .allow(lifetimeSeconds: lifetime), role: role.definition, lifetimeSeconds: lifetime, rules: results)
    }
}
