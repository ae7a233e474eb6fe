import Foundation

/// Eligibility for a period: a dated entry of a role's `eligible:` ("dana, until the end of the
/// contract"), or an assignment an admin made at run time. Outside [from, until) it admits
/// nobody, and inside it the access it allows never outlives `until`.
public struct DatedEligibility: Sendable, Hashable {
    public enum Who: Sendable, Hashable, CustomStringConvertible {
        /// `upstream:subject`, exactly.
        case subject(String)
        case group(String)

        public var description: String {
            switch self {
            case .subject(let id): id
            case .group(let name): "group \(name)"
            }
        }
    }

    public var who: Who
    public var from: Date?
    public var until: Date?
    /// Who vouches for the person.
    public var sponsor: String?
    public var reason: String?
    /// The run-time assignment it comes from; nil for an entry of the bundle.
    public var assignmentID: String?
    /// How the dates read in reasons: `2026-12-31` for a date written as one, else RFC 3339.
    public var fromText: String?
    public var untilText: String?
    public var location: SourceLocation?

    public init(who: Who, from: Date? = nil, until: Date? = nil, sponsor: String? = nil, reason: String? = nil, assignmentID: String? = nil,
                fromText: String? = nil, untilText: String? = nil, location: SourceLocation? = nil) {
        self.who = who
        self.from = from
        self.until = until
        self.sponsor = sponsor
        self.reason = reason
        self.assignmentID = assignmentID
        self.fromText = fromText ?? from.map(RFC3339.string)
        self.untilText = untilText ?? until.map(RFC3339.string)
        self.location = location
    }

    /// Half-open, as every period of the engine: at `until` it has ended.
    public func holds(at now: Date) -> Bool {
        (from.map { $0 <= now } ?? true) && (until.map { now < $0 } ?? true)
    }

    /// ` (sponsor corp:alice@example.com; assignment asg-...)`, or nothing.
    var provenance: String {
        let parts = [sponsor.map { "sponsor \($0)" }, assignmentID.map { "assignment \($0)" }].compactMap { $0 }
        return parts.isEmpty ? "" : " (\(parts.joined(separator: "; ")))"
    }
}

/// Dated eligibilities of one role, found by who they name: a hash lookup for the subject and
/// one per group of the identity, so thousands of entries cost a decision nothing it does not use.
public struct DatedEligibilityIndex: Sendable {
    private var bySubject: [String: [DatedEligibility]] = [:]
    private var byGroup: [String: [DatedEligibility]] = [:]

    public init(_ entries: some Sequence<DatedEligibility>) {
        for entry in entries {
            switch entry.who {
            case .subject(let id): bySubject[id, default: []].append(entry)
            case .group(let name): byGroup[name, default: []].append(entry)
            }
        }
    }

    public var isEmpty: Bool { bySubject.isEmpty && byGroup.isEmpty }

    /// Every entry that names the identity (held now or not).
    func entries(for identity: Identity) -> [DatedEligibility] {
        var found = bySubject[identity.namespacedSubject] ?? []
        if !byGroup.isEmpty {
            for group in identity.groups { found += byGroup[group] ?? [] }
        }
        return found
    }
}

/// The eligibility assignments made at run time, by role: the snapshot a decision reads
/// (built outside the engine from the store; the engine does no I/O). A class, so a decision
/// context holds one reference.
public final class EligibilityAssignments: Sendable {
    private let byRole: [String: DatedEligibilityIndex]

    public init(_ assignments: [(role: String, eligibility: DatedEligibility)]) {
        var grouped: [String: [DatedEligibility]] = [:]
        for (role, eligibility) in assignments { grouped[role, default: []].append(eligibility) }
        byRole = grouped.mapValues(DatedEligibilityIndex.init)
    }

    func index(for role: String) -> DatedEligibilityIndex? { byRole[role] }
}
