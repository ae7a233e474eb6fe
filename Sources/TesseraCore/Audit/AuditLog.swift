import Foundation
import TesseraStore

/// Appends audit events durably, in groups: while one transaction commits, new events queue,
/// and the next transaction takes them all (one fsync for many entries). `record` returns only
/// once its entry is committed, so a caller can make "no token without a durable audit
/// record" hold by awaiting it before answering.
public actor AuditLog {
    private struct Pending {
        let event: AuditChain.Prepared
        let continuation: CheckedContinuation<SealedAuditEntry, any Error>?
    }

    private let store: any AuditStore
    private let timeSource: any TimeSource
    private var pending: [Pending] = []
    private var flushing = false
    /// Counts commits, their sizes and times, and what they record (nil: not measured).
    private let metrics: TesseraMetrics?
    /// How long a caller waits for its entry to be durable before it gets `StoreTimeout`
    /// (nil: as long as it takes). The entry may still commit later; its token was not sent.
    private let timeout: Duration?
    /// The deadline other store operations of a request share with the audit append.
    nonisolated var storeTimeout: Duration { timeout ?? IssuerConfiguration.defaultStoreTimeout }

    public init(store: any AuditStore, timeSource: any TimeSource, metrics: TesseraMetrics? = nil, timeout: Duration? = nil) {
        self.store = store
        self.timeSource = timeSource
        self.metrics = metrics
        self.timeout = timeout
    }

    /// `enqueue` within the deadline, when there is one.
    private nonisolated func bounded(_ enqueue: @escaping @Sendable () async throws -> SealedAuditEntry) async throws -> SealedAuditEntry {
        guard let timeout else { return try await enqueue() }
        return try await StoreDeadline.run(timeout, "an audit append", enqueue)
    }

    /// Records `event` (and, in the same transaction, the token it issued) and returns the
    /// sealed entry once it is durable.
    @discardableResult
    public nonisolated func record(_ event: AuditEvent, issuedToken: IssuedTokenRecord? = nil) async throws -> SealedAuditEntry {
        // Prepared here, in the caller's task, so concurrent callers do it in parallel.
        let prepared = AuditChain.Prepared(event, issuedToken: issuedToken)
        return try await bounded { try await self.enqueue(prepared) }
    }

    /// Records `prepared` (with what it opens and announces) and returns its entry once durable.
    @discardableResult
    public nonisolated func record(_ prepared: AuditChain.Prepared) async throws -> SealedAuditEntry {
        try await bounded { try await self.enqueue(prepared) }
    }

    /// Records several entries in one transaction (queued together, so one group takes them
    /// all) and returns the first once all are durable.
    @discardableResult
    public nonisolated func record(together prepared: [AuditChain.Prepared]) async throws -> SealedAuditEntry {
        try await bounded { try await self.enqueue(together: prepared) }
    }

    private func enqueue(together events: [AuditChain.Prepared]) async throws -> SealedAuditEntry {
        guard let first = events.first else { throw StoreError("nothing to record") }
        let rest = events.dropFirst()
        return try await withCheckedThrowingContinuation { continuation in
            pending.append(Pending(event: first, continuation: continuation))
            // The others' entries are the first's: their waiters are the first's too.
            for event in rest { pending.append(Pending(event: event, continuation: nil)) }
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
    }

    private func enqueue(_ event: AuditChain.Prepared) async throws -> SealedAuditEntry {
        try await withCheckedThrowingContinuation { continuation in
            pending.append(Pending(event: event, continuation: continuation))
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
    }

    private func flush() async {
        while !pending.isEmpty {
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            let events = batch.map(\.event)
            let time = timeSource.now()
            let started = ContinuousClock.now
            do {
                let sealed = try await store.appendAudit { head in
                    AuditChain.seal(events, after: head, time: time)
                }
                metrics?.auditCommitted(events.map(\.event), duration: ContinuousClock.now - started)
                for (waiter, entry) in zip(batch, sealed) { waiter.continuation?.resume(returning: entry) }
            } catch {
                metrics?.auditFailed(entries: events.count)
                for waiter in batch { waiter.continuation?.resume(throwing: error) }
            }
        }
        flushing = false
    }

    /// Recomputes the whole chain from the store, page by page.
    public static func verify(_ store: any AuditStore, pageSize: Int = 1000) async throws -> Result<AuditChainHead?, AuditChain.Break> {
        var head: AuditChainHead?
        while true {
            let page = try await store.auditEntries(after: head?.sequence ?? 0, limit: pageSize)
            if page.isEmpty { return .success(head) }
            switch AuditChain.verify(page, after: head) {
            case .success(let next): head = next
            case .failure(let broken): return .failure(broken)
            }
        }
    }
}
