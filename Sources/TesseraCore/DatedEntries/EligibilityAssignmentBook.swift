import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// Eligibility assignments made at run time ("bob may ask for db-admin for the next two
/// weeks"), by the admin API or `tessera assign`: checked against the bundle, kept in the store
/// as dated entries (audited `eligibility.assigned`, `eligibility.removed`,
/// `eligibility.expired`; shared by replicas), and handed to decisions as a snapshot
/// (`EligibilityAssignments`) that the policy engine merges with each role's own eligibility.
public struct EligibilityAssignmentBook: Sendable {
    public static let groupPrefix = "group:"
    public static let maximumReasonBytes = 500
    /// How long after its end an expired assignment still explains a refusal.
    public static let keepEndedSeconds = 30 * 86_400

    public let entries: DatedEntryService
    /// What decisions read; replaced whenever the entries change.
    public let snapshot: CurrentValue<EligibilityAssignments?>
    /// The current bundle's role of a name, and its upstream ids.
    let role: @Sendable (String) -> RoleDefinition?
    let upstreamIDs: @Sendable () -> Set<String>
    let timeSource: any TimeSource

    /// The book over `store`, its snapshot kept current by the entries' change handler.
    /// `planner` announces assignments, their nearing end, removal and expiry through
    /// notifications.yaml (the payload names the sponsor).
    public static func make(store: any TesseraStorage, role: @escaping @Sendable (String) -> RoleDefinition?,
                            upstreamIDs: @escaping @Sendable () -> Set<String>, planner: CurrentValue<any NotificationPlanner>,
                            wakeSender: @escaping @Sendable () -> Void = {}, timeSource: any TimeSource) -> EligibilityAssignmentBook {
        let snapshot = CurrentValue<EligibilityAssignments?>(nil)
        let entries = DatedEntryService(kind: .eligibilityAssignment, store: store, timeSource: timeSource,
                                        keepEndedSeconds: keepEndedSeconds, announce: { event, entry, time in
            planner.value.notifications(event: event, role: entry.scope, breakGlass: false, data: announcement(entry), at: time)
        }, warningSeconds: { planner.value.assignmentExpiryWarningSeconds }, wakeSender: wakeSender,
           changed: { snapshot.replace(with: assignments($0)) })
        return EligibilityAssignmentBook(entries: entries, snapshot: snapshot, role: role, upstreamIDs: upstreamIDs, timeSource: timeSource)
    }

    /// The engine's view of the entries (active, and expired ones, which only explain a refusal).
    public static func assignments(_ records: [DatedEntryRecord]) -> EligibilityAssignments? {
        guard !records.isEmpty else { return nil }
        return EligibilityAssignments(records.map { record in
            let who: DatedEligibility.Who = record.subject.hasPrefix(groupPrefix)
                ? .group(String(record.subject.dropFirst(groupPrefix.count))) : .subject(record.subject)
            return (record.scope, DatedEligibility(who: who, from: record.startsAt, until: record.endsAt, sponsor: record.sponsor,
                                                   reason: record.reason, assignmentID: record.id))
        })
    }

    /// Assigns after checking: a role of the bundle, an `upstream:subject` of an upstream the
    /// role admits (or a group), a reason, an end in the future and at most the role's
    /// `max_assignment` after the start.
    public func assign(role name: String, subject: String?, group: String?, from: Date?, until: Date, reason: String?, sponsor: String?,
                       actor: AuditActor) async throws(DatedEntryError) -> DatedEntryRecord {
        let now = timeSource.now()
        guard let role = role(name) else {
            throw .invalid("no role is named \(name); see tessera policy check for the roles of the bundle")
        }
        let who: String
        switch (subject?.trimmingCharacters(in: .whitespaces), group?.trimmingCharacters(in: .whitespaces)) {
        case (let subject?, nil):
            guard let colon = subject.firstIndex(of: ":"), colon != subject.startIndex, subject.index(after: colon) != subject.endIndex else {
                throw .invalid("subject is upstream:subject, e.g. partner-idp:dana@contractor.example")
            }
            let upstream = String(subject[..<colon])
            guard upstreamIDs().contains(upstream) else { throw .invalid("\(subject) names upstream \(upstream), which upstreams.yaml does not declare") }
            if !role.eligibility.upstreams.isEmpty, !role.eligibility.upstreams.contains(upstream) {
                throw .invalid("role \(name) admits upstreams \(role.eligibility.upstreams.joined(separator: ", ")), not \(upstream)")
            }
            who = subject
        case (nil, let group?) where !group.isEmpty:
            who = Self.groupPrefix + group
        default:
            throw .invalid("give subject (upstream:subject) or group, one of them")
        }
        guard let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
            throw .invalid("reason is required: say why (a ticket, a contract)")
        }
        guard reason.utf8.count <= Self.maximumReasonBytes else { throw .invalid("reason may be at most \(Self.maximumReasonBytes) bytes") }
        let start = from ?? now
        guard start < until else { throw .invalid("until (\(RFC3339.string(until))) must be after from (\(RFC3339.string(start)))") }
        guard until > now else { throw .invalid("until (\(RFC3339.string(until))) has already passed") }
        let maximum = role.eligibility.maximumAssignmentSeconds
        guard until.timeIntervalSince(max(start, now)) <= TimeInterval(maximum) else {
            throw .invalid("an assignment to \(name) lasts at most \(DurationText.format(maximum)) (the role's max_assignment)")
        }
        return try await entries.add(scope: name, subject: who, startsAt: start, endsAt: until, reason: reason,
                                     sponsor: sponsor.flatMap { $0.isEmpty ? nil : $0 }, actor: actor)
    }

    public func unassign(id: String, actor: AuditActor) async throws(DatedEntryError) -> DatedEntryRecord {
        try await entries.remove(id: id, actor: actor)
    }

    /// The active assignments (of `role`), ending within `expiringWithin` seconds when given,
    /// soonest end first.
    public func list(role: String?, expiringWithin: Int?) -> [DatedEntryRecord] {
        let now = timeSource.now()
        return entries.active
            .filter { $0.endsAt > now && (role == nil || $0.scope == role) }
            .filter { entry in expiringWithin.map { entry.endsAt <= now.addingTimeInterval(TimeInterval($0)) } ?? true }
            .sorted { ($0.endsAt, $0.id) < ($1.endsAt, $1.id) }
    }

    /// What a notification says of an assignment.
    static func announcement(_ entry: DatedEntryRecord) -> [String: JSONValue] {
        guard case .object(var data) = json(entry) else { return [:] }
        data["assignment_id"] = data.removeValue(forKey: "id")
        data["justification"] = data.removeValue(forKey: "reason")
        data["command"] = .string("tessera assignments --role \(entry.scope) --expiring 14d")
        return data
    }

    public static func json(_ entry: DatedEntryRecord) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(entry.id), "role": .string(entry.scope), "state": .string(entry.state.rawValue),
            "from": .string(RFC3339.string(entry.startsAt)), "until": .string(RFC3339.string(entry.endsAt)),
            "created_by": .string(entry.createdBy), "created_at": .string(RFC3339.string(entry.createdAt)),
        ]
        if entry.subject.hasPrefix(groupPrefix) {
            object["group"] = .string(String(entry.subject.dropFirst(groupPrefix.count)))
        } else {
            object["subject"] = .string(entry.subject)
        }
        object["reason"] = entry.reason.map(JSONValue.string)
        object["sponsor"] = entry.sponsor.map(JSONValue.string)
        object["changed_by"] = entry.changedBy.map(JSONValue.string)
        object["changed_at"] = entry.changedAt.map { .string(RFC3339.string($0)) }
        return .object(object)
    }
}
