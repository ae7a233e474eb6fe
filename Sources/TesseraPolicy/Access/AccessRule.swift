import Foundation

/// What one rule said about one request.
public struct RuleResult: Sendable, Hashable, CustomStringConvertible {
    public enum Status: String, Sendable, Hashable {
        case met
        case failed
        /// Everything this rule can check holds, but a person must approve first.
        case approvalRequired = "approval_required"
    }

    /// The rule's name, after the policy key it comes from (`mfa`, `networks`, `claims.ref`).
    public let rule: String
    public let status: Status
    /// A sentence for the person asking: "MFA required: token amr [pwd] has none of [mfa, hwk]".
    public let reason: String

    public init(rule: String, status: Status, reason: String) {
        self.rule = rule
        self.status = status
        self.reason = reason
    }

    public static func met(_ rule: String, _ reason: String) -> RuleResult { RuleResult(rule: rule, status: .met, reason: reason) }
    public static func failed(_ rule: String, _ reason: String) -> RuleResult { RuleResult(rule: rule, status: .failed, reason: reason) }

    public var isMet: Bool { status == .met }
    public var isFailed: Bool { status == .failed }

    public var description: String { "\(rule): \(status.rawValue): \(reason)" }
}

/// One conditional-access rule as a value (swift-certificates `VerifierPolicy`): it answers
/// met or failed with a reason and never throws, reads nothing but its arguments, and composes
/// with others in a list. A role compiles to a list of these once, when the engine is built.
public protocol AccessRule: Sendable {
    var name: String { get }
    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult
}

/// Trims whitespace, skipping Foundation's (slow) trimming when there is none to trim.
@inline(__always)
func trimmedFast(_ text: String) -> String {
    guard let first = text.first, let last = text.last, first.isWhitespace || last.isWhitespace else { return text }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// `[a, b]` as reasons print lists.
@inline(__always)
func bracketed(_ values: [String]) -> String { "[" + values.joined(separator: ", ") + "]" }

// MARK: - Who

struct EligibilityRule: AccessRule {
    let eligibility: Eligibility
    let groups: Set<String>
    var name: String { "eligibility" }

    init(_ eligibility: Eligibility) {
        self.eligibility = eligibility
        self.groups = Set(eligibility.groups)
    }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let who = "\(identity.subject) from \(identity.upstream)"
        if eligibility.subjects.isEmpty, eligibility.groups.isEmpty {
            return .failed(name, "role admits nobody: it lists no eligible subjects or groups")
        }
        if !eligibility.upstreams.isEmpty, !eligibility.upstreams.contains(identity.upstream) {
            return .failed(name, "\(who) is not eligible: upstream \(identity.upstream) not in \(bracketed(eligibility.upstreams))")
        }
        if let subject = eligibility.subjects.first(where: { $0.matches(identity.subject) }) {
            return .met(name, "\(who) is eligible as subject \(subject.pattern)")
        }
        if let group = identity.groups.first(where: { groups.contains($0) }) {
            return .met(name, "\(who) is eligible through group \(group)")
        }
        var parts: [String] = []
        if !eligibility.subjects.isEmpty { parts.append("subject not in \(bracketed(eligibility.subjects.map(\.pattern)))") }
        if !eligibility.groups.isEmpty {
            parts.append("groups \(bracketed(identity.groups)) include none of \(bracketed(eligibility.groups))")
        }
        return .failed(name, "\(who) is not eligible: " + parts.joined(separator: " and "))
    }
}

struct AllowedClientsRule: AccessRule {
    let clients: [String]
    var name: String { "allowed_clients" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        if clients.contains(context.clientID) { return .met(name, "client \(context.clientID) is allowed") }
        return .failed(name, "client \(context.clientID) is not allowed; allowed clients: \(bracketed(clients))")
    }
}

// MARK: - How they authenticated

struct MFARule: AccessRule {
    let condition: MFACondition
    var name: String { "mfa" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let amr = identity.authenticationMethods
        if let method = amr.first(where: { condition.methods.contains($0) }) {
            return .met(name, "MFA: token amr \(bracketed(amr)) includes \(method)")
        }
        if let acr = identity.authenticationContext, condition.contexts.contains(acr) {
            return .met(name, "MFA: token acr \(acr) is accepted")
        }
        var reason = "MFA required: token amr \(bracketed(amr)) has none of \(bracketed(condition.methods))"
        if !condition.contexts.isEmpty {
            reason += " and acr \(identity.authenticationContext ?? "(none)") is not one of \(bracketed(condition.contexts))"
        }
        return .failed(name, reason)
    }
}

struct StrengthRule: AccessRule {
    let condition: StrengthCondition
    var name: String { "strength" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let amr = identity.authenticationMethods
        if let method = amr.first(where: { condition.methods.contains($0) }) {
            return .met(name, "phishing-resistant: token amr \(bracketed(amr)) includes \(method)")
        }
        if let acr = identity.authenticationContext, condition.contexts.contains(acr) {
            return .met(name, "phishing-resistant: token acr \(acr)")
        }
        return .failed(name, "phishing-resistant authentication required: token amr \(bracketed(amr)) has none of "
            + "\(bracketed(condition.methods)) and acr \(identity.authenticationContext ?? "(none)") is not one of \(bracketed(condition.contexts))")
    }
}

struct AuthAgeRule: AccessRule {
    let maximumSeconds: Int
    var name: String { "max_auth_age" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let limit = DurationText.format(maximumSeconds)
        guard let authenticatedAt = identity.authenticatedAt else {
            return .failed(name, "authentication time unknown: the token has no auth_time; the role needs an authentication within \(limit)")
        }
        let age = Int(context.now.timeIntervalSince(authenticatedAt).rounded(.down))
        if age <= maximumSeconds {
            return .met(name, "authenticated \(DurationText.format(max(age, 0))) ago, within \(limit)")
        }
        return .failed(name, "authentication too old: \(DurationText.format(age)) ago, at most \(limit); sign in again")
    }
}

struct DeviceComplianceRule: AccessRule {
    var name: String { "device_compliant" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        switch identity.deviceCompliant {
        case true?: .met(name, "device is compliant")
        case false?: .failed(name, "compliant device required: the upstream says the device is not compliant")
        case nil: .failed(name, "compliant device required: the upstream did not say whether the device is compliant")
        }
    }
}

// MARK: - Where and when

struct NetworkRule: AccessRule {
    let sets: [NetworkSet]
    let names: String
    var name: String { "networks" }

    init(_ sets: [NetworkSet]) {
        self.sets = sets
        self.names = sets.map(\.name).joined(separator: ", ")
    }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        guard let address = context.clientAddress else {
            return .failed(name, "client address unknown; the role requires a network in \(names)")
        }
        for set in sets where set.contains(address) {
            return .met(name, "network \(address) in \(set.name)")
        }
        return .failed(name, "network \(address) not in \(names)")
    }
}

struct TimeWindowRule: AccessRule {
    let windows: [TimeWindow]
    var name: String { "time_windows" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        for window in windows where window.contains(context.now) {
            return .met(name, "\(Self.local(context.now, window)) is within \(window)")
        }
        let first = windows[0]
        return .failed(name, "outside the allowed time: \(Self.local(context.now, first)) is not within "
            + windows.map(\.description).joined(separator: " or "))
    }

    static func local(_ date: Date, _ window: TimeWindow) -> String {
        let (weekday, minute) = window.localTime(date)
        return "\(TimeWindow.dayNames[weekday]) \(TimeWindow.clock(minute)) \(window.timeZoneName)"
    }
}

// MARK: - What the token says

struct ClaimRule: AccessRule {
    let condition: ClaimCondition
    let name: String

    init(_ condition: ClaimCondition) {
        self.condition = condition
        self.name = "claims.\(condition.claim)"
    }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let value = identity.claims[condition.claim]
        let shown = value.map { "claim \(condition.claim) \($0.displayText)" } ?? "claim \(condition.claim) (missing)"
        if condition.holds(for: value) {
            return .met(name, "\(shown) \(condition.expectation)")
        }
        return .failed(name, "\(shown) fails: expected it \(condition.expectation)")
    }
}

// MARK: - What the request says

struct JustificationRule: AccessRule {
    let condition: JustificationCondition
    var name: String { "justification" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let text = request.justification.map(trimmedFast) ?? ""
        if text.isEmpty { return .failed(name, "justification required: say why you need this role") }
        let length = text.count
        if length < condition.minimumLength {
            return .failed(name, "justification too short: \(length) characters, at least \(condition.minimumLength)")
        }
        if length > condition.maximumLength {
            return .failed(name, "justification too long: \(length) characters, at most \(condition.maximumLength)")
        }
        return .met(name, "justification given (\(length) characters)")
    }
}

struct TicketRule: AccessRule {
    let condition: TicketCondition
    var name: String { "ticket" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let ticket = request.ticket.map(trimmedFast) ?? ""
        if ticket.isEmpty {
            if !condition.required { return .met(name, "no ticket given; none required") }
            let pattern = condition.pattern.map { " matching \($0.pattern)" } ?? ""
            return .failed(name, "ticket required: give a ticket reference\(pattern)")
        }
        if ticket.utf8.count > TicketCondition.maximumLength {
            return .failed(name, "ticket too long: at most \(TicketCondition.maximumLength) characters")
        }
        if let pattern = condition.pattern {
            guard pattern.matches(ticket) else { return .failed(name, "ticket \(ticket) does not match \(pattern.pattern)") }
            return .met(name, "ticket \(ticket) matches \(pattern.pattern)")
        }
        return .met(name, "ticket \(ticket) given")
    }
}

struct OnCallRule: AccessRule {
    let condition: OnCallCondition
    var name: String { "on_call" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        guard let schedules = context.onCallSchedules else {
            return .failed(name, "on-call state unknown: cannot tell whether \(identity.subject) is on call for \(condition.schedule)")
        }
        if schedules.contains(condition.schedule) {
            return .met(name, "\(identity.subject) is on call for \(condition.schedule)")
        }
        return .failed(name, "\(identity.subject) is not on call for \(condition.schedule)")
    }
}

/// The requested lifetime against the role's maximum. A request above the maximum is denied,
/// not silently shortened: the caller asked for something the role does not grant, and the
/// reason tells them the maximum to ask for.
struct LifetimeRule: AccessRule {
    let defaultSeconds: Int
    let maximumSeconds: Int
    var name: String { "lifetime" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        guard let requested = request.lifetimeSeconds else {
            return .met(name, "lifetime \(DurationText.format(defaultSeconds)) (the role's default; maximum \(DurationText.format(maximumSeconds)))")
        }
        if requested <= 0 { return .failed(name, "requested lifetime must be positive") }
        if requested > maximumSeconds {
            return .failed(name, "requested lifetime \(DurationText.format(requested)) exceeds the role's maximum \(DurationText.format(maximumSeconds))")
        }
        return .met(name, "lifetime \(DurationText.format(requested)) as requested (maximum \(DurationText.format(maximumSeconds)))")
    }
}

struct ApprovalRule: AccessRule {
    let requirement: ApprovalRequirement
    var name: String { "approval" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let who = requirement.count == 1 ? "1 approver" : "\(requirement.count) approvers"
        return RuleResult(rule: name, status: .approvalRequired,
                          reason: "approval required: \(who) from \(bracketed(requirement.approverGroups))")
    }
}
