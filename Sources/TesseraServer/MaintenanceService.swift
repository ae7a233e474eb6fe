import Logging
import Synchronization
import ServiceLifecycle
import TesseraCore
import TesseraStore

/// The server's periodic chores: signing audit checkpoints, pruning expired records, writing
/// the summaries of unauthenticated failures whose interval ended, and letting time act on
/// requests and activations (expiry, escalation, expiry warnings). Runs beside the HTTP
/// server and stops with it; a failed run is logged and retried at the next interval, never
/// fatal (issuance does not depend on it).
struct MaintenanceService: Service {
    let checkpointer: AuditCheckpointer
    let failureAudit: FailureAuditThrottle
    let storage: any TesseraStorage
    let activations: ActivationService
    /// Syncs imported on-call schedules on their poll intervals and keeps staleness current.
    let onCall: OnCallService
    static let onCallInterval: Duration = .seconds(1)
    /// On-call overrides and eligibility assignments made at run time: reread every second when
    /// another replica changed them, marked expired by the sweep.
    let datedEntries: [DatedEntryService]
    private let datedEntriesFailing = OutageFlag()
    /// How often requests and activations are swept: the precision of their expiry.
    static let sweepInterval: Duration = .seconds(2)
    private let sweepFailing = OutageFlag()
    let timeSource: any TimeSource
    /// Zero disables the chore.
    let checkpointInterval: Duration
    let pruneInterval: Duration
    let logger: Logger

    func run() async throws {
        await withDiscardingTaskGroup { group in
            // Always runs, so the service lives as long as the server (a service that returns
            // ends the whole group); the last summaries are written at shutdown by the issuer.
            group.addTask {
                await repeatEvery(.seconds(FailureAuditThrottle.defaultInterval), startNow: false) { await failureAudit.flushEnded() }
            }
            group.addTask { await repeatEvery(Self.sweepInterval, startNow: true) { await sweep() } }
            group.addTask {
                await repeatEvery(Self.onCallInterval, startNow: true) {
                    await refreshDatedEntries()
                    await onCall.syncDue()
                }
            }
            if checkpointInterval > .zero {
                // `buildApplication` took the first one.
                group.addTask { await repeatEvery(checkpointInterval, startNow: false) { await checkpoint() } }
            }
            if pruneInterval > .zero {
                group.addTask { await repeatEvery(pruneInterval, startNow: true) { await prune() } }
            }
        }
    }

    private func checkpoint() async {
        do {
            if try await checkpointer.take() != nil {
                logger.debug("audit checkpoint signed")
            }
        } catch {
            logger.error("audit checkpoint failed", metadata: ["tessera.error": .string("\(error)")])
        }
    }

    /// A sweep failing every two seconds while the store is away is said once, and its recovery once.
    private func sweep() async {
        do {
            try await activations.sweep()
            if sweepFailing.set(false) { logger.notice("the activation sweep works again") }
        } catch {
            // The store closes at shutdown while a last sweep may still be reading: not a failure.
            guard !Task.isShuttingDownGracefully, sweepFailing.set(true) else { return }
            logger.error("the activation sweep failed; retrying every 2 s", metadata: ["tessera.error": .string(error.message)])
        }
    }

    /// Rereads what other replicas changed and marks what has ended; a store that is away is
    /// said once, and its recovery once. The entries last read stay in force meanwhile.
    private func refreshDatedEntries() async {
        do {
            for entries in datedEntries {
                try await entries.refresh()
                try await entries.expireDue()
                try await entries.warnExpiring()
            }
            if datedEntriesFailing.set(false) { logger.notice("on-call overrides and assignments are read again") }
        } catch {
            guard !Task.isShuttingDownGracefully, datedEntriesFailing.set(true) else { return }
            logger.error("on-call overrides and assignments cannot be read; the last ones read stay in force",
                         metadata: ["tessera.error": .string("\(error)")])
        }
    }

    private func prune() async {
        do {
            let pruned = try await storage.pruneExpired(now: timeSource.now())
            if pruned != PrunedRecords() {
                logger.info("expired records pruned", metadata: [
                    "tessera.tokens": .stringConvertible(pruned.issuedTokens),
                    "tessera.assertion_jtis": .stringConvertible(pruned.assertionJTIs),
                ])
            }
        } catch {
            logger.error("pruning failed", metadata: ["tessera.error": .string("\(error)")])
        }
    }
}

/// Runs `chore` every `interval` until graceful shutdown (or cancellation).
func repeatEvery(_ interval: Duration, startNow: Bool, _ chore: @Sendable () async -> Void) async {
    if startNow { await chore() }
    while !Task.isCancelled, !Task.isShuttingDownGracefully {
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        } catch {
            return
        }
        await chore()
    }
}
