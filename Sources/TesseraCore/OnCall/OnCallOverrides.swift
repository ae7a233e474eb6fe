import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraSchedules
import TesseraStore

/// Overrides added at run time ("carol covers payments-primary tonight"), by the admin API or
/// `tessera oncall override`: checked against the bundle, kept in the store as dated entries
/// (audited, shared by replicas), and laid on the schedule by `OnCallService`, over every
/// layer, or over everyone a feed has on call.
public struct OnCallOverrides: Sendable {
    /// Overrides reach no further ahead than the on-call window resolves schedules.
    public static let maximumLeadSeconds = Int(OnCallService.windowAhead)
    public static let maximumPersonBytes = 320
    public static let maximumReasonBytes = 500

    public let entries: DatedEntryService
    let onCall: OnCallService
    let timeSource: any TimeSource

    public init(entries: DatedEntryService, onCall: OnCallService, timeSource: any TimeSource) {
        self.entries = entries
        self.onCall = onCall
        self.timeSource = timeSource
    }

    /// Adds an override after checking it: a schedule of the bundle, a person the people
    /// mapping can name, `from` before `until`, an end in the future and within the window.
    public func add(schedule: String, person: String, from: Date, until: Date, reason: String?,
                    actor: AuditActor) async throws(DatedEntryError) -> DatedEntryRecord {
        let configuration = onCall.configurationValue
        let now = timeSource.now()
        guard configuration.scheduleIDs.contains(schedule) else {
            let known = configuration.scheduleIDs.sorted().joined(separator: ", ")
            throw .invalid("no schedule is named \(schedule); the bundle has: \(known.isEmpty ? "none" : known)")
        }
        let who = person.trimmingCharacters(in: .whitespaces)
        guard !who.isEmpty, who.utf8.count <= Self.maximumPersonBytes, !who.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid("who must be a schedule participant (an e-mail address, upstream:subject or alias) of at most \(Self.maximumPersonBytes) bytes")
        }
        guard configuration.maps(who) else {
            throw .invalid("\(who) maps to no identity: use an e-mail address, upstream:subject, or an alias of people.aliases")
        }
        guard from < until else { throw .invalid("from (\(RFC3339.string(from))) must be before until (\(RFC3339.string(until)))") }
        guard until > now else { throw .invalid("until (\(RFC3339.string(until))) has already passed") }
        guard until <= now.addingTimeInterval(TimeInterval(Self.maximumLeadSeconds)) else {
            throw .invalid("until may be at most \(DurationText.format(Self.maximumLeadSeconds)) ahead (how far schedules are resolved)")
        }
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let reason, reason.utf8.count > Self.maximumReasonBytes { throw .invalid("reason may be at most \(Self.maximumReasonBytes) bytes") }
        return try await entries.add(scope: schedule, subject: who, startsAt: from, endsAt: until,
                                     reason: reason?.isEmpty == false ? reason : nil, sponsor: nil, actor: actor)
    }

    public func remove(id: String, actor: AuditActor) async throws(DatedEntryError) -> DatedEntryRecord {
        try await entries.remove(id: id, actor: actor)
    }

    /// Every schedule with where its data comes from, how old it is, who is on call now, and
    /// the overrides in force: what `GET /admin/oncall` answers.
    public func overview() -> JSONValue {
        let now = timeSource.now()
        let state = onCall.state
        let configuration = onCall.configurationValue
        var schedules: [JSONValue] = []
        for status in onCall.statuses() {
            var object: [String: JSONValue] = [
                "id": .string(status.schedule), "source": .string(status.source), "kind": .string(status.kind),
                "time_zone": .string(configuration.timeZone(of: status.schedule)?.identifier ?? "UTC"),
            ]
            object["synced_at"] = status.lastGoodSync.map { .string(RFC3339.string($0)) }
            object["sync_age_seconds"] = status.lastGoodSync.map { .number(now.timeIntervalSince($0).rounded(.down)) }
            object["last_error"] = status.lastError.map(JSONValue.string)
            let unavailable = state?.unavailable[status.schedule]
            object["available"] = .bool(unavailable == nil)
            object["unavailable_reason"] = unavailable.map(JSONValue.string)
            object["on_call"] = .array((state?.snapshot.onCall(schedule: status.schedule, at: now) ?? []).map { shift in
                .object(["person": .string(shift.person), "until": .string(RFC3339.string(shift.end))])
            })
            schedules.append(.object(object))
        }
        return .object(["at": .string(RFC3339.string(now)), "schedules": .array(schedules),
                        "overrides": .array(entries.active.filter { $0.endsAt > now }.map(Self.json))])
    }

    public static func json(_ entry: DatedEntryRecord) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(entry.id), "schedule": .string(entry.scope), "who": .string(entry.subject), "state": .string(entry.state.rawValue),
            "from": .string(RFC3339.string(entry.startsAt)), "until": .string(RFC3339.string(entry.endsAt)),
            "created_by": .string(entry.createdBy), "created_at": .string(RFC3339.string(entry.createdAt)),
        ]
        object["reason"] = entry.reason.map(JSONValue.string)
        object["changed_by"] = entry.changedBy.map(JSONValue.string)
        object["changed_at"] = entry.changedAt.map { .string(RFC3339.string($0)) }
        return .object(object)
    }
}
