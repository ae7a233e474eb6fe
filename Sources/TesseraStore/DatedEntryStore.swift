import Foundation

/// An entry an admin adds at run time for a bounded period, beside what the policy bundle
/// says: an on-call override ("carol covers payments-primary tonight") or an eligibility
/// assignment ("dana may ask for db-admin until the 31st"). Both are shared by replicas,
/// written only in transactions that also record their audit entries (`ActivationChange`
/// carries them), and never deleted: a removed or expired entry keeps its row, so the history
/// stays readable.
///
/// `version` is the compare-and-swap counter, as for requests: version 1 is written only where
/// no entry has the id, version `n` only over the stored `n - 1`. So of two admins removing
/// the same entry at once, one removes it and the other is told it already changed.
public struct DatedEntryRecord: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, Hashable, CaseIterable {
        case onCallOverride = "oncall_override"
        case eligibilityAssignment = "eligibility_assignment"
    }

    public enum State: String, Codable, Sendable, Hashable, CaseIterable {
        /// In force from `startsAt` to `endsAt`.
        case active
        /// Removed by an admin before its end.
        case removed
        /// Past its end, and recorded as such by the expiry sweep.
        case expired
    }

    public var id: String
    public var kind: Kind
    public var version: Int64
    public var state: State
    /// What it applies to: a schedule id (overrides) or a role id (assignments).
    public var scope: String
    /// Who: the person on call (a schedule participant), or `upstream:subject` or
    /// `group:NAME` for an assignment.
    public var subject: String
    public var startsAt: Date
    public var endsAt: Date
    public var reason: String?
    /// Who vouches for the person (assignments).
    public var sponsor: String?
    /// The admin who added it (the admin token's subject).
    public var createdBy: String
    public var createdAt: Date
    /// The last change of state: who and when (nil while active).
    public var changedBy: String?
    public var changedAt: Date?
    /// When the notice that it ends soon was written (assignments); nil before.
    public var warnedAt: Date?

    public init(id: String, kind: Kind, version: Int64 = 1, state: State = .active, scope: String, subject: String, startsAt: Date,
                endsAt: Date, reason: String? = nil, sponsor: String? = nil, createdBy: String, createdAt: Date,
                changedBy: String? = nil, changedAt: Date? = nil) {
        self.id = id
        self.kind = kind
        self.version = version
        self.state = state
        self.scope = scope
        self.subject = subject
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.reason = reason
        self.sponsor = sponsor
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.changedBy = changedBy
        self.changedAt = changedAt
    }

    /// The next version in `state`, changed by `actor` at `time`.
    public func moved(to state: State, by actor: String?, at time: Date) -> DatedEntryRecord {
        var next = self
        next.version += 1
        next.state = state
        next.changedBy = actor
        next.changedAt = time
        return next
    }
}

/// The reads of dated entries; writes go through `ActivationStore.commit`, with their audit
/// entries.
public protocol DatedEntryStore: Sendable {
    func datedEntry(id: String) async throws -> DatedEntryRecord?

    /// The entries of `kind` in `state` (every state when nil), ordered by start, then id.
    func datedEntries(kind: DatedEntryRecord.Kind, state: DatedEntryRecord.State?) async throws -> [DatedEntryRecord]

    /// A number that grows with every change to the entries of `kind` (the sum of their
    /// versions): a replica compares it, cheaply, to know whether to read them again.
    func datedEntriesRevision(kind: DatedEntryRecord.Kind) async throws -> Int64
}

extension [DatedEntryRecord] {
    /// The order every backend answers in.
    func inStoreOrder() -> [DatedEntryRecord] {
        sorted { $0.startsAt != $1.startsAt ? $0.startsAt < $1.startsAt : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
    }
}
