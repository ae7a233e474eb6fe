import Logging
import ServiceLifecycle
import TesseraCore
import TesseraStore

/// The server's periodic chores: signing audit checkpoints, pruning expired records, and
/// writing the summaries of unauthenticated failures whose interval ended. Runs beside the HTTP
/// server and stops with it; a failed run is logged and retried at the next interval, never
/// fatal (issuance does not depend on it).
struct MaintenanceService: Service {
    let checkpointer: AuditCheckpointer
    let failureAudit: FailureAuditThrottle
    let storage: any TesseraStorage
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
