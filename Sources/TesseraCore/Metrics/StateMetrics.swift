import Foundation
import Synchronization
import TesseraCrypto
import TesseraStore

/// The gauges that describe the server's state, read from where that state lives each time
/// `/metrics` is scraped: signing keys, upstream key fetches, requests and activations,
/// the notification outbox, on-call syncs, overrides and assignments. Store reads are bounded
/// by the store timeout; a family the store cannot answer for is left out of that scrape
/// rather than shown stale.
struct StateMetrics: Sendable {
    /// Records counted per gauge at most; more reads as this many.
    static let countLimit = 10_000

    let storage: any TesseraStorage
    let keyManager: KeyManager
    let access: CurrentValue<AccessPolicy>
    let onCall: OnCallService
    let onCallOverrides: OnCallOverrides
    let assignments: EligibilityAssignmentBook
    let timeSource: any TimeSource
    let storeTimeout: Duration
    /// The upstream fetch counts seen at the last scrape, so counters move by what changed.
    private let upstreamFetches = UpstreamFetchCounter()

    init(storage: any TesseraStorage, keyManager: KeyManager, access: CurrentValue<AccessPolicy>, onCall: OnCallService,
         onCallOverrides: OnCallOverrides, assignments: EligibilityAssignmentBook, timeSource: any TimeSource, storeTimeout: Duration) {
        self.storage = storage
        self.keyManager = keyManager
        self.access = access
        self.onCall = onCall
        self.onCallOverrides = onCallOverrides
        self.assignments = assignments
        self.timeSource = timeSource
        self.storeTimeout = storeTimeout
    }

    func refresh(_ metrics: TesseraMetrics) async {
        let now = timeSource.now()
        await refreshKeys(metrics, now: now)
        await upstreamFetches.refresh(metrics, caches: access.value.upstreams.caches)
        await refreshWorkflow(metrics)
        for status in onCall.statuses() where status.kind != "native" {
            metrics.gauge("oncall_sync_age", unit: "seconds", help: "Seconds since the last good sync of an imported on-call schedule (-1: never).",
                          labels: [("schedule", status.schedule)], value: status.lastGoodSync.map { now.timeIntervalSince($0).rounded(.down) } ?? -1)
        }
        metrics.gauge("oncall_overrides_active", help: "On-call overrides made at run time and in force.",
                      value: Double(onCallOverrides.entries.active.filter { $0.endsAt > now }.count))
        metrics.gauge("eligibility_assignments_active", help: "Eligibility assignments made at run time and in force.",
                      value: Double(assignments.list(role: nil, expiringWithin: nil).count))
    }

    /// Signing keys by state and algorithm, and the seconds until each algorithm's next key
    /// starts signing (a `next` key's activation, else the current key's scheduled rotation).
    private func refreshKeys(_ metrics: TesseraMetrics, now: Date) async {
        let keyManager = keyManager
        // The key set is read from the store, so it shares the other reads' deadline.
        guard let entries = try? await StoreDeadline.run(storeTimeout, "the metrics scrape", { try await keyManager.entries() }) else { return }
        var counts: [String: [KeyState: Int]] = [:]
        for entry in entries { counts[entry.alg.jwsName, default: [:]][entry.state, default: 0] += 1 }
        for (alg, states) in counts {
            for state in KeyState.allCases {
                metrics.gauge("signing_keys", help: "Signing keys in the key set, by state and algorithm.",
                              labels: [("state", state.rawValue), ("alg", alg)], value: Double(states[state] ?? 0))
            }
        }
        let periods = access.value.keyTimings.rotationPeriods
        for (algorithm, period) in periods {
            let next = entries.filter { $0.alg == algorithm && $0.state == .next }.compactMap(\.activatesAt).min()
            let current = entries.filter { $0.alg == algorithm && $0.state == .current }.compactMap { $0.activatesAt ?? $0.created }.max()
            guard let rotation = next ?? current.map({ $0 + period }) else { continue }
            metrics.gauge("signing_key_next_rotation", unit: "seconds",
                          help: "Seconds until the next scheduled key of an algorithm starts signing (0: due now).",
                          labels: [("alg", algorithm.jwsName)], value: max(0, rotation.timeIntervalSince(now).rounded(.down)))
        }
    }

    /// What waits on people and on delivery: pending requests, active activations, break-glass
    /// uses not yet reviewed, and notifications waiting to be sent.
    private func refreshWorkflow(_ metrics: TesseraMetrics) async {
        let storage = storage
        let limit = Self.countLimit
        let counted = try? await StoreDeadline.run(storeTimeout, "the metrics scrape") {
            async let pending = storage.activationRequests(matching: ActivationRequestQuery(states: [.pending], limit: limit)).count
            async let active = storage.activations(matching: ActivationQuery(states: [.active], limit: limit)).count
            async let unreviewed = storage.activations(matching: ActivationQuery(awaitingReview: true, limit: limit)).count
            async let outbox = storage.notifications(in: .pending, limit: limit).count
            return try await (pending, active, unreviewed, outbox)
        }
        guard let (pending, active, unreviewed, outbox) = counted else { return }
        metrics.gauge("requests_pending", help: "Access requests waiting for approval (at most \(limit) counted).", value: Double(pending))
        metrics.gauge("activations_active", help: "Activations open now (at most \(limit) counted).", value: Double(active))
        metrics.gauge("break_glass_unreviewed", help: "Break-glass uses not yet reviewed (at most \(limit) counted).", value: Double(unreviewed))
        metrics.gauge("notification_outbox_pending", help: "Notifications waiting to be delivered (at most \(limit) counted).", value: Double(outbox))
    }
}

/// Upstream JWKS fetches as Prometheus counters. The key caches count their own fetches; a
/// cache replaced by a policy reload starts again from zero, which counts as new fetches.
private final class UpstreamFetchCounter: Sendable {
    private let seen = Mutex<[String: (fetches: Int, failures: Int)]>([:])

    func refresh(_ metrics: TesseraMetrics, caches: [String: UpstreamKeyCache]) async {
        for (upstream, cache) in caches {
            let (fetches, failures) = (await cache.fetchCount, await cache.failedFetches)
            let (newFetches, newFailures) = seen.withLock { seen in
                let last = seen[upstream] ?? (0, 0)
                seen[upstream] = (fetches, failures)
                return (fetches >= last.fetches ? fetches - last.fetches : fetches, failures >= last.failures ? failures - last.failures : failures)
            }
            metrics.upstreamFetches(upstream: upstream, fetches: newFetches, failures: newFailures)
        }
    }
}
