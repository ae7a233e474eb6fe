import Foundation
import Testing
import TesseraCore
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// Run-time assignments with an injected clock: checked against the role, announced through the
/// outbox with the change that causes each notice (assigned, ending soon once, expired), and
/// handed to decisions as a snapshot.
@Suite("eligibility assignments")
struct EligibilityAssignmentBookTests {
    /// Every notice as one outbox row carrying its data, so tests read what would be sent.
    struct Recorder: NotificationPlanner {
        var expiryWarningSeconds: Int { 300 }
        var assignmentExpiryWarningSeconds: Int { 86_400 }

        func notifications(event: String, role: String, breakGlass: Bool, data: [String: JSONValue], at time: Date) -> [OutboxNotification] {
            var writer = JSONWriter()
            writer.value(.object(data))
            return [OutboxNotification(id: "msg_\(UUID())", event: event, sink: "test", payload: String(decoding: writer.bytes, as: UTF8.self),
                                       createdAt: time, dueAt: time)]
        }
    }

    static let role = RoleDefinition(name: "db-admin", audiences: ["https://db.example.com"], defaultDurationSeconds: 3600, maxDurationSeconds: 3600,
                                     eligibility: Eligibility(upstreams: ["corp", "partner-idp"], groups: ["dba"], maximumAssignmentSeconds: 30 * 86_400))

    @Test func assignmentsAreCheckedAnnouncedAndExpire() async throws {
        let clock = ManualTimeSource(RFC3339.date("2026-12-02T09:00:00Z")!)
        let store = InMemoryStorage()
        let book = EligibilityAssignmentBook.make(store: store, role: { $0 == "db-admin" ? Self.role : nil }, upstreamIDs: { ["corp", "partner-idp"] },
                                                  planner: CurrentValue<any NotificationPlanner>(Recorder()), timeSource: clock)
        let ops = AuditActor(subject: "corp:ops")
        /// Why an assignment is refused; nil when it is made.
        func refusal(role: String = "db-admin", subject: String?, group: String? = nil, until: Date, reason: String = "r") async -> String? {
            do {
                _ = try await book.assign(role: role, subject: subject, group: group, from: nil, until: until, reason: reason, sponsor: nil, actor: ops)
                return nil
            } catch {
                return error.description
            }
        }
        let now = clock.now()
        #expect(await refusal(role: "nope", subject: "corp:x", until: now + 60)?
            .contains("no role is named nope") == true)
        #expect(await refusal(subject: "elsewhere:x", until: now + 60)?
            .contains("upstreams.yaml does not declare") == true)
        #expect(await refusal(subject: "corp:x", until: now + 60, reason: " ")?
            .contains("reason is required") == true)
        #expect(await refusal(subject: "corp:x", until: now + 31 * 86_400)?
            .contains("the role's max_assignment") == true)
        #expect(await refusal(subject: "corp:x", group: "dba", until: now + 60)?
            .contains("subject (upstream:subject) or group") == true)
        #expect(await store.datedEntries(kind: .eligibilityAssignment, state: nil).isEmpty, "a refused assignment was written")

        let dana = try await book.assign(role: "db-admin", subject: "partner-idp:dana@contractor.example", group: nil, from: nil, until: now + 2 * 86_400,
                                         reason: "CHG-1234", sponsor: "corp:alice@example.com", actor: ops)
        let engine = PolicyEngine(roles: [Self.role])
        let identity = Identity(upstream: "partner-idp", subject: "dana@contractor.example")
        func allowed(at time: Date) -> Bool {
            engine.decide(identity: identity, request: AccessRequest(role: "db-admin"),
                          context: DecisionContext(clientID: "cli", now: time, assignments: book.snapshot.value)).isAllowed
        }
        #expect(allowed(at: now))
        #expect(book.list(role: "db-admin", expiringWithin: 86_400).isEmpty)
        #expect(book.list(role: nil, expiringWithin: 14 * 86_400).map(\.id) == [dana.id])

        // A day before the end: the notice goes out once, naming the sponsor.
        clock.advance(by: 86_400 + 1)
        #expect(try await book.entries.warnExpiring() == 1)
        #expect(try await book.entries.warnExpiring() == 0)
        clock.advance(by: 86_400)
        #expect(!allowed(at: clock.now()))
        #expect(try await book.entries.expireDue() == 1)
        // Marked expired, it still explains the refusal.
        let refused = engine.decide(identity: identity, request: AccessRequest(role: "db-admin"),
                                    context: DecisionContext(clientID: "cli", now: clock.now(), assignments: book.snapshot.value))
        #expect(refused.failureSummary.contains("eligibility of partner-idp:dana@contractor.example as partner-idp:dana@contractor.example ended"),
                "\(refused.failureSummary)")
        #expect(book.list(role: nil, expiringWithin: nil).isEmpty)
        let outbox = await store.notifications(in: .pending, limit: 10)
        #expect(outbox.map(\.event) == ["eligibility.assigned", "eligibility.expiring", "eligibility.expired"])
        #expect(outbox.allSatisfy { $0.payload.contains(#""sponsor":"corp:alice@example.com""#) }, "\(outbox.map(\.payload))")
        let audit = try await store.auditEntries(after: 0, limit: 10).map(\.event)
        #expect(audit == ["eligibility.assigned", "eligibility.expiring", "eligibility.expired"])
    }
}
