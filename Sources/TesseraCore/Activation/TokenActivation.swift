import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// The activation a token exchange issues under, and what issuing the token writes with it.
public enum TokenActivation: Sendable {
    /// A new window (an allowed exchange, an auto-approval, break-glass), written with the
    /// token's entry, together with its `activation.started` entry and notifications.
    case open(ActivationRecord, events: [AuditEvent], notifications: [OutboxNotification])
    /// An existing window (an approved request, or the holder's active one): the token is
    /// recorded by a compare-and-swap on it, so a token is never issued under an ended window.
    case use(ActivationRecord)

    public var id: String {
        switch self {
        case .open(let record, _, _), .use(let record): record.id
        }
    }
}

extension ActivationService {
    /// A new active window of `lifetime` for an allowed exchange; break-glass ones await review.
    public func opening(identity: Identity, request: AccessRequest, clientID: String, lifetimeSeconds: Int,
                        autoApproval: String?, now: Date) -> TokenActivation {
        var activation = ActivationRecord(
            id: newID(prefix: "act_"), state: .active, holder: identity.namespacedSubject, upstream: identity.upstream, role: request.role,
            clientID: clientID, windowSeconds: lifetimeSeconds, startsAt: now, endsAt: now.addingTimeInterval(TimeInterval(lifetimeSeconds)),
            breakGlass: request.breakGlass, justification: request.justification, ticket: request.ticket,
            review: request.breakGlass ? ActivationReview() : nil, createdAt: now, updatedAt: now)
        activation.tokens = 1  // the token it opens with
        var change = ActivationTransition()
        started(activation, into: &change, now: now)
        if let autoApproval, var first = change.events.first {
            first.target["auto_approved"] = .string(autoApproval)
            change.events[0] = first
        }
        return .open(activation, events: change.events, notifications: change.notifications)
    }

    /// The longest lifetime a token issued now under `activation` may have: the rest of its
    /// window (all of it when the window starts with this token); nil when it has ended.
    public static func remainingSeconds(of activation: ActivationRecord, now: Date) -> Int? {
        switch activation.state {
        case .approved:
            guard let startBy = activation.startBy, startBy > now else { return nil }
            return activation.windowSeconds
        case .active:
            guard let ends = activation.endsAt else { return nil }
            let seconds = Int(ends.timeIntervalSince(now).rounded(.down))
            return seconds >= 1 ? seconds : nil
        default:
            return nil
        }
    }

    /// Records a token minted under an existing activation, with its `token.issued` entry
    /// (`issued`), or refuses it when the window ended or no longer covers the token.
    ///
    /// While the window is active the token goes with the audit log's next group, whose
    /// transaction checks that the window still covers it and counts it there
    /// (`countsOnActivation`): tokens under busy windows share one commit instead of taking
    /// turns. The first token of a `first_token` window starts it, by a compare-and-swap of
    /// its own, retried on the new version when the window changed meanwhile. Errors of the
    /// audit log itself are passed on as they are.
    ///
    /// `read` is the activation as the exchange found it: the first attempt builds on it (the
    /// store checks it again as it writes), later ones on a fresh read.
    public func recordToken(_ issued: AuditEvent, token: IssuedTokenRecord, under read: ActivationRecord, audit: AuditLog) async throws {
        let id = read.id
        let counted = AuditChain.Prepared(issued, issuedToken: token, countsOnActivation: true)
        var known: ActivationRecord? = read
        for _ in 0..<8 {
            let now = timeSource.now()
            let current: ActivationRecord
            if let first = known.take() {
                current = first
            } else {
                do {
                    current = try await activation(id)
                } catch {
                    throw OAuthError(.serverError, error.message)
                }
            }
            if current.covers(tokenExpiringAt: token.expiresAt) {
                do {
                    try await audit.record(counted)
                    return
                } catch is ActivationNoLongerCovers {
                    continue  // it ended (or was cut short) meanwhile: read what it is now
                }
            }
            guard current.state == .approved, (current.startBy ?? .distantPast) > now else {
                throw OAuthError(.accessDenied, "activation \(id) is \(current.state.rawValue) or its window has ended; ask for the role again",
                                 status: 403)
            }
            var next = current.nextVersion(at: now)
            next.tokens += 1
            next.state = .active
            next.startsAt = now
            next.endsAt = now.addingTimeInterval(TimeInterval(current.windowSeconds))
            next.startBy = nil
            var change = ActivationTransition(activations: [next])
            started(next, into: &change, now: now)
            do {
                if try await commit(change, at: now, extra: [AuditChain.Prepared(issued, issuedToken: token)]) { return }
            } catch {
                throw OAuthError(.serverError, "the token could not be recorded in the audit log, so it was not issued; try again")
            }
        }
        // Contention, not a fault: many tokens at once under one activation. The client may retry.
        throw OAuthError(.temporarilyUnavailable, "activation \(id) kept changing while the token was issued; try again", status: 503)
    }
}
