import Foundation

/// A role a person or workload can ask for, as declared in `policies/roles/*.yaml`: what it
/// grants (audiences, scopes, lifetime), who may ask at all, and the conditions of each request.
public struct RoleDefinition: Sendable, Hashable {
    /// Longest `max_duration` any role may have.
    public static let maximumDuration = 12 * 3600

    public var name: String
    public var description: String?
    public var audiences: [String]
    public var scopes: [String]
    public var defaultDurationSeconds: Int
    public var maxDurationSeconds: Int
    public var eligibility: Eligibility
    /// Client ids that may request the role; nil means any authenticated client.
    public var allowedClients: [String]?
    public var conditions: RoleConditions
    public var location: SourceLocation
    /// `signing_alg`: the JWS algorithm of this role's tokens (one of
    /// `SigningKeyPolicy.supportedAlgorithms`), for resource servers that verify only some
    /// algorithms, such as RS256 only. nil: the client's, else keys.yaml's `default_alg`.
    public var signingAlgorithm: String?
    /// `break_glass`: immediate activation without approval, announced and reviewed; nil: never.
    public var breakGlass: BreakGlassPolicy?
    /// `extend`: how an active window may be made longer; nil: it may not.
    public var extensionPolicy: ExtensionPolicy?

    public init(name: String, description: String? = nil, audiences: [String], scopes: [String] = [],
                defaultDurationSeconds: Int, maxDurationSeconds: Int, eligibility: Eligibility,
                allowedClients: [String]? = nil, conditions: RoleConditions = RoleConditions(),
                location: SourceLocation = SourceLocation(file: "code"), signingAlgorithm: String? = nil,
                breakGlass: BreakGlassPolicy? = nil, extensionPolicy: ExtensionPolicy? = nil) {
        self.name = name
        self.description = description
        self.audiences = audiences
        self.scopes = scopes
        self.defaultDurationSeconds = defaultDurationSeconds
        self.maxDurationSeconds = maxDurationSeconds
        self.eligibility = eligibility
        self.allowedClients = allowedClients
        self.conditions = conditions
        self.location = location
        self.signingAlgorithm = signingAlgorithm
        self.breakGlass = breakGlass
        self.extensionPolicy = extensionPolicy
    }

    /// Role and network names: lowercase letters, digits, `.`, `_` and `-`, at most 64.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }
}

/// Who may ask for a role at all. Deny by default: an identity is eligible only when its
/// upstream is listed (or `upstreams` is empty) AND its subject matches `subjects` or it is in
/// one of `groups`. A role with neither subjects nor groups admits nobody.
public struct Eligibility: Sendable, Hashable {
    public var upstreams: [String]
    public var groups: [String]
    /// Exact subjects or globs (`*`, `?`): `repo:acme/payments:*` for GitHub Actions, `*` for anyone
    /// from the listed upstreams.
    public var subjects: [GlobPattern]
    /// Entries with dates, a sponsor or a reason (`{id, from, until, sponsor, reason}`).
    public var dated: [DatedEligibility]
    /// The longest run-time assignment of the role (`max_assignment`).
    public var maximumAssignmentSeconds: Int

    public static let defaultMaximumAssignmentSeconds = 90 * 86_400

    public init(upstreams: [String] = [], groups: [String] = [], subjects: [GlobPattern] = [], dated: [DatedEligibility] = [],
                maximumAssignmentSeconds: Int = Eligibility.defaultMaximumAssignmentSeconds) {
        self.upstreams = upstreams
        self.groups = groups
        self.subjects = subjects
        self.dated = dated
        self.maximumAssignmentSeconds = maximumAssignmentSeconds
    }
}

/// The conditional-access rules of a role; nil / empty means the condition is not asked for.
public struct RoleConditions: Sendable, Hashable {
    public var mfa: MFACondition?
    public var phishingResistant: StrengthCondition?
    public var maxAuthAgeSeconds: Int?
    public var deviceCompliant: Bool
    public var networks: [NetworkSet]?
    public var timeWindows: [TimeWindow]?
    public var claims: [ClaimCondition]
    public var justification: JustificationCondition?
    public var ticket: TicketCondition?
    public var approval: ApprovalPlan?
    public var onCall: OnCallCondition?

    public init(mfa: MFACondition? = nil, phishingResistant: StrengthCondition? = nil, maxAuthAgeSeconds: Int? = nil,
                deviceCompliant: Bool = false, networks: [NetworkSet]? = nil, timeWindows: [TimeWindow]? = nil,
                claims: [ClaimCondition] = [], justification: JustificationCondition? = nil, ticket: TicketCondition? = nil,
                approval: ApprovalPlan? = nil, onCall: OnCallCondition? = nil) {
        self.mfa = mfa
        self.phishingResistant = phishingResistant
        self.maxAuthAgeSeconds = maxAuthAgeSeconds
        self.deviceCompliant = deviceCompliant
        self.networks = networks
        self.timeWindows = timeWindows
        self.claims = claims
        self.justification = justification
        self.ticket = ticket
        self.approval = approval
        self.onCall = onCall
    }
}

/// `mfa: true`: the token's `amr` has one of `methods`, or its `acr` is one of `contexts`.
public struct MFACondition: Sendable, Hashable {
    /// RFC 8176 values that mean a second factor or a key-bound factor was used:
    /// `mfa` (multiple factors), `mca` (multiple channels), `hwk`/`swk` (proof of a hardware or
    /// software key), `otp` (one-time password), `sc` (smart card). `pwd`, `sms`, `tel`, `kba`
    /// alone are not multi-factor.
    public static let defaultMethods = ["mfa", "mca", "hwk", "swk", "otp", "sc"]

    public var methods: [String]
    public var contexts: [String]

    public init(methods: [String] = MFACondition.defaultMethods, contexts: [String] = []) {
        self.methods = methods
        self.contexts = contexts
    }
}

/// `strength: phishing_resistant`: an origin-bound key was used. `amr` `hwk` (RFC 8176 proof
/// of possession of a hardware key: FIDO2/WebAuthn security keys and platform authenticators),
/// `sc` (smart card, PIV/CAC) or `fido` (what some IdPs emit), or `acr` `phr`/`phrh`
/// (OpenID EAP ACR values: phishing-resistant, hardware-protected).
public struct StrengthCondition: Sendable, Hashable {
    public static let phishingResistantMethods = ["hwk", "sc", "fido"]
    public static let phishingResistantContexts = ["phr", "phrh"]

    public var methods: [String]
    public var contexts: [String]

    public init(methods: [String] = StrengthCondition.phishingResistantMethods,
                contexts: [String] = StrengthCondition.phishingResistantContexts) {
        self.methods = methods
        self.contexts = contexts
    }
}

/// `justification: required`: a reason of at least `minimumLength` and at most `maximumLength`
/// characters after trimming.
public struct JustificationCondition: Sendable, Hashable {
    public static let defaultMaximumLength = 1000
    public var minimumLength: Int
    public var maximumLength: Int

    public init(minimumLength: Int = 1, maximumLength: Int = JustificationCondition.defaultMaximumLength) {
        self.minimumLength = minimumLength
        self.maximumLength = maximumLength
    }
}

/// `ticket: {required: true, pattern: ...}`. A ticket that is given is always checked against
/// the pattern, even when not required.
public struct TicketCondition: Sendable, Hashable {
    public static let maximumLength = 128
    public var required: Bool
    public var pattern: RegexPattern?

    public init(required: Bool, pattern: RegexPattern? = nil) {
        self.required = required
        self.pattern = pattern
    }
}
