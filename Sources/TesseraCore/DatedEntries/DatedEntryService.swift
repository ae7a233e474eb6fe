import Foundation
import Synchronization
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// The dated entries of one kind (on-call overrides, or eligibility assignments) as decisions
/// read them, and the only way they change: added, removed early, or marked expired by the
/// sweep, each committed with its audit entry as a compare-and-swap on the entry's version.
///
/// Decisions read `active`, a snapshot in memory: no I/O on the token path. Replicas see each
/// other's changes through `refresh`, which maintenance runs every second and which rereads
/// the entries only when the store's revision for the kind has moved.
public final class DatedEntryService: Sendable {
    /// The audit events of a kind's changes.
    public struct Events: Sendable {
        public var added: String
        public var removed: String
        public var expired: String
        /// Its end is near (assignments only: announced to whoever the routes name, and the sponsor).
        public var expiring: String?

        public static let onCallOverride = Events(added: "oncall.override_added", removed: "oncall.override_removed",
                                                  expired: "oncall.override_expired")
        public static let eligibilityAssignment = Events(added: "eligibility.assigned", removed: "eligibility.removed",
                                                         expired: "eligibility.expired", expiring: "eligibility.expiring")
    }

    /// The outbox rows that announce an event of an entry (committed with its change).
    public typealias Announce = @Sendable (_ event: String, _ entry: DatedEntryRecord, _ at: Date) -> [OutboxNotification]

    public let kind: DatedEntryRecord.Kind
    let events: Events
    private let store: any TesseraStorage
    private let timeSource: any TimeSource
    private let random: any RandomSource
    /// The active entries, and the expired ones kept for `keepEndedSeconds`.
    private let snapshot = CurrentValue<[DatedEntryRecord]>([])
    /// How long an expired entry stays in the snapshot, so that decisions can still say it
    /// ended and when ("eligibility ... ended 2026-12-31") rather than only "not eligible".
    private let keepEndedSeconds: Int
    /// The revision `snapshot` was read at; nil before the first read.
    private let revision = Mutex<Int64?>(nil)
    /// Called with the new snapshot (active entries, and recently expired ones) after it changed:
    /// the on-call state is rebuilt with the new overrides, the assignments handed to decisions.
    private let changed: @Sendable ([DatedEntryRecord]) -> Void
    private let announce: Announce?
    /// How long before its end the `expiring` notice is written.
    private let warningSeconds: @Sendable () -> Int
    private let wakeSender: @Sendable () -> Void

    public init(kind: DatedEntryRecord.Kind, store: any TesseraStorage, timeSource: any TimeSource,
                random: any RandomSource = BufferedSecureRandom(), keepEndedSeconds: Int = 0, announce: Announce? = nil,
                warningSeconds: @escaping @Sendable () -> Int = { 0 }, wakeSender: @escaping @Sendable () -> Void = {},
                changed: @escaping @Sendable ([DatedEntryRecord]) -> Void = { _ in }) {
        self.keepEndedSeconds = keepEndedSeconds
        self.announce = announce
        self.warningSeconds = warningSeconds
        self.wakeSender = wakeSender
        self.kind = kind
        events = kind == .onCallOverride ? .onCallOverride : .eligibilityAssignment
        self.store = store
        self.timeSource = timeSource
        self.random = random
        self.changed = changed
    }

    /// The active entries as last read (including ones whose end has passed but that the
    /// sweep has not marked yet: readers compare the dates themselves).
    public var active: [DatedEntryRecord] { snapshot.value.filter { $0.state == .active } }

    /// Rereads the active entries when another process (or replica) changed them.
    public func refresh() async throws {
        let current = try await store.datedEntriesRevision(kind: kind)
        guard revision.withLock({ $0 }) != current else { return }
        var entries = try await store.datedEntries(kind: kind, state: .active)
        if keepEndedSeconds > 0 {
            let since = timeSource.now().addingTimeInterval(-TimeInterval(keepEndedSeconds))
            entries += try await store.datedEntries(kind: kind, state: .expired).filter { $0.endsAt > since }
        }
        revision.withLock { $0 = current }
        snapshot.replace(with: entries)
        changed(entries)
    }

    /// Adds an entry (a new id, version 1) with its `added` audit event. The caller has
    /// checked it against the bundle.
    public func add(scope: String, subject: String, startsAt: Date, endsAt: Date, reason: String?, sponsor: String?,
                    actor: AuditActor) async throws(DatedEntryError) -> DatedEntryRecord {
        let now = timeSource.now()
        let prefix = kind == .onCallOverride ? "ovr-" : "asg-"
        let record = DatedEntryRecord(id: prefix + Base64URL.encode(random.bytes(count: 12)), kind: kind, scope: scope, subject: subject,
                                      startsAt: startsAt, endsAt: endsAt, reason: reason, sponsor: sponsor,
                                      createdBy: actor.subject ?? "unknown", createdAt: now)
        guard try await commit(record, event: events.added, actor: actor, target: Self.target(record), at: now) else {
            throw .conflict("an entry with id \(record.id) exists already; try again")
        }
        return record
    }

    /// Ends an active entry early. Of two removals at once, one wins and the other is told
    /// the entry had already changed.
    public func remove(id: String, actor: AuditActor) async throws(DatedEntryError) -> DatedEntryRecord {
        let stored: DatedEntryRecord?
        do {
            stored = try await store.datedEntry(id: id)
        } catch {
            throw .unavailable("the store cannot be read: \(error)")
        }
        guard let stored, stored.kind == kind else { throw .notFound("no \(kind.noun) has the id \(id)") }
        guard stored.state == .active else { throw .conflict("\(id) is already \(stored.state.rawValue)") }
        let now = timeSource.now()
        let removed = stored.moved(to: .removed, by: actor.subject, at: now)
        guard try await commit(removed, event: events.removed, actor: actor, target: Self.target(removed), at: now) else {
            throw .conflict("\(id) changed while it was being removed (removed by someone else, or expired)")
        }
        return removed
    }

    /// Marks every active entry whose end has passed as expired, with its audit event; a
    /// replica that loses the race to another's sweep just moves on. Returns how many it marked.
    @discardableResult
    public func expireDue() async throws -> Int {
        let now = timeSource.now()
        var marked = 0
        // From the snapshot: a stale one only loses its compare-and-swap.
        for entry in active where entry.endsAt <= now {
            let expired = entry.moved(to: .expired, by: nil, at: now)
            if try await commit(expired, event: events.expired, actor: AuditActor(), target: Self.target(expired), at: now) { marked += 1 }
        }
        if marked > 0 { try await refresh() }
        return marked
    }

    /// Writes the `expiring` notice of every active entry whose end is within the warning
    /// time, once each (the entry records when; of replicas sweeping at once, one writes it).
    @discardableResult
    public func warnExpiring() async throws -> Int {
        guard let event = events.expiring, announce != nil else { return 0 }
        let now = timeSource.now()
        let lead = TimeInterval(warningSeconds())
        var warned = 0
        for entry in active where entry.warnedAt == nil && entry.endsAt > now && entry.endsAt.timeIntervalSince(now) <= lead {
            var next = entry
            next.version += 1
            next.warnedAt = now
            if try await commit(next, event: event, actor: AuditActor(), target: Self.target(next), at: now) { warned += 1 }
        }
        return warned
    }

    /// False when the version moved under us (a lost race): nothing was written.
    private func commit(_ record: DatedEntryRecord, event name: String, actor: AuditActor, target: [String: JSONValue],
                        at now: Date) async throws(DatedEntryError) -> Bool {
        var fields = target
        fields["entry_id"] = .string(record.id)
        let prepared = [AuditChain.Prepared(AuditEvent(name, outcome: .success, actor: actor, target: fields,
                                                       reasons: record.reason.map { [$0] } ?? []))]
        let notifications = announce?(name, record, now) ?? []
        let written: [SealedAuditEntry]?
        do {
            written = try await store.commit(ActivationChange(notifications: notifications, datedEntries: [record], time: now)) { head in
                AuditChain.seal(prepared, after: head, time: now)
            }
        } catch {
            throw .unavailable("the change could not be recorded, so it was not made: \(error)")
        }
        guard written != nil else { return false }
        if !notifications.isEmpty { wakeSender() }
        try? await refresh()
        return true
    }

    /// What the audit log says of an entry when it is removed or expires.
    static func target(_ record: DatedEntryRecord) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "scope": .string(record.scope), "subject": .string(record.subject),
            "starts_at": .string(RFC3339.string(record.startsAt)), "ends_at": .string(RFC3339.string(record.endsAt)),
        ]
        fields["sponsor"] = record.sponsor.map(JSONValue.string)
        return fields
    }
}

/// Why a dated entry could not be added or removed.
public enum DatedEntryError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalid(String)
    case notFound(String)
    /// The entry changed under the caller (removed, expired) or cannot change any more.
    case conflict(String)
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalid(let text), .notFound(let text), .conflict(let text), .unavailable(let text): text
        }
    }
}

extension DatedEntryRecord.Kind {
    /// `override`, `assignment`: how messages name one.
    public var noun: String {
        switch self {
        case .onCallOverride: "override"
        case .eligibilityAssignment: "assignment"
        }
    }
}
