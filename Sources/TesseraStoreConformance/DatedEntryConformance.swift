import Foundation
import TesseraStore

/// Dated entries (on-call overrides, eligibility assignments): written with their audit
/// entries as compare-and-swaps, listed by kind and state, with a revision that moves on every
/// change so replicas know when to read them again.
extension StoreConformance {
    static let datedEntryChecks: [Check] = [
        Check(name: "a dated entry is added once and reads back equal", run: datedEntryIsAddedOnce),
        Check(name: "dated entries list by kind and state in start order", run: datedEntriesList),
        Check(name: "of concurrent removals of one dated entry exactly one commits", run: concurrentRemovalsHaveOneWinner),
        Check(name: "the dated entries revision moves on every change", run: datedEntriesRevisionMoves),
    ]

    static func datedEntry(_ id: String, kind: DatedEntryRecord.Kind = .eligibilityAssignment, scope: String = "db-admin",
                           startsAt: Date = now, days: Double = 14) -> DatedEntryRecord {
        DatedEntryRecord(id: id, kind: kind, scope: scope, subject: "partner-idp:dana@contractor.example", startsAt: startsAt,
                         endsAt: startsAt + days * 86_400, reason: "CHG-1234 database migration", sponsor: "corp:alice@example.com",
                         createdBy: "corp:admin", createdAt: now)
    }

    static func datedEntryIsAddedOnce(_ store: any TesseraStorage) async throws {
        try expect(try await store.datedEntry(id: "asg-1") == nil, "a new store has a dated entry")
        let added = datedEntry("asg-1")
        let written = try await store.commit(ActivationChange(datedEntries: [added], time: now)) { head in entries(1, after: head, tag: "assigned") }
        try expect(written?.count == 1, "adding an entry wrote \(String(describing: written?.count)) audit entries")
        try expect(try await store.datedEntry(id: "asg-1") == added, "the entry did not round-trip")
        var again = added
        again.subject = "corp:mallory"
        try expect(try await store.commit(ActivationChange(datedEntries: [again], time: now)) { head in entries(1, after: head) } == nil,
                   "a second entry with the same id was added")
        try expect(try await store.datedEntry(id: "asg-1") == added, "a refused add changed the entry")
        try expect(try await store.auditEntries(after: 0, limit: 10).count == 1, "a refused add wrote an audit entry")
    }

    static func datedEntriesList(_ store: any TesseraStorage) async throws {
        let later = datedEntry("asg-b", startsAt: now + 60)
        let earlier = datedEntry("asg-c", startsAt: now)
        let sameStart = datedEntry("asg-a", startsAt: now + 60)
        let override = datedEntry("ovr-1", kind: .onCallOverride, scope: "payments-primary", days: 0.5)
        _ = try await store.commit(ActivationChange(datedEntries: [later, earlier, sameStart, override], time: now)) { head in entries(1, after: head) }
        let removed = earlier.moved(to: .removed, by: "corp:admin", at: now + 5)
        _ = try await store.commit(ActivationChange(datedEntries: [removed], time: now + 5)) { head in entries(1, after: head) }
        let all = try await store.datedEntries(kind: .eligibilityAssignment, state: nil)
        try expect(all.map(\.id) == ["asg-c", "asg-a", "asg-b"], "assignments listed as \(all.map(\.id))")
        let active = try await store.datedEntries(kind: .eligibilityAssignment, state: .active)
        try expect(active.map(\.id) == ["asg-a", "asg-b"], "active assignments listed as \(active.map(\.id))")
        try expect(try await store.datedEntries(kind: .eligibilityAssignment, state: .removed) == [removed], "the removed entry is not listed as removed")
        try expect(try await store.datedEntries(kind: .onCallOverride, state: .active) == [override], "the override is not listed")
        try expect(try await store.datedEntries(kind: .onCallOverride, state: .expired).isEmpty, "an expired override is listed")
    }

    static func concurrentRemovalsHaveOneWinner(_ store: any TesseraStorage) async throws {
        let added = datedEntry("asg-1")
        _ = try await store.commit(ActivationChange(datedEntries: [added], time: now)) { head in entries(1, after: head) }
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for admin in 0..<8 {
                group.addTask {
                    let removed = added.moved(to: admin % 2 == 0 ? .removed : .expired, by: "corp:admin-\(admin)", at: now + 1)
                    return try await store.commit(ActivationChange(datedEntries: [removed], time: now + 1)) { head in
                        entries(1, after: head, tag: "r\(admin)")
                    } != nil
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try expect(winners == 1, "\(winners) of 8 concurrent removals committed")
        let log = try await store.auditEntries(after: 0, limit: 20)
        try expect(log.count == 2, "concurrent removals wrote \(log.count - 1) audit entries, not 1")
        let winner = log.last.map { String($0.event.dropFirst("test.r".count)) } ?? "?"
        try expect(try await store.datedEntry(id: "asg-1")?.changedBy == "corp:admin-\(winner)",
                   "the stored entry is not the one whose audit entry was written")
    }

    static func datedEntriesRevisionMoves(_ store: any TesseraStorage) async throws {
        try expect(try await store.datedEntriesRevision(kind: .onCallOverride) == 0, "a new store has a revision")
        var revisions = [try await store.datedEntriesRevision(kind: .eligibilityAssignment)]
        let added = datedEntry("asg-1")
        _ = try await store.commit(ActivationChange(datedEntries: [added], time: now)) { head in entries(1, after: head) }
        revisions.append(try await store.datedEntriesRevision(kind: .eligibilityAssignment))
        _ = try await store.commit(ActivationChange(datedEntries: [added.moved(to: .expired, by: nil, at: now + 1)], time: now + 1)) { head in
            entries(1, after: head)
        }
        revisions.append(try await store.datedEntriesRevision(kind: .eligibilityAssignment))
        try expect(revisions == revisions.sorted() && Set(revisions).count == 3, "the revision went \(revisions)")
        try expect(try await store.datedEntriesRevision(kind: .onCallOverride) == 0, "an assignment moved the overrides' revision")
    }

    /// Two stores on one database (two replicas, or two processes on one SQLite file): an
    /// entry one adds, the other reads; a removal by the other moves the revision both see, and
    /// neither lists the entry as active any more.
    public static func datedEntriesAreSharedByReplicas(_ first: any TesseraStorage, _ second: any TesseraStorage) async throws {
        let added = datedEntry("asg-shared")
        _ = try await first.commit(ActivationChange(datedEntries: [added], time: now)) { head in entries(1, after: head) }
        try expect(try await second.datedEntries(kind: .eligibilityAssignment, state: .active) == [added], "the other replica does not see the entry")
        let before = try await first.datedEntriesRevision(kind: .eligibilityAssignment)
        try expect(try await second.datedEntriesRevision(kind: .eligibilityAssignment) == before, "the replicas see different revisions")
        let removed = added.moved(to: .removed, by: "corp:admin", at: now + 1)
        try expect(try await second.commit(ActivationChange(datedEntries: [removed], time: now + 1)) { head in entries(1, after: head) } != nil,
                   "the other replica could not remove the entry")
        try expect(try await first.datedEntriesRevision(kind: .eligibilityAssignment) > before, "the removal did not move the revision")
        for store in [first, second] {
            try expect(try await store.datedEntries(kind: .eligibilityAssignment, state: .active).isEmpty, "a removed entry is still active")
        }
        // The first replica, still holding the old version, cannot remove it again.
        try expect(try await first.commit(ActivationChange(datedEntries: [removed], time: now + 2)) { head in entries(1, after: head) } == nil,
                   "a stale removal was accepted")
    }
}
