import Foundation
import TesseraJWT
import TesseraStore

/// Takes signed checkpoints of the audit log (periodically in `serve`, on demand with
/// `tessera audit checkpoint`), records each one in the log (`audit.checkpoint`), and keeps the
/// latest for `GET /audit/checkpoint`, where outside parties collect them.
public actor AuditCheckpointer {
    let issuer: String
    let keys: CurrentValue<SigningKeys>
    let store: any AuditStore
    let audit: AuditLog
    let timeSource: any TimeSource
    public private(set) var latest: String?

    public init(issuer: String, keys: CurrentValue<SigningKeys>, store: any AuditStore, audit: AuditLog, timeSource: any TimeSource) {
        self.issuer = issuer
        self.keys = keys
        self.store = store
        self.audit = audit
        self.timeSource = timeSource
    }

    /// Signs the current head; nil when the log is empty. The log's own record of the
    /// checkpoint comes after the entry it covers, so a checkpoint never covers itself.
    @discardableResult
    public func take() async throws -> String? {
        guard let head = try await store.auditHead() else { return nil }
        if let latest, let current = try? AuditCheckpoint.verified(latest, issuer: issuer, keys: keys.value),
           current.head.sequence == head.sequence - 1 {
            // Nothing but our own previous checkpoint entry since: a new one would only record itself.
            return latest
        }
        let signed = try AuditCheckpoint(issuer: issuer, head: head, time: timeSource.now()).signed(with: keys.value)
        try await audit.record(AuditEvent("audit.checkpoint", outcome: .success, target: [
            "sequence": .number(Double(head.sequence)), "hash": .string(head.hash),
        ]))
        latest = signed
        return signed
    }
}
