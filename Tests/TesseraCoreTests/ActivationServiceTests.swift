import Foundation
import Logging
import Testing
@testable import TesseraCore
import TesseraJWT
import TesseraPolicy
import TesseraStore
import TesseraTestLogging

/// The workflow against a clock the tests move (DESIGN.md "Activation lifecycle"): what time
/// does to requests and windows, and what each transition refuses. The live-socket loop is in
/// TesseraServerTests/ActivationFlowTests.swift.
@Suite("activation service with an injected clock")
struct ActivationServiceTests {
    static let roles = """
    roles:
      - name: db-admin
        audiences: [https://db.example.com]
        default_duration: 1h
        max_duration: 2h
        eligible: {groups: [dba]}
        conditions:
          approval:
            pending_ttl: 4h
            stages:
              - approvers: {groups: [leads]}
                escalate_after: 15m
                escalate_to: {groups: [commanders]}
              - approvers: {groups: [security]}
            approver_conditions: {mfa: true, max_auth_age: 30m}
        extend: {max_times: 1, max_total: 30m, requires_approval: false}
      - name: later
        audiences: [https://db.example.com]
        max_duration: 1h
        eligible: {groups: [dba]}
        conditions:
          approval:
            pending_ttl: 1h
            window_starts: first_token
            stages:
              - approvers: {groups: [leads]}
      - name: approved-extensions
        audiences: [https://db.example.com]
        max_duration: 1h
        eligible: {groups: [dba]}
        conditions:
          approval: {required: true, approvers: [leads], count: 1}
        extend: {max_times: 1, max_total: 1h, requires_approval: true}
    """

    /// The service, its store and the clock, with a planner that records one row per event.
    struct Fixture {
        let clock = ManualTimeSource(testNow)
        let store = InMemoryStorage()
        let service: ActivationService

        init(expiryWarningSeconds: Int = 300) throws {
            let registry = try UpstreamRegistry(upstreams: [], directory: "/nonexistent", fetcher: StubFetcher(), timeSource: clock,
                                                logger: Logger.forCurrentTest())
            let engine = PolicyEngine(roles: try PolicyBundle.parseRoles(ActivationServiceTests.roles, file: "roles/test.yaml"))
            let policy = CurrentValue(AccessPolicy(upstreams: registry, engine: engine, trustedProxies: TrustedProxies()))
            let planner = CurrentValue<any NotificationPlanner>(EventRecorder(expiryWarningSeconds: expiryWarningSeconds))
            service = ActivationService(store: store, policy: policy, planner: planner, timeSource: clock, issuer: testIssuer)
        }

        var now: Date { clock.now() }

        func person(_ subject: String, _ groups: [String], authAge: TimeInterval = 60) -> ActivationActor {
            ActivationActor(identity: Identity(upstream: "corp", subject: subject, groups: groups, authenticationMethods: ["mfa"],
                                               authenticatedAt: now.addingTimeInterval(-authAge)))
        }

        var alice: ActivationActor { person("alice", ["dba"]) }
        var bob: ActivationActor { person("bob", ["leads"]) }
        var carol: ActivationActor { person("carol", ["security"]) }
        var dan: ActivationActor { person("dan", ["commanders"]) }

        func ask(_ role: String = "db-admin", lifetime: Int = 3600) async throws -> ActivationRequestRecord {
            let identity = alice.identity!
            let origin = RequestOrigin(identity: identity, request: AccessRequest(role: role, justification: "INC-7 replica lag"),
                                       lifetimeSeconds: lifetime, clientID: "tessera-cli", clientAddress: "127.0.0.1", rules: .array([]))
            let plan = try #require(service.policy.value.engine.role(named: role)?.conditions.approval)
            return try await service.requestApproval(origin, plan: plan)
        }

        /// Both stages of db-admin approved: the request and the activation it opened.
        func approved() async throws -> (ActivationRequestRecord, ActivationRecord) {
            let request = try await ask()
            _ = try await service.approve(request.id, by: bob, comment: nil)
            let done = try await service.approve(request.id, by: carol, comment: "ok")
            return (done, try await service.activation(try #require(done.activationID)))
        }

        /// Records a token expiring at `expiresAt` under activation `id`, as the token endpoint does.
        func recordToken(expiresAt: Date, under id: String) async throws {
            let token = IssuedTokenRecord(jwtID: "jti_\(UUID())", subject: "corp:alice", clientID: "tessera-cli", audiences: ["https://db"],
                                          scope: nil, keyID: "k", issuedAt: now, expiresAt: expiresAt, activationID: id)
            try await service.recordToken(AuditEvent("token.issued", outcome: .success), token: token, under: try await service.activation(id),
                                          audit: AuditLog(store: store, timeSource: clock))
        }

        func events() async throws -> [String] {
            await store.auditEntries(matching: AuditQuery(limit: 1000)).map(\.event)
        }

        func notified() async throws -> [String] {
            await store.notifications(in: .pending, limit: 1000).map(\.event)
        }
    }

    /// One outbox row per event, so tests see which notices a transition committed.
    struct EventRecorder: NotificationPlanner {
        let expiryWarningSeconds: Int
        var assignmentExpiryWarningSeconds: Int { 86_400 }

        func notifications(event: String, role: String, breakGlass: Bool, data: [String: JSONValue], at time: Date) -> [OutboxNotification] {
            [OutboxNotification(id: "msg_\(UUID())", event: event, sink: "test", payload: "{}", createdAt: time, dueAt: time)]
        }
    }

    func refusal(_ body: () async throws(ActivationError) -> some Any) async -> ActivationError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error
        }
    }

    @Test func aPendingRequestExpiresAtItsPendingTTLAndNotBefore() async throws {
        let fixture = try Fixture()
        let request = try await fixture.ask()
        #expect(request.pendingExpiresAt == testNow.addingTimeInterval(4 * 3600))
        fixture.clock.advance(by: 4 * 3600 - 1)
        #expect(try await fixture.service.sweep().expiredRequests == 0)
        #expect(try await fixture.service.request(request.id).state == .pending)
        fixture.clock.advance(by: 1)
        #expect(try await fixture.service.sweep().expiredRequests == 1)
        #expect(try await fixture.service.sweep().expiredRequests == 0, "an expiry is recorded once")
        #expect(try await fixture.service.request(request.id).state == .expired)
        #expect(try await fixture.events().filter { $0 == "request.expired" }.count == 1)
        #expect(try await fixture.notified().contains("request.expired"))
        let late = await refusal { () async throws(ActivationError) in try await fixture.service.approve(request.id, by: fixture.bob, comment: nil) }
        #expect(late?.status == 409)
        #expect(late?.message.contains("already expired") == true)
    }

    @Test func anExpiredButUnsweptRequestCannotBeApproved() async throws {
        let fixture = try Fixture()
        let request = try await fixture.ask()
        fixture.clock.advance(by: 4 * 3600)
        let late = await refusal { () async throws(ActivationError) in try await fixture.service.approve(request.id, by: fixture.bob, comment: nil) }
        #expect(late?.message == "request \(request.id) has expired")
        #expect(try await fixture.service.request(request.id).version == request.version, "nothing changed")
    }

    @Test func askingAgainReturnsThePendingRequestWithoutPagingTwice() async throws {
        let fixture = try Fixture()
        let first = try await fixture.ask()
        fixture.clock.advance(by: 60)
        let second = try await fixture.ask()
        #expect(second.id == first.id)
        #expect(try await fixture.notified().filter { $0 == "request.created" }.count == 1)
        fixture.clock.advance(by: 4 * 3600)
        #expect(try await fixture.ask().id != first.id, "an expired request is not reused")
    }

    @Test func aLateApprovalStillGivesTheFullWindow() async throws {
        let fixture = try Fixture()
        let request = try await fixture.ask()
        fixture.clock.advance(by: 3 * 3600 + 50 * 60)
        _ = try await fixture.service.approve(request.id, by: fixture.bob, comment: nil)
        let approvedAt = fixture.now.addingTimeInterval(5 * 60)
        fixture.clock.advance(by: 5 * 60)
        let done = try await fixture.service.approve(request.id, by: fixture.carol, comment: nil)
        #expect(done.state == .approved)
        let activation = try await fixture.service.activation(try #require(done.activationID))
        #expect(activation.state == .active)
        #expect(activation.startsAt == approvedAt)
        #expect(activation.endsAt == approvedAt.addingTimeInterval(3600), "the window starts at the last approval, not at the request")
        #expect(ActivationService.remainingSeconds(of: activation, now: approvedAt) == 3600)
        #expect(try await fixture.events().suffix(2) == ["request.approved", "activation.started"])
    }

    @Test func escalationWaitsForEscalateAfterAndHappensOnce() async throws {
        let fixture = try Fixture()
        let request = try await fixture.ask()
        fixture.clock.advance(by: 15 * 60 - 1)
        #expect(try await fixture.service.sweep().escalated == 0)
        let early = await refusal { () async throws(ActivationError) in try await fixture.service.approve(request.id, by: fixture.dan, comment: nil) }
        #expect(early?.status == 403, "the escalation group may not decide before escalate_after")
        fixture.clock.advance(by: 1)
        #expect(try await fixture.service.sweep().escalated == 1)
        #expect(try await fixture.service.sweep().escalated == 0, "a stage escalates once")
        #expect(try await fixture.notified().filter { $0 == "request.escalated" }.count == 1)
        let byDan = try await fixture.service.approve(request.id, by: fixture.dan, comment: "on behalf of the leads")
        #expect(byDan.approvals.last?.viaEscalation == true)
        #expect(byDan.approvals.last?.stage == 0)
        // The second stage waits from the first one's approval, so it does not escalate at once.
        #expect(byDan.stageStartedAt == fixture.now)
        #expect(try await fixture.service.sweep().escalated == 0)
    }

    @Test func windowsWarnAtTheConfiguredLeadTimeThenExpire() async throws {
        let fixture = try Fixture(expiryWarningSeconds: 600)
        let (_, activation) = try await fixture.approved()
        let ends = try #require(activation.endsAt)
        fixture.clock.advance(by: ends.timeIntervalSince(fixture.now) - 601)
        #expect(try await fixture.service.sweep().warned == 0)
        fixture.clock.advance(by: 2)
        #expect(try await fixture.service.sweep().warned == 1, "expiry_warning 10m, read from the planner")
        #expect(try await fixture.service.sweep().warned == 0, "one warning per window")
        #expect(try await fixture.notified().filter { $0 == "activation.expiring" }.count == 1)
        fixture.clock.advance(by: 599)
        #expect(try await fixture.service.sweep().expiredActivations == 1)
        let expired = try await fixture.service.activation(activation.id)
        #expect(expired.state == .expired)
        #expect(try await fixture.events().last == "activation.expired")
        await #expect(throws: OAuthError.self) {
            try await fixture.recordToken(expiresAt: fixture.now.addingTimeInterval(60), under: activation.id)
        }
    }

    @Test func aTokenNeverOutlivesItsWindow() async throws {
        let fixture = try Fixture()
        let (_, activation) = try await fixture.approved()
        let ends = try #require(activation.endsAt)
        fixture.clock.advance(by: 3000)
        #expect(ActivationService.remainingSeconds(of: try await fixture.service.activation(activation.id), now: fixture.now) == 600)
        await #expect(throws: OAuthError.self, "a token past the window's end is refused") {
            try await fixture.recordToken(expiresAt: ends.addingTimeInterval(1), under: activation.id)
        }
        try await fixture.recordToken(expiresAt: ends, under: activation.id)
        try await fixture.recordToken(expiresAt: ends, under: activation.id)
        #expect(try await fixture.service.activation(activation.id).tokens == 2)
        #expect(try await fixture.events().suffix(2) == ["token.issued", "token.issued"])
    }

    @Test func aFirstTokenWindowStartsWithItsFirstTokenOrLapses() async throws {
        let fixture = try Fixture()
        let request = try await fixture.ask("later", lifetime: 1800)
        let done = try await fixture.service.approve(request.id, by: fixture.bob, comment: nil)
        let waiting = try await fixture.service.activation(try #require(done.activationID))
        #expect(waiting.state == .approved)
        #expect(waiting.startBy == fixture.now.addingTimeInterval(3600))
        fixture.clock.advance(by: 1200)
        #expect(ActivationService.remainingSeconds(of: waiting, now: fixture.now) == 1800, "the whole window, starting with this token")
        try await fixture.recordToken(expiresAt: fixture.now.addingTimeInterval(1800), under: waiting.id)
        let started = try await fixture.service.activation(waiting.id)
        #expect(started.state == .active)
        #expect(started.startsAt == fixture.now)
        #expect(started.endsAt == fixture.now.addingTimeInterval(1800))

        let unused = try await fixture.ask("later", lifetime: 1800)
        let unusedDone = try await fixture.service.approve(unused.id, by: fixture.bob, comment: nil)
        fixture.clock.advance(by: 3600)
        #expect(try await fixture.service.sweep().expiredActivations == 2, "the unused approval lapsed, the used window ended")
        #expect(try await fixture.service.activation(try #require(unusedDone.activationID)).state == .expired)
    }

    @Test func cancelRacingTheLastApprovalHasOneWinner() async throws {
        for _ in 0..<20 {
            let fixture = try Fixture()
            let request = try await fixture.ask()
            _ = try await fixture.service.approve(request.id, by: fixture.bob, comment: nil)
            async let approving = refusal { () async throws(ActivationError) in try await fixture.service.approve(request.id, by: fixture.carol, comment: nil) }
            async let cancelling = refusal { () async throws(ActivationError) in try await fixture.service.cancel(request.id, by: fixture.alice, comment: nil) }
            let (approveError, cancelError) = await (approving, cancelling)
            let final = try await fixture.service.request(request.id)
            if approveError == nil {
                #expect(final.state == .approved)
                #expect(cancelError?.message == "request \(request.id) is already approved")
            } else {
                #expect(final.state == .cancelled)
                #expect(cancelError == nil)
                #expect(approveError?.message == "request \(request.id) is already cancelled")
            }
            #expect(await fixture.store.activations(matching: ActivationQuery()).count == (final.state == .approved ? 1 : 0))
        }
    }

    @Test func refusalsChangeNothing() async throws {
        let fixture = try Fixture()
        let request = try await fixture.ask()
        let attempts: [(String, () async throws(ActivationError) -> ActivationRequestRecord)] = [
            ("self-approval", { () async throws(ActivationError) in try await fixture.service.approve(request.id, by: fixture.alice, comment: nil) }),
            ("stage 2 before stage 1", { () async throws(ActivationError) in try await fixture.service.approve(request.id, by: fixture.carol, comment: nil) }),
            ("a stale sign-in", { () async throws(ActivationError) in
                try await fixture.service.approve(request.id, by: fixture.person("bob", ["leads"], authAge: 3600), comment: nil)
            }),
            ("someone else cancels", { () async throws(ActivationError) in try await fixture.service.cancel(request.id, by: fixture.bob, comment: nil) }),
            ("an outsider denies", { () async throws(ActivationError) in
                try await fixture.service.deny(request.id, by: fixture.person("eve", ["dba"]), comment: nil)
            }),
            ("an admin approves", { () async throws(ActivationError) in
                try await fixture.service.approve(request.id, by: ActivationActor(adminSubject: "admin"), comment: nil)
            }),
            ("an oversized comment", { () async throws(ActivationError) in
                try await fixture.service.approve(request.id, by: fixture.bob, comment: String(repeating: "x", count: 2001))
            }),
            ("an unknown id", { () async throws(ActivationError) in try await fixture.service.approve("req_nope", by: fixture.bob, comment: nil) }),
        ]
        for (name, attempt) in attempts {
            let error = await refusal(attempt)
            #expect(error != nil, "\(name) was allowed")
            #expect([400, 403, 404].contains(error?.status ?? 0), "\(name): \(String(describing: error))")
        }
        let after = try await fixture.service.request(request.id)
        #expect(after == request, "a refusal writes nothing")
        #expect(try await fixture.events() == ["request.created"])

        _ = try await fixture.service.deny(request.id, by: fixture.bob, comment: "not during the freeze")
        let twice = await refusal { () async throws(ActivationError) in try await fixture.service.deny(request.id, by: fixture.bob, comment: nil) }
        #expect(twice?.status == 409)
        #expect(twice?.message == "request \(request.id) is already denied")
    }

    @Test func anExtensionWithoutApprovalStaysWithinItsLimits() async throws {
        let fixture = try Fixture()
        let (_, activation) = try await fixture.approved()
        let ends = try #require(activation.endsAt)
        let tooLong = await refusal { () async throws(ActivationError) in
            try await fixture.service.extend(activation.id, by: fixture.alice, seconds: 3600, justification: nil).activation
        }
        #expect(tooLong?.status == 403)
        let extended = try await fixture.service.extend(activation.id, by: fixture.alice, seconds: 1200, justification: "still migrating").activation
        #expect(extended.endsAt == ends.addingTimeInterval(1200))
        let again = await refusal { () async throws(ActivationError) in
            try await fixture.service.extend(activation.id, by: fixture.alice, seconds: 60, justification: nil).activation
        }
        #expect(again?.status == 403, "max_times 1")
        let notHolder = await refusal { () async throws(ActivationError) in
            try await fixture.service.extend(activation.id, by: fixture.bob, seconds: 60, justification: nil).activation
        }
        #expect(notHolder?.status == 403)
    }

    @Test func anEarlyEndRevokesTheWindowsTokensAndSaysWho() async throws {
        let fixture = try Fixture()
        let (_, activation) = try await fixture.approved()
        let byApprover = try await fixture.service.end(activation.id, by: fixture.bob, reason: "incident closed")
        #expect(byApprover.state == .revoked, "ended by someone else than the holder")
        #expect(byApprover.endedBy == "corp:bob")
        let twice = await refusal { () async throws(ActivationError) in try await fixture.service.end(activation.id, by: fixture.alice, reason: nil) }
        #expect(twice?.message == "activation \(activation.id) is already revoked")
        #expect(try await fixture.events().last == "activation.revoked")
    }

    @Test func anExtensionNeedingApprovalIsARequestWhoseApprovalAddsTheTime() async throws {
        let fixture = try Fixture()
        let request = try await fixture.ask("approved-extensions", lifetime: 1800)
        let done = try await fixture.service.approve(request.id, by: fixture.bob, comment: nil)
        let activation = try await fixture.service.activation(try #require(done.activationID))
        let ends = try #require(activation.endsAt)
        fixture.clock.advance(by: 600)
        let (unchanged, asked) = try await fixture.service.extend(activation.id, by: fixture.alice, seconds: 900, justification: "not done yet")
        let extensionRequest = try #require(asked, "an extension needing approval is a request")
        #expect(unchanged.endsAt == ends, "the window does not grow before the approval")
        #expect(extensionRequest.extends == activation.id)
        #expect(extensionRequest.lifetimeSeconds == 900)
        let again = try await fixture.service.extend(activation.id, by: fixture.alice, seconds: 900, justification: nil)
        #expect(again.request?.id == extensionRequest.id, "asking again returns the pending extension")
        let approved = try await fixture.service.approve(extensionRequest.id, by: fixture.bob, comment: "ok")
        #expect(approved.state == .approved)
        #expect(approved.activationID == activation.id, "the extension's approval opens no new window")
        let extended = try await fixture.service.activation(activation.id)
        #expect(extended.endsAt == ends.addingTimeInterval(900))
        #expect(extended.extensions == 1)
        #expect(try await fixture.events().suffix(2) == ["request.approved", "activation.extended"])
        let beyond = await refusal { () async throws(ActivationError) in
            try await fixture.service.extend(activation.id, by: fixture.alice, seconds: 60, justification: nil).activation
        }
        #expect(beyond?.status == 403, "max_times 1")
    }
}
