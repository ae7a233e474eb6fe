import Foundation
import TesseraStore

/// The approval workflow's storage: transitions are compare-and-swaps that commit with their
/// audit entries and notifications, listings filter and page, and the outbox leases.
extension StoreConformance {
    static let activationChecks: [Check] = [
        Check(name: "a request is created once and reads back equal", run: requestIsCreatedOnce),
        Check(name: "a transition over a stale version writes nothing", run: staleTransitionWritesNothing),
        Check(name: "of concurrent transitions from one version exactly one commits", run: concurrentTransitionsHaveOneWinner),
        Check(name: "a failed seal writes no transition", run: failedSealWritesNoTransition),
        Check(name: "requests list by state, requester, role, deadline and cursor", run: requestsListByFilter),
        Check(name: "activations open with their entry and list by state, holder and review", run: activationsOpenWithTheirEntry),
        Check(name: "ending an activation revokes its live tokens only", run: endingRevokesTheActivationsTokens),
        Check(name: "tokens under an activation are counted on it by their group, or the group writes nothing",
              run: tokensCountOnTheirActivation),
        Check(name: "of tokens racing an activation's end each is refused or revoked", run: tokensRacingAnEndAreRefusedOrRevoked),
        Check(name: "notifications commit with their transition and are claimed under a lease", run: notificationsAreLeased),
    ]

    static func request(_ id: String, requester: String = "corp:alice", role: String = "db-admin", createdAt: Date = now,
                        state: ActivationRequestState = .pending, version: Int64 = 1) -> ActivationRequestRecord {
        ActivationRequestRecord(id: id, version: version, state: state, requester: requester, upstream: "corp", groups: ["sre"], role: role,
                                lifetimeSeconds: 1800, justification: "INC-1 failover", ticket: "INC-1", clientID: "tessera-cli",
                                clientAddress: "10.0.0.1", decisionRules: #"[{"rule":"eligibility","status":"met"}]"#,
                                stageStartedAt: createdAt, createdAt: createdAt, pendingExpiresAt: createdAt + 3600, updatedAt: createdAt)
    }

    static func activation(_ id: String, holder: String = "corp:alice", role: String = "db-admin", createdAt: Date = now,
                           state: ActivationState = .active, version: Int64 = 1) -> ActivationRecord {
        ActivationRecord(id: id, version: version, state: state, holder: holder, upstream: "corp", role: role, clientID: "tessera-cli",
                         windowSeconds: 1800, startsAt: createdAt, endsAt: createdAt + 1800, createdAt: createdAt, updatedAt: createdAt)
    }

    /// A token of `activation` expiring `seconds` after `now`.
    static func token(_ jti: String, activation: String?, expiresIn seconds: TimeInterval) -> IssuedTokenRecord {
        IssuedTokenRecord(jwtID: jti, subject: "corp:alice", clientID: "tessera-cli", audiences: ["a"], scope: nil, keyID: "k",
                          issuedAt: now, expiresAt: now + seconds, activationID: activation)
    }

    /// One entry per token, each counted on its activation (`countsOnActivation`), then one plain entry.
    static func countedEntries(after head: AuditChainHead?, _ tokens: [IssuedTokenRecord]) -> [SealedAuditEntry] {
        let plain = entries(tokens.count + 1, after: head, tag: "counted")
        return zip(plain, tokens).map { entry, token in
            SealedAuditEntry(sequence: entry.sequence, time: entry.time, event: "token.issued", subject: entry.subject, clientID: entry.clientID,
                             outcome: entry.outcome, body: entry.body, hash: entry.hash, issuedToken: token, countsOnActivation: true)
        } + [plain[tokens.count]]
    }

    static func tokensCountOnTheirActivation(_ store: any TesseraStorage) async throws {
        let active = activation("act-1")
        var ended = activation("act-2", createdAt: now + 1)
        ended.state = .ended
        _ = try await store.commit(ActivationChange(activations: [active, ended], time: now)) { head in entries(1, after: head) }
        let written = try await store.appendAudit { head in
            countedEntries(after: head, [token("t1", activation: "act-1", expiresIn: 600), token("t2", activation: "act-1", expiresIn: 1800)])
        }
        try expect(written.count == 3, "a group of two counted tokens wrote \(written.count) entries")
        let counted = try await store.activation(id: "act-1")
        try expect(counted?.tokens == 2 && counted?.version == 2, "two tokens were counted as \(String(describing: counted?.tokens)) "
                   + "in version \(String(describing: counted?.version)), not 2 in version 2 (one compare-and-swap per group)")
        try expect(try await store.issuedToken(jwtID: "t2")?.activationID == "act-1", "a counted token was not recorded")

        let refusals: [(IssuedTokenRecord, String)] = [
            (token("t-ended", activation: "act-2", expiresIn: 60), "an ended activation"),
            (token("t-late", activation: "act-1", expiresIn: 1801), "an activation ending before the token"),
            (token("t-unknown", activation: "act-none", expiresIn: 60), "an activation never recorded"),
        ]
        for (refused, what) in refusals {
            do {
                _ = try await store.appendAudit { head in countedEntries(after: head, [token("t-fine", activation: "act-1", expiresIn: 60), refused]) }
                throw ConformanceFailure(description: "a token under \(what) was written")
            } catch let error as ActivationNoLongerCovers {
                try expect(error.jwtIDs == [refused.jwtID], "the refusal of a token under \(what) named \(error.jwtIDs.sorted())")
            }
            try expect(try await store.auditEntries(after: 0, limit: 100).count == 4, "a refused group (\(what)) wrote audit entries")
            try expect(try await store.issuedToken(jwtID: "t-fine") == nil, "a refused group (\(what)) recorded its covered token")
            try expect(try await store.activation(id: "act-1") == counted, "a refused group (\(what)) changed the activation")
        }
        let after = try await store.appendAudit { head in countedEntries(after: head, [token("t3", activation: "act-1", expiresIn: 60)]) }
        try expect(after.first?.sequence == 5, "the log did not go on after refused groups")
        try expect(try await store.activation(id: "act-1")?.tokens == 3, "the count did not go on after refused groups")
    }

    /// Tokens counted one group at a time while the activation is ended by a compare-and-swap
    /// that is retried when a group moved its version: a token is either refused (it would
    /// have committed after the end) or recorded and then revoked by the end; the count is the
    /// recorded tokens'.
    static func tokensRacingAnEndAreRefusedOrRevoked(_ store: any TesseraStorage) async throws {
        _ = try await store.commit(ActivationChange(activations: [activation("act-1")], time: now)) { head in entries(1, after: head) }
        let jtis = (0..<24).map { "race-\($0)" }
        let ending = Task {
            for attempt in 1...1000 {
                guard var ended = try await store.activation(id: "act-1") else { throw ConformanceFailure(description: "act-1 vanished") }
                ended.version += 1
                ended.state = .ended
                ended.endedAt = now + 60
                if try await store.commit(ActivationChange(activations: [ended], revokeTokensOf: ["act-1"], time: now + 60), seal: { head in
                    entries(1, after: head, tag: "ended")
                }) != nil {
                    return attempt
                }
            }
            throw ConformanceFailure(description: "ending the activation lost 1,000 races in a row")
        }
        var refused = 0
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for jti in jtis {
                group.addTask {
                    do {
                        _ = try await store.appendAudit { head in countedEntries(after: head, [token(jti, activation: "act-1", expiresIn: 600)]) }
                        return true
                    } catch is ActivationNoLongerCovers {
                        return false
                    }
                }
            }
            for try await written in group where !written { refused += 1 }
        }
        _ = try await ending.value
        var recorded = 0
        for jti in jtis {
            guard let issued = try await store.issuedToken(jwtID: jti) else { continue }
            recorded += 1
            try expect(issued.revokedAt == now + 60, "token \(jti) was recorded under the activation but not revoked when it ended")
        }
        try expect(recorded + refused == jtis.count, "\(recorded) tokens recorded and \(refused) refused of \(jtis.count)")
        try expect(try await store.activation(id: "act-1")?.tokens == recorded, "the activation counted other tokens than were recorded")
        try expect(try await store.activation(id: "act-1")?.state == .ended, "the activation did not end")
    }

    static func requestIsCreatedOnce(_ store: any TesseraStorage) async throws {
        let created = request("req-1")
        let written = try await store.commit(ActivationChange(requests: [created], time: now)) { head in entries(1, after: head, tag: "created") }
        try expect(written?.count == 1, "creating a request wrote \(String(describing: written?.count)) audit entries")
        try expect(try await store.activationRequest(id: "req-1") == created, "the request did not round-trip")
        try expect(try await store.activationRequest(id: "unknown") == nil, "an unknown request was found")
        var again = created
        again.justification = "another"
        let repeated = try await store.commit(ActivationChange(requests: [again], time: now)) { head in entries(1, after: head) }
        try expect(repeated == nil, "a second request with the same id was accepted")
        try expect(try await store.activationRequest(id: "req-1") == created, "a refused creation changed the request")
        try expect(try await store.auditEntries(after: 0, limit: 10).count == 1, "a refused creation wrote an audit entry")
    }

    static func staleTransitionWritesNothing(_ store: any TesseraStorage) async throws {
        let created = request("req-1")
        _ = try await store.commit(ActivationChange(requests: [created], time: now)) { head in entries(1, after: head) }
        var approved = created
        approved.version = 2
        approved.state = .approved
        approved.approvals = [RecordedApproval(approver: "corp:bob", stage: 0, comment: "ok", at: now + 5)]
        try expect(try await store.commit(ActivationChange(requests: [approved], time: now)) { head in entries(1, after: head) } != nil,
                   "a transition over the stored version was refused")
        var stale = created
        stale.version = 2
        stale.state = .cancelled
        let outcome = try await store.commit(ActivationChange(requests: [stale], activations: [activation("act-1")], time: now)) { head in
            entries(1, after: head)
        }
        try expect(outcome == nil, "a transition over a stale version was accepted")
        try expect(try await store.activationRequest(id: "req-1") == approved, "a stale transition changed the request")
        try expect(try await store.activation(id: "act-1") == nil, "a stale transition wrote its activation")
        try expect(try await store.auditEntries(after: 0, limit: 10).count == 2, "a stale transition wrote an audit entry")
        var skipping = approved
        skipping.version = 4
        try expect(try await store.commit(ActivationChange(requests: [skipping], time: now)) { head in entries(1, after: head) } == nil,
                   "a transition skipping a version was accepted")
    }

    static func concurrentTransitionsHaveOneWinner(_ store: any TesseraStorage) async throws {
        let created = request("req-1")
        _ = try await store.commit(ActivationChange(requests: [created], time: now)) { head in entries(1, after: head) }
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for approver in 0..<8 {
                group.addTask {
                    var approved = created
                    approved.version = 2
                    approved.state = .approved
                    approved.approvals = [RecordedApproval(approver: "corp:approver-\(approver)", stage: 0, comment: nil, at: now)]
                    return try await store.commit(ActivationChange(requests: [approved], activations: [activation("act-\(approver)")],
                                                                   time: now)) { head in entries(1, after: head, tag: "a\(approver)") } != nil
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try expect(winners == 1, "\(winners) of 8 concurrent approvals committed")
        let log = try await store.auditEntries(after: 0, limit: 20)
        try expect(log.count == 2, "concurrent approvals wrote \(log.count - 1) audit entries, not 1")
        let winner = log.last.map { String($0.event.dropFirst("test.a".count)) } ?? "?"
        try expect(try await store.activationRequest(id: "req-1")?.approvals.first?.approver == "corp:approver-\(winner)",
                   "the stored request is not the one whose audit entry was written")
        let opened = try await store.activations(matching: ActivationQuery())
        try expect(opened.map(\.id) == ["act-\(winner)"], "concurrent approvals opened activations \(opened.map(\.id))")
    }

    static func failedSealWritesNoTransition(_ store: any TesseraStorage) async throws {
        struct SealFailure: Error {}
        do {
            _ = try await store.commit(ActivationChange(requests: [request("req-1")], activations: [activation("act-1")], time: now)) { _ in
                throw SealFailure()
            }
            throw ConformanceFailure(description: "a failing seal did not fail the transition")
        } catch is SealFailure {}
        try expect(try await store.activationRequest(id: "req-1") == nil, "a transition whose seal failed wrote its request")
        try expect(try await store.activation(id: "act-1") == nil, "a transition whose seal failed wrote its activation")
    }

    static func requestsListByFilter(_ store: any TesseraStorage) async throws {
        let records = [
            request("r1", createdAt: now), request("r2", requester: "corp:bob", createdAt: now + 1),
            request("r3", role: "deploy", createdAt: now + 2), request("r4", createdAt: now + 3, state: .denied),
            request("r5", createdAt: now + 3),
        ]
        _ = try await store.commit(ActivationChange(requests: records, time: now)) { head in entries(1, after: head) }
        func ids(_ query: ActivationRequestQuery) async throws -> [String] {
            try await store.activationRequests(matching: query).map(\.id)
        }
        try expect(try await ids(ActivationRequestQuery()) == ["r1", "r2", "r3", "r4", "r5"], "listing all is not in creation order")
        try expect(try await ids(ActivationRequestQuery(states: [.pending])) == ["r1", "r2", "r3", "r5"], "listing pending requests")
        try expect(try await ids(ActivationRequestQuery(requester: "corp:bob")) == ["r2"], "listing a requester's requests")
        try expect(try await ids(ActivationRequestQuery(roles: ["deploy"])) == ["r3"], "listing a role's requests")
        try expect(try await ids(ActivationRequestQuery(roles: [])) == [], "listing no roles found requests")
        try expect(try await ids(ActivationRequestQuery(dueBy: now + 3601)) == ["r1", "r2"],
                   "listing requests whose pending expiry has passed (a denied one has none)")
        try expect(try await ids(ActivationRequestQuery(dueBy: now + 3600)) == ["r1"], "a request is due at its pending expiry itself")
        let first = try await store.activationRequests(matching: ActivationRequestQuery(limit: 2))
        try expect(first.map(\.id) == ["r1", "r2"], "the first page")
        let cursor = first.last.map { ActivationCursor(createdAt: $0.createdAt, id: $0.id) }
        try expect(try await ids(ActivationRequestQuery(after: cursor, limit: 2)) == ["r3", "r4"], "the second page")
        try expect(try await ids(ActivationRequestQuery(after: ActivationCursor(createdAt: now + 3, id: "r4"))) == ["r5"],
                   "a cursor between two requests created in the same millisecond")
    }

    static func activationsOpenWithTheirEntry(_ store: any TesseraStorage) async throws {
        let opened = activation("act-1")
        let token = IssuedTokenRecord(jwtID: "jti-1", subject: "corp:alice", clientID: "tessera-cli", audiences: ["https://db"], scope: nil,
                                      keyID: "k", issuedAt: now, expiresAt: now + 600, activationID: "act-1")
        _ = try await store.appendAudit { head in
            let entry = entries(1, after: head, token: token)[0]
            return [SealedAuditEntry(sequence: entry.sequence, time: entry.time, event: entry.event, subject: entry.subject,
                                     clientID: entry.clientID, outcome: entry.outcome, body: entry.body, hash: entry.hash,
                                     issuedToken: token, openedActivation: opened)]
        }
        try expect(try await store.activation(id: "act-1") == opened, "the activation opened with an audit entry did not round-trip")
        try expect(try await store.issuedToken(jwtID: "jti-1")?.activationID == "act-1", "the token's activation was not recorded")
        do {
            _ = try await store.appendAudit { head in
                let entry = entries(1, after: head)[0]
                return [SealedAuditEntry(sequence: entry.sequence, time: entry.time, event: entry.event, subject: nil, clientID: nil,
                                         outcome: entry.outcome, body: entry.body, hash: entry.hash, openedActivation: opened)]
            }
            throw ConformanceFailure(description: "an activation id was opened twice")
        } catch is StoreError {}
        try expect(try await store.auditEntries(after: 0, limit: 10).count == 1, "opening an activation twice wrote its entry")

        var review = activation("act-2", holder: "corp:bob", createdAt: now + 1)
        review.breakGlass = true
        review.review = ActivationReview()
        let approved = activation("act-3", role: "deploy", createdAt: now + 2, state: .approved)
        _ = try await store.commit(ActivationChange(activations: [review, approved], time: now)) { head in entries(1, after: head) }
        func ids(_ query: ActivationQuery) async throws -> [String] { try await store.activations(matching: query).map(\.id) }
        try expect(try await ids(ActivationQuery()) == ["act-1", "act-2", "act-3"], "listing activations")
        try expect(try await ids(ActivationQuery(states: [.approved])) == ["act-3"], "listing approved activations")
        try expect(try await ids(ActivationQuery(holder: "corp:bob")) == ["act-2"], "listing a holder's activations")
        try expect(try await ids(ActivationQuery(awaitingReview: true)) == ["act-2"], "listing break-glass uses awaiting review")
        try expect(try await ids(ActivationQuery(dueBy: now + 1802)) == ["act-1", "act-2"], "listing windows that have ended")
        try expect(try await ids(ActivationQuery(dueBy: now + 1800)) == ["act-1"], "a window is due at its end itself")
        var reviewed = review
        reviewed.version = 2
        reviewed.review = ActivationReview(reviewer: "corp:carol", comment: "seen", at: now + 60)
        _ = try await store.commit(ActivationChange(activations: [reviewed], time: now)) { head in entries(1, after: head) }
        try expect(try await ids(ActivationQuery(awaitingReview: true)) == [], "a reviewed use is still listed as awaiting review")
    }

    static func endingRevokesTheActivationsTokens(_ store: any TesseraStorage) async throws {
        let opened = activation("act-1")
        _ = try await store.commit(ActivationChange(activations: [opened, activation("act-2")], time: now)) { head in entries(1, after: head) }
        for issued in [token("t1", activation: "act-1", expiresIn: 600), token("t2", activation: "act-1", expiresIn: 900),
                       token("t-expired", activation: "act-1", expiresIn: 30), token("t-other", activation: "act-2", expiresIn: 600),
                       token("t-none", activation: nil, expiresIn: 600)] {
            _ = try await store.appendAudit { head in entries(1, after: head, token: issued) }
        }
        var ended = opened
        ended.version = 2
        ended.state = .ended
        ended.endedAt = now + 60
        let written = try await store.commit(ActivationChange(activations: [ended], revokeTokensOf: ["act-1"], time: now + 60)) { head in
            entries(1, after: head, tag: "ended")
        }
        try expect(written != nil, "ending an activation was refused")
        for jti in ["t1", "t2"] {
            try expect(try await store.issuedToken(jwtID: jti)?.revokedAt == now + 60, "\(jti) of the ended activation was not revoked")
        }
        for jti in ["t-expired", "t-other", "t-none"] {
            try expect(try await store.issuedToken(jwtID: jti)?.revokedAt == nil, "\(jti) was revoked with another activation")
        }
        try expect(try await store.activation(id: "act-1")?.state == .ended, "the activation did not end")
    }

    static func notificationsAreLeased(_ store: any TesseraStorage) async throws {
        func notification(_ id: String, createdAt: Date) -> OutboxNotification {
            OutboxNotification(id: id, event: "request.created", sink: "hook", payload: #"{"type":"request.created"}"#, createdAt: createdAt,
                               dueAt: createdAt)
        }
        let pending = [notification("msg_1", createdAt: now), notification("msg_2", createdAt: now + 1), notification("msg_3", createdAt: now + 2)]
        let refused = try await store.commit(ActivationChange(requests: [request("r1", version: 2)], notifications: [notification("msg_x", createdAt: now)],
                                                              time: now)) { head in entries(1, after: head) }
        try expect(refused == nil, "a transition over a missing request was accepted")
        _ = try await store.commit(ActivationChange(requests: [request("r1")], notifications: pending, time: now)) { head in entries(1, after: head) }
        let held = try await store.notifications(in: .pending, limit: 10)
        try expect(held == pending, "the outbox holds \(held.map(\.id))")
        try expect(try await store.claimNotifications(now: now - 1, claimant: "a", leaseUntil: now + 60, limit: 10).isEmpty,
                   "a notification was claimed before it was due")
        let claimed = try await store.claimNotifications(now: now + 5, claimant: "a", leaseUntil: now + 65, limit: 2)
        try expect(claimed.map(\.id) == ["msg_1", "msg_2"], "the first claim took \(claimed.map(\.id))")
        let other = try await store.claimNotifications(now: now + 6, claimant: "b", leaseUntil: now + 66, limit: 10)
        try expect(other.map(\.id) == ["msg_3"], "a second claimant took \(other.map(\.id)) while the first held its lease")
        try expect(!(try await store.finishNotification(id: "msg_1", claimant: "b", outcome: .delivered(at: now + 7))),
                   "a claimant finished a notification leased to another")
        try expect(try await store.finishNotification(id: "msg_1", claimant: "a", outcome: .delivered(at: now + 7)), "delivering msg_1")
        try expect(try await store.finishNotification(id: "msg_2", claimant: "a",
                                                      outcome: .retry(at: now + 100, attempts: 1, error: "HTTP 503")), "rescheduling msg_2")
        try expect(try await store.finishNotification(id: "msg_3", claimant: "b", outcome: .failed(attempts: 1, error: "HTTP 410")),
                   "failing msg_3")
        try expect(!(try await store.finishNotification(id: "msg_1", claimant: "a", outcome: .delivered(at: now + 8))),
                   "a delivered notification was finished again")
        try expect(try await store.notifications(in: .delivered, limit: 10).map(\.id) == ["msg_1"], "delivered notifications")
        try expect(try await store.notifications(in: .failed, limit: 10).map(\.lastError) == ["HTTP 410"], "failed notifications")
        try expect(try await store.claimNotifications(now: now + 99, claimant: "a", leaseUntil: now + 160, limit: 10).isEmpty,
                   "a rescheduled notification was claimed before its new time")
        let retried = try await store.claimNotifications(now: now + 100, claimant: "b", leaseUntil: now + 160, limit: 10)
        try expect(retried.map(\.id) == ["msg_2"] && retried.first?.attempts == 1 && retried.first?.lastError == "HTTP 503",
                   "the retried notification came back as \(retried)")
        // A lease that ran out (its claimant died) lets another claimant deliver it again.
        let reclaimed = try await store.claimNotifications(now: now + 161, claimant: "c", leaseUntil: now + 220, limit: 10)
        try expect(reclaimed.map(\.id) == ["msg_2"], "a notification whose lease ran out was not claimed again")
        try expect(!(try await store.finishNotification(id: "msg_2", claimant: "b", outcome: .delivered(at: now + 162))),
                   "a claimant whose lease ran out finished the notification")
        _ = try await store.pruneExpired(now: now + 7 + OutboxNotification.deliveredRetention + 1)
        try expect(try await store.notifications(in: .delivered, limit: 10).isEmpty, "pruning kept a delivered notification past its retention")
        try expect(try await store.notifications(in: .pending, limit: 10).map(\.id) == ["msg_2"], "pruning removed a pending notification")
    }
}
