import Foundation

/// Activation requests and activations (the approval workflow), written only by transitions
/// that commit together with their audit entries and notifications.
public protocol ActivationStore: Sendable {
    func activationRequest(id: String) async throws -> ActivationRequestRecord?
    func activationRequests(matching query: ActivationRequestQuery) async throws -> [ActivationRequestRecord]
    func activation(id: String) async throws -> ActivationRecord?
    func activations(matching query: ActivationQuery) async throws -> [ActivationRecord]

    /// Writes `change` and the audit entries `seal` returns in one transaction, or nothing.
    /// Each record is a compare-and-swap: version 1 is written only where no record has the id,
    /// version `n` only over the stored `n - 1`. When one does not hold, nothing is written and
    /// the answer is nil (the caller lost a race: reread and decide again). `seal` gets the
    /// chain head as for `appendAudit`.
    func commit(_ change: ActivationChange,
                seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry]?
}

/// The durable outbox of notifications. Delivery claims due notifications for a lease, so
/// with several replicas each notification is being delivered by one of them at a time; a
/// replica that dies mid-delivery leaves its lease to expire, and another delivers it again
/// (at least once, with the same id).
public protocol NotificationOutbox: Sendable {
    /// Pending notifications due at `now` and not leased to another claimant, oldest first,
    /// leased to `claimant` until `leaseUntil`.
    func claimNotifications(now: Date, claimant: String, leaseUntil: Date, limit: Int) async throws -> [OutboxNotification]

    /// Records the outcome of a claimed delivery: delivered, due again at a later time after a
    /// failure, or failed for good. Ignored (false) when `claimant` no longer holds the lease.
    func finishNotification(id: String, claimant: String, outcome: NotificationDeliveryOutcome) async throws -> Bool

    /// Notifications in `state`, oldest first (for tests, the admin API and metrics).
    func notifications(in state: NotificationState, limit: Int) async throws -> [OutboxNotification]
}

/// What became of one delivery attempt.
public enum NotificationDeliveryOutcome: Sendable, Hashable {
    case delivered(at: Date)
    case retry(at: Date, attempts: Int, error: String)
    case failed(attempts: Int, error: String)
}
