import Foundation

/// Where an activation request stands. `pending` moves once, to any of the others.
public enum ActivationRequestState: String, Codable, Sendable, Hashable, CaseIterable {
    case pending, approved, denied, cancelled, expired
}

/// Where an activation (an access window) stands. `approved` waits for its first token
/// (`window_starts: first_token`); `active` has a running window; the rest are final.
public enum ActivationState: String, Codable, Sendable, Hashable, CaseIterable {
    case approved, active, ended, expired, revoked

    public var isOpen: Bool { self == .approved || self == .active }
}

/// One approver's decision on one stage of a request.
public struct RecordedApproval: Codable, Sendable, Hashable {
    /// The approver's namespaced subject (`upstream:subject`).
    public var approver: String
    /// The stage it counted for, from 0.
    public var stage: Int
    public var comment: String?
    public var at: Date
    /// Counted as a member of the stage's escalation group rather than its approvers.
    public var viaEscalation: Bool

    public init(approver: String, stage: Int, comment: String?, at: Date, viaEscalation: Bool = false) {
        self.approver = approver
        self.stage = stage
        self.comment = comment
        self.at = at
        self.viaEscalation = viaEscalation
    }
}

/// A request for a role that needs approval, as the store keeps it. `version` is the
/// compare-and-swap counter: a write of version `n` succeeds only over the stored `n - 1`
/// (or, for `n == 1`, when no request has the id).
public struct ActivationRequestRecord: Codable, Sendable, Hashable {
    public var id: String
    public var version: Int64
    public var state: ActivationRequestState
    /// Namespaced subject (`upstream:subject`) of who asked.
    public var requester: String
    public var upstream: String
    /// The requester's groups when they asked.
    public var groups: [String]
    public var role: String
    /// The access lifetime asked for (already capped by the role), in seconds.
    public var lifetimeSeconds: Int
    public var justification: String?
    public var ticket: String?
    public var clientID: String
    public var clientAddress: String?
    /// The decision trace at request time: a JSON array of `{rule, status, reason}`.
    public var decisionRules: String
    public var approvals: [RecordedApproval]
    /// When the stage now waiting began (escalation counts from here).
    public var stageStartedAt: Date
    /// The stages whose escalation group has been notified.
    public var escalatedStages: [Int]
    /// Who denied or cancelled it, and why.
    public var closedBy: String?
    public var closingComment: String?
    /// For an extension request: the activation it would extend.
    public var extends: String?
    /// The activation its approval opened (or extended).
    public var activationID: String?
    public var createdAt: Date
    /// When it expires if still pending.
    public var pendingExpiresAt: Date
    public var updatedAt: Date

    public init(id: String, version: Int64 = 1, state: ActivationRequestState = .pending, requester: String, upstream: String,
                groups: [String], role: String, lifetimeSeconds: Int, justification: String?, ticket: String?, clientID: String,
                clientAddress: String?, decisionRules: String, approvals: [RecordedApproval] = [], stageStartedAt: Date,
                escalatedStages: [Int] = [], closedBy: String? = nil, closingComment: String? = nil, extends: String? = nil,
                activationID: String? = nil, createdAt: Date, pendingExpiresAt: Date, updatedAt: Date) {
        self.id = id
        self.version = version
        self.state = state
        self.requester = requester
        self.upstream = upstream
        self.groups = groups
        self.role = role
        self.lifetimeSeconds = lifetimeSeconds
        self.justification = justification
        self.ticket = ticket
        self.clientID = clientID
        self.clientAddress = clientAddress
        self.decisionRules = decisionRules
        self.approvals = approvals
        self.stageStartedAt = stageStartedAt
        self.escalatedStages = escalatedStages
        self.closedBy = closedBy
        self.closingComment = closingComment
        self.extends = extends
        self.activationID = activationID
        self.createdAt = createdAt
        self.pendingExpiresAt = pendingExpiresAt
        self.updatedAt = updatedAt
    }

    /// The time the expiry sweep looks at: the pending expiry while pending, else none.
    public var deadline: Date? { state == .pending ? pendingExpiresAt : nil }
}

/// The acknowledgement a break-glass use needs after the fact.
public struct ActivationReview: Codable, Sendable, Hashable {
    public var reviewer: String?
    public var comment: String?
    public var at: Date?

    public init(reviewer: String? = nil, comment: String? = nil, at: Date? = nil) {
        self.reviewer = reviewer
        self.comment = comment
        self.at = at
    }

    public var isDone: Bool { reviewer != nil }
}

/// An access window for one holder and one role, opened by an allowed exchange, an approved
/// request or break-glass. Tokens issued under it carry its id (`act_id`) and never outlive
/// `endsAt`. `version` works as in `ActivationRequestRecord`.
public struct ActivationRecord: Codable, Sendable, Hashable {
    public var id: String
    public var version: Int64
    public var state: ActivationState
    /// Namespaced subject of whom the window is for.
    public var holder: String
    public var upstream: String
    public var role: String
    public var clientID: String
    /// The approved request that opened it; nil for an allowed exchange or break-glass.
    public var requestID: String?
    /// The window's length, in seconds (extensions add to it).
    public var windowSeconds: Int
    /// When the window began; nil while it waits for its first token.
    public var startsAt: Date?
    /// When the window ends; nil while it waits for its first token.
    public var endsAt: Date?
    /// While waiting for a first token: when the approval lapses unused.
    public var startBy: Date?
    public var breakGlass: Bool
    public var justification: String?
    public var ticket: String?
    /// Extensions granted so far, and the seconds they added.
    public var extensions: Int
    public var extendedSeconds: Int
    /// Tokens issued under it.
    public var tokens: Int
    public var endedAt: Date?
    public var endedBy: String?
    public var endReason: String?
    /// Whether the about-to-expire notice went out.
    public var expiryWarned: Bool
    /// Break-glass uses need a review; nil when none is needed.
    public var review: ActivationReview?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, version: Int64 = 1, state: ActivationState, holder: String, upstream: String, role: String, clientID: String,
                requestID: String? = nil, windowSeconds: Int, startsAt: Date?, endsAt: Date?, startBy: Date? = nil, breakGlass: Bool = false,
                justification: String? = nil, ticket: String? = nil, extensions: Int = 0, extendedSeconds: Int = 0, tokens: Int = 0,
                endedAt: Date? = nil, endedBy: String? = nil, endReason: String? = nil, expiryWarned: Bool = false,
                review: ActivationReview? = nil, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.version = version
        self.state = state
        self.holder = holder
        self.upstream = upstream
        self.role = role
        self.clientID = clientID
        self.requestID = requestID
        self.windowSeconds = windowSeconds
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.startBy = startBy
        self.breakGlass = breakGlass
        self.justification = justification
        self.ticket = ticket
        self.extensions = extensions
        self.extendedSeconds = extendedSeconds
        self.tokens = tokens
        self.endedAt = endedAt
        self.endedBy = endedBy
        self.endReason = endReason
        self.expiryWarned = expiryWarned
        self.review = review
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The time the expiry sweep looks at: the window's end, or the last moment to start it.
    public var deadline: Date? {
        switch state {
        case .active: endsAt
        case .approved: startBy
        default: nil
        }
    }

    /// Whether a break-glass use still waits for its review.
    public var awaitsReview: Bool { review.map { !$0.isDone } ?? false }
}

/// Which requests to list: every filter set must match; oldest first, after the cursor.
public struct ActivationRequestQuery: Sendable, Hashable {
    public var states: [ActivationRequestState]?
    public var requester: String?
    public var roles: [String]?
    /// Requests whose deadline (pending expiry) is at or before this time: due now.
    public var dueBy: Date?
    /// The page cursor: requests created after this one (`createdAt`, then id).
    public var after: ActivationCursor?
    public var limit: Int

    public init(states: [ActivationRequestState]? = nil, requester: String? = nil, roles: [String]? = nil, dueBy: Date? = nil,
                after: ActivationCursor? = nil, limit: Int = 100) {
        self.states = states
        self.requester = requester
        self.roles = roles
        self.dueBy = dueBy
        self.after = after
        self.limit = limit
    }

    public func matches(_ record: ActivationRequestRecord) -> Bool {
        (states.map { $0.contains(record.state) } ?? true) && (requester.map { $0 == record.requester } ?? true)
            && (roles.map { $0.contains(record.role) } ?? true)
            && (dueBy.map { limit in record.deadline.map { $0 <= limit } ?? false } ?? true)
            && (after.map { $0.precedes(createdAt: record.createdAt, id: record.id) } ?? true)
    }
}

/// Which activations to list, as `ActivationRequestQuery` does for requests.
public struct ActivationQuery: Sendable, Hashable {
    public var states: [ActivationState]?
    public var holder: String?
    public var roles: [String]?
    /// Activations whose deadline (window end, or last start) is at or before this time.
    public var dueBy: Date?
    /// Only break-glass uses still waiting for their review.
    public var awaitingReview: Bool
    public var after: ActivationCursor?
    public var limit: Int

    public init(states: [ActivationState]? = nil, holder: String? = nil, roles: [String]? = nil, dueBy: Date? = nil,
                awaitingReview: Bool = false, after: ActivationCursor? = nil, limit: Int = 100) {
        self.states = states
        self.holder = holder
        self.roles = roles
        self.dueBy = dueBy
        self.awaitingReview = awaitingReview
        self.after = after
        self.limit = limit
    }

    public func matches(_ record: ActivationRecord) -> Bool {
        (states.map { $0.contains(record.state) } ?? true) && (holder.map { $0 == record.holder } ?? true)
            && (roles.map { $0.contains(record.role) } ?? true)
            && (dueBy.map { limit in record.deadline.map { $0 <= limit } ?? false } ?? true)
            && (!awaitingReview || record.awaitsReview)
            && (after.map { $0.precedes(createdAt: record.createdAt, id: record.id) } ?? true)
    }
}

/// A position in a listing ordered by creation time, then id.
public struct ActivationCursor: Sendable, Hashable {
    public var createdAt: Date
    public var id: String

    public init(createdAt: Date, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    /// Whether a record created at `createdAt` with `id` comes after this cursor.
    public func precedes(createdAt other: Date, id otherID: String) -> Bool {
        let (mine, theirs) = (createdAt.millisecondsSince1970, other.millisecondsSince1970)
        return theirs > mine || (theirs == mine && otherID > id)
    }
}

/// What one transition writes, atomically with its audit entries: new versions of requests
/// and activations (each a compare-and-swap on its previous version), notifications for the
/// outbox, the activations whose tokens are revoked, and dated entries (on-call overrides,
/// eligibility assignments) written by the admin API the same way.
public struct ActivationChange: Sendable {
    public var requests: [ActivationRequestRecord]
    public var activations: [ActivationRecord]
    public var notifications: [OutboxNotification]
    /// Every live token issued under these activations is revoked at `time`.
    public var revokeTokensOf: [String]
    /// On-call overrides and eligibility assignments, each a compare-and-swap on its version.
    public var datedEntries: [DatedEntryRecord]
    public var time: Date

    public init(requests: [ActivationRequestRecord] = [], activations: [ActivationRecord] = [],
                notifications: [OutboxNotification] = [], revokeTokensOf: [String] = [], datedEntries: [DatedEntryRecord] = [],
                time: Date) {
        self.requests = requests
        self.activations = activations
        self.datedEntries = datedEntries
        self.notifications = notifications
        self.revokeTokensOf = revokeTokensOf
        self.time = time
    }
}

/// A notification waiting in the outbox: recorded with the transition that causes it,
/// delivered at least once (with the same `id`, the Standard Webhooks `webhook-id`).
public struct OutboxNotification: Codable, Sendable, Hashable {
    public var id: String
    /// The event (`request.created`, `activation.started`...).
    public var event: String
    /// The configured sink it goes to.
    public var sink: String
    /// The JSON document to deliver.
    public var payload: String
    public var createdAt: Date
    public var dueAt: Date
    public var attempts: Int
    public var lastError: String?

    /// How long a delivered notification is kept before pruning removes it.
    public static let deliveredRetention: TimeInterval = 86_400

    public init(id: String, event: String, sink: String, payload: String, createdAt: Date, dueAt: Date, attempts: Int = 0,
                lastError: String? = nil) {
        self.id = id
        self.event = event
        self.sink = sink
        self.payload = payload
        self.createdAt = createdAt
        self.dueAt = dueAt
        self.attempts = attempts
        self.lastError = lastError
    }
}

/// Where an outbox notification stands.
public enum NotificationState: String, Sendable, Hashable, CaseIterable {
    case pending, delivered, failed
}

/// Records listed in creation order (requests and activations).
protocol ActivationOrdered {
    var id: String { get }
    var createdAt: Date { get }
}

extension ActivationRequestRecord: ActivationOrdered {}
extension ActivationRecord: ActivationOrdered {}

/// A request or activation: each transition writes the next version over the current one.
public protocol VersionedRecord {
    var version: Int64 { get set }
    var updatedAt: Date { get set }
}

extension VersionedRecord {
    /// The version a transition at `now` writes over this one (the compare-and-swap expects
    /// `version - 1` in the store).
    public func nextVersion(at now: Date) -> Self {
        var next = self
        next.version += 1
        next.updatedAt = now
        return next
    }
}

extension ActivationRequestRecord: VersionedRecord {}
extension ActivationRecord: VersionedRecord {}
