import Foundation
import TesseraStore

/// Appends audit events durably, in groups: while one transaction commits, new events queue,
/// and the next transaction takes them all (one fsync for many entries). `record` returns only
/// once its entry is committed, so a caller can make "no token without a durable audit
/// record" hold by awaiting it before answering.
public actor AuditLog {
    /// An entry waiting for its group; `waiter` nil for the entries recorded together with
    /// another, whose caller waits on the first.
    private struct Pending {
        let event: AuditChain.Prepared
        let waiter: UInt64?
    }

    /// A caller waiting for its entry to be durable, resumed once: by its group's commit, or
    /// at its deadline, whichever comes first.
    private struct Waiter {
        let continuation: CheckedContinuation<SealedAuditEntry, any Error>
        let deadline: ContinuousClock.Instant?
    }

    private let store: any AuditStore
    private let timeSource: any TimeSource
    private var pending: [Pending] = []
    private var waiters: [UInt64: Waiter] = [:]
    private var nextWaiter: UInt64 = 0
    private var flushing = false
    private var watching = false
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

    /// Records `event` (and, in the same transaction, the token it issued) and returns the
    /// sealed entry once it is durable.
    @discardableResult
    public nonisolated func record(_ event: AuditEvent, issuedToken: IssuedTokenRecord? = nil) async throws -> SealedAuditEntry {
        // Prepared here, in the caller's task, so concurrent callers do it in parallel.
        let prepared = AuditChain.Prepared(event, issuedToken: issuedToken)
        return try await enqueue([prepared])
    }

    /// Records `prepared` (with what it opens and announces) and returns its entry once durable.
    @discardableResult
    public nonisolated func record(_ prepared: AuditChain.Prepared) async throws -> SealedAuditEntry {
        try await enqueue([prepared])
    }

    /// Records several entries in one transaction (queued together, so one group takes them
    /// all) and returns the first once all are durable.
    @discardableResult
    public nonisolated func record(together prepared: [AuditChain.Prepared]) async throws -> SealedAuditEntry {
        try await enqueue(prepared)
    }

    /// Queues `events` for the next group; the caller resumes with the first one's entry.
    private func enqueue(_ events: [AuditChain.Prepared]) async throws -> SealedAuditEntry {
        guard let first = events.first else { throw StoreError("nothing to record") }
        return try await withCheckedThrowingContinuation { continuation in
            let id = nextWaiter
            nextWaiter &+= 1
            waiters[id] = Waiter(continuation: continuation, deadline: timeout.map { ContinuousClock.now + $0 })
            pending.append(Pending(event: first, waiter: id))
            // The others' entries are the first's: their waiter is the first's too.
            for event in events.dropFirst() { pending.append(Pending(event: event, waiter: nil)) }
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
            if timeout != nil, !watching {
                watching = true
                Task { await self.watchDeadlines() }
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
                for (entry, sealedEntry) in zip(batch, sealed) { resume(entry.waiter, with: .success(sealedEntry)) }
            } catch let refused as ActivationNoLongerCovers {
                // Nothing was written: the callers whose activation ended are told, and the
                // rest go first in the next group.
                var (kept, dropped) = Self.split(batch, refusing: refused.jwtIDs)
                // A store naming none of the group's tokens would be asked forever: all fail.
                if dropped.isEmpty { (kept, dropped) = ([], batch) }
                for entry in dropped { resume(entry.waiter, with: .failure(refused)) }
                pending.insert(contentsOf: kept, at: 0)
            } catch {
                metrics?.auditFailed(entries: events.count)
                for entry in batch { resume(entry.waiter, with: .failure(error)) }
            }
        }
        flushing = false
    }

    /// `batch` without the callers one of whose entries carries a token in `jwtIDs` (with all
    /// of their entries: a caller's entries are written together or not at all).
    private static func split(_ batch: [Pending], refusing jwtIDs: Set<String>) -> (kept: [Pending], dropped: [Pending]) {
        var callers: [[Pending]] = []
        for entry in batch {
            if entry.waiter != nil || callers.isEmpty { callers.append([entry]) } else { callers[callers.count - 1].append(entry) }
        }
        var kept: [Pending] = []
        var dropped: [Pending] = []
        for entries in callers {
            if entries.contains(where: { $0.event.issuedToken.map { jwtIDs.contains($0.jwtID) } ?? false }) {
                dropped += entries
            } else {
                kept += entries
            }
        }
        return (kept, dropped)
    }

    /// Resumes a waiter unless its deadline already did.
    private func resume(_ id: UInt64?, with result: Result<SealedAuditEntry, any Error>) {
        guard let id, let waiter = waiters.removeValue(forKey: id) else { return }
        waiter.continuation.resume(with: result)
    }

    /// One task for the whole log, not one per entry: while anyone waits, it sleeps until the
    /// earliest deadline and answers every caller whose deadline has passed with `StoreTimeout`
    /// (a store that does not answer holds its group, and every group behind it). Their entries
    /// may still commit later; their tokens were not sent.
    private func watchDeadlines() async {
        while let earliest = waiters.values.compactMap(\.deadline).min() {
            try? await Task.sleep(until: earliest, clock: .continuous)
            let now = ContinuousClock.now
            let expired = waiters.filter { $0.value.deadline.map { $0 <= now } ?? false }.keys
            for id in expired {
                resume(id, with: .failure(StoreTimeout(operation: "an audit append", timeout: timeout ?? .zero)))
            }
        }
        watching = false
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
