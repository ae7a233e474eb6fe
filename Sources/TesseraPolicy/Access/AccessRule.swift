import Foundation
import TesseraText

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
    /// Builds the reason when it is read, not when the rule runs: deciding is the hot path (the
    /// benchmark's 200,000 decisions/s) and formatting a sentence costs more than the check.
    private let renderReason: @Sendable () -> String
    /// When the rule stops holding, if the role caps access to it (on call with `cap_to_shift`).
    public var endsAt: Date?

    /// A sentence for the person asking: "MFA required: token amr [pwd] has none of [mfa, hwk]".
    public var reason: String { renderReason() }

    public init(rule: String, status: Status, reason: @autoclosure @escaping @Sendable () -> String) {
        self.rule = rule
        self.status = status
        self.renderReason = reason
    }

    public static func met(_ rule: String, _ reason: @autoclosure @escaping @Sendable () -> String, until endsAt: Date? = nil) -> RuleResult {
        var result = RuleResult(rule: rule, status: .met, reason: reason())
        result.endsAt = endsAt
        return result
    }

    public static func failed(_ rule: String, _ reason: @autoclosure @escaping @Sendable () -> String) -> RuleResult {
        RuleResult(rule: rule, status: .failed, reason: reason())
    }

    public static func == (lhs: RuleResult, rhs: RuleResult) -> Bool {
        lhs.rule == rhs.rule && lhs.status == rhs.status && lhs.reason == rhs.reason
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rule)
        hasher.combine(status)
        hasher.combine(reason)
    }

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

/// Trims whitespace, skipping Foundation's (slow) trimming when there is none to trim. The
/// common case, text that starts and ends with a visible ASCII character, is decided from two
/// bytes without Unicode property lookups.
@inline(__always)
func trimmedFast(_ text: String) -> String {
    guard let first = text.utf8.first, let last = text.utf8.last else { return text }
    if isVisibleASCII(first), isVisibleASCII(last) { return text }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

@inline(__always)
private func isVisibleASCII(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }

/// The length people see (grapheme clusters), counted from the bytes when the text is ASCII,
/// where each byte is one character.
@inline(__always)
func characterCount(_ text: String) -> Int {
    text.utf8.allSatisfy { $0 < 0x80 } ? text.utf8.count : text.count
}

/// `[a, b]` as reasons print lists.
@inline(__always)
func bracketed(_ values: [String]) -> String { "[" + values.joined(separator: ", ") + "]" }

// MARK: - Who

struct EligibilityRule: AccessRule {
    let eligibility: Eligibility
    /// The role's name, under which run-time assignments are found.
    let role: String
    /// Compared as bytes: a group spelled with a canonically equivalent character (KELVIN SIGN
    /// for `K`) is another group.
    let groups: Set<ExactString>
    /// The bundle's dated entries.
    let dated: DatedEligibilityIndex
    var name: String { "eligibility" }

    init(_ eligibility: Eligibility, role: String) {
        self.eligibility = eligibility
        self.role = role
        self.groups = Set(eligibility.groups.map { ExactString($0) })
        self.dated = DatedEligibilityIndex(eligibility.dated)
    }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let assigned = context.assignments?.index(for: role)
        if eligibility.subjects.isEmpty, eligibility.groups.isEmpty, dated.isEmpty, assigned == nil {
            return .failed(name, "role admits nobody: it lists no eligible subjects or groups")
        }
        if !eligibility.upstreams.isEmpty, !eligibility.upstreams.containsExactly(identity.upstream) {
            return .failed(name, "\(Self.who(identity)) is not eligible: upstream \(identity.upstream) not in \(bracketed(eligibility.upstreams))")
        }
        if let subject = eligibility.subjects.first(where: { $0.matches(identity.subject) }) {
            return .met(name, "\(Self.who(identity)) is eligible as subject \(subject.pattern)")
        }
        if let group = eligibleGroup(of: identity) {
            return .met(name, "\(Self.who(identity)) is eligible through group \(group)")
        }
        if dated.isEmpty, assigned == nil {
            return .failed(name, "\(Self.who(identity)) is not eligible: " + missing(identity))
        }
        return datedResult(dated.entries(for: identity) + (assigned?.entries(for: identity) ?? []), identity: identity, now: context.now)
    }

    /// Of the dated entries naming the identity, the one in force that lasts longest (the
    /// access it allows ends with it); else why none is in force.
    private func datedResult(_ entries: [DatedEligibility], identity: Identity, now: Date) -> RuleResult {
        let holding = entries.filter { $0.holds(at: now) }
        if let best = holding.max(by: { ($0.until ?? .distantFuture) < ($1.until ?? .distantFuture) }) {
            let until = best.untilText.map { " until \($0)" } ?? ""
            return .met(name, "\(Self.who(identity)) is eligible as \(best.who)\(until)\(best.provenance)", until: best.until)
        }
        let subject = identity.namespacedSubject
        // An entry yet to begin says more than one long over: it is what will change.
        if let next = entries.filter({ ($0.from ?? .distantPast) > now }).min(by: { $0.from! < $1.from! }) {
            return .failed(name, "eligibility of \(subject) as \(next.who) begins \(next.fromText ?? "later")\(next.provenance)")
        }
        if let last = entries.max(by: { ($0.until ?? .distantPast) < ($1.until ?? .distantPast) }) {
            return .failed(name, "eligibility of \(subject) as \(last.who) ended \(last.untilText ?? "")\(last.provenance)")
        }
        return .failed(name, "\(Self.who(identity)) is not eligible: " + missing(identity))
    }

    /// A role lists a few groups and a person may have dozens: comparing against the role's
    /// few names is cheaper than hashing every group of the token; the set serves long lists.
    private func eligibleGroup(of identity: Identity) -> String? {
        if eligibility.groups.count <= 8 {
            return eligibility.groups.firstExactly(in: identity.groups)
        }
        return identity.groups.first { groups.contains(ExactString($0)) }
    }

    private static func who(_ identity: Identity) -> String { "\(identity.subject) from \(identity.upstream)" }

    private func missing(_ identity: Identity) -> String {
        var parts: [String] = []
        if !eligibility.subjects.isEmpty { parts.append("subject not in \(bracketed(eligibility.subjects.map(\.pattern)))") }
        if !eligibility.groups.isEmpty {
            parts.append("groups \(bracketed(identity.groups)) include none of \(bracketed(eligibility.groups))")
        }
        return parts.joined(separator: " and ")
    }
}

struct AllowedClientsRule: AccessRule {
    let clients: [String]
    var name: String { "allowed_clients" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        if clients.containsExactly(context.clientID) { return .met(name, "client \(context.clientID) is allowed") }
        return .failed(name, "client \(context.clientID) is not allowed; allowed clients: \(bracketed(clients))")
    }
}

// MARK: - How they authenticated

struct MFARule: AccessRule {
    let condition: MFACondition
    var name: String { "mfa" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let amr = identity.authenticationMethods
        if let method = amr.firstExactly(in: condition.methods) {
            return .met(name, "MFA: token amr \(bracketed(amr)) includes \(method)")
        }
        if let acr = identity.authenticationContext, condition.contexts.containsExactly(acr) {
            return .met(name, "MFA: token acr \(acr) is accepted")
        }
        return .failed(name, missing(identity))
    }

    private func missing(_ identity: Identity) -> String {
        var reason = "MFA required: token amr \(bracketed(identity.authenticationMethods)) has none of \(bracketed(condition.methods))"
        if !condition.contexts.isEmpty {
            reason += " and acr \(identity.authenticationContext ?? "(none)") is not one of \(bracketed(condition.contexts))"
        }
        return reason
    }
}

struct StrengthRule: AccessRule {
    let condition: StrengthCondition
    var name: String { "strength" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let amr = identity.authenticationMethods
        if let method = amr.firstExactly(in: condition.methods) {
            return .met(name, "phishing-resistant: token amr \(bracketed(amr)) includes \(method)")
        }
        if let acr = identity.authenticationContext, condition.contexts.containsExactly(acr) {
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
        guard let authenticatedAt = identity.authenticatedAt else {
            return .failed(name, "authentication time unknown: the token has no auth_time; the role needs an authentication within \(DurationText.format(maximumSeconds))")
        }
        // Verification bounds auth_time to plausible dates; policy tests and other callers may not,
        // so the conversion is checked rather than trusted: an age beyond any Int is "too old".
        let age = Int(exactly: context.now.timeIntervalSince(authenticatedAt).rounded(.down)) ?? Int.max
        if age <= maximumSeconds {
            return .met(name, "authenticated \(DurationText.format(max(age, 0))) ago, within \(DurationText.format(maximumSeconds))")
        }
        return .failed(name, "authentication too old: \(DurationText.format(age)) ago, at most \(DurationText.format(maximumSeconds)); sign in again")
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
        let value = identity.claims[exactly: condition.claim]
        if condition.holds(for: value) {
            return .met(name, "\(shown(value)) \(condition.expectation)")
        }
        return .failed(name, "\(shown(value)) fails: expected it \(condition.expectation)")
    }

    private func shown(_ value: ClaimValue?) -> String {
        value.map { "claim \(condition.claim) \($0.displayText)" } ?? "claim \(condition.claim) (missing)"
    }
}

// MARK: - What the request says

struct JustificationRule: AccessRule {
    let condition: JustificationCondition
    var name: String { "justification" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let text = request.justification.map(trimmedFast) ?? ""
        if text.isEmpty { return .failed(name, "justification required: say why you need this role") }
        let length = characterCount(text)
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
        let (met, reason, endsAt) = condition.evaluate(identity: identity, state: context.onCall, now: context.now)
        return met ? .met(name, reason(), until: endsAt) : .failed(name, reason())
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

/// Asks for the plan's approval, unless one of its auto-approval rules holds for the lifetime
/// the request would be granted (then the rule is met, and says which auto-approval rule
/// approved, for the audit log).
struct ApprovalRule: AccessRule {
    let plan: ApprovalPlan
    let defaultSeconds: Int
    let maximumSeconds: Int
    var name: String { "approval" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        let lifetime = min(request.lifetimeSeconds ?? defaultSeconds, maximumSeconds)
        if let (number, rule, onCall, endsAt) = plan.autoApproval(identity: identity, request: request, lifetimeSeconds: lifetime,
                                                                  context: context) {
            return .met(name, "\(ApprovalRule.autoApprovedPrefix) \(number) (\(rule.description))" + (onCall.map { ": " + $0() } ?? ""),
                        until: endsAt)
        }
        return RuleResult(rule: name, status: .approvalRequired, reason: "approval required: \(plan.description)")
    }

    /// How a met approval rule's reason begins: the audit log records it as the approver.
    static let autoApprovedPrefix = "auto-approved by rule"
}

/// `break_glass=true`: the role must allow it, a justification is mandatory (whatever the
/// role's own justification rule says), and a ticket when the role's break_glass asks for one.
struct BreakGlassRule: AccessRule {
    let policy: BreakGlassPolicy?
    var name: String { "break_glass" }

    func evaluate(identity: Identity, request: AccessRequest, context: DecisionContext) -> RuleResult {
        guard let policy else { return .failed(name, "role \(request.role) does not allow break-glass") }
        guard request.justification?.isEmpty == false else { return .failed(name, "break-glass needs a justification") }
        if policy.ticketRequired, request.ticket?.isEmpty != false { return .failed(name, "break-glass for this role needs a ticket") }
        return .met(name, "break-glass allowed for at most \(DurationText.format(policy.maxDurationSeconds)); every approver is notified "
                    + "and the use must be reviewed")
    }
}
