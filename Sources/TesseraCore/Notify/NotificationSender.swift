import Foundation
import Logging
import Synchronization
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// Delivers the outbox: claims due notifications for a lease, POSTs each to its sink (signed
/// per Standard Webhooks for webhooks, as is for Slack), and records the outcome. Runs in a
/// task of its own (`run()`), so no request ever waits for a receiver.
///
/// Delivery is at least once: a replica that dies after the receiver answered but before the
/// outcome is recorded leaves its lease to expire, and the notification goes again with the
/// same `webhook-id`. `wake()` makes it look at once (a transition just wrote notifications);
/// otherwise it polls every `pollInterval`, which picks up what other replicas wrote and what
/// was left over from before a crash.
///
/// Within one claimed batch a sink's notifications go one after another, oldest first, while
/// different sinks are served side by side; no delivery starts unless it can end (timeout)
/// before the lease does, so a slow sink never makes another replica send the same thing twice.
public final class NotificationSender: Sendable {
    public struct Options: Sendable {
        /// How long a claim lasts; longer than the transport's 15 s timeout.
        public var lease: TimeInterval
        public var pollInterval: Duration
        /// Notifications claimed at a time.
        public var batchSize: Int
        /// The longest one attempt may take (the transport's deadline).
        public var attemptTimeout: TimeInterval
        public var retry: NotificationRetryPolicy

        public init(lease: TimeInterval = 60, pollInterval: Duration = .seconds(1), batchSize: Int = 16, attemptTimeout: TimeInterval = 15,
                    retry: NotificationRetryPolicy = NotificationRetryPolicy()) {
            self.lease = lease
            self.pollInterval = pollInterval
            self.batchSize = batchSize
            self.attemptTimeout = attemptTimeout
            self.retry = retry
        }
    }

    /// This process's name in the outbox's leases.
    public let claimant: String
    let outbox: any NotificationOutbox
    let settings: CurrentValue<NotificationSettings>
    let transport: any NotificationTransport
    let audit: AuditLog
    let timeSource: any TimeSource
    let random: any RandomSource
    let options: Options
    let logger: Logger
    private let wakeups: AsyncStream<Void>
    private let wakeupContinuation: AsyncStream<Void>.Continuation
    private let stopping = Atomic<Bool>(false)
    /// Whether the last claim failed, so a store that is down is logged once, not every poll.
    private let outboxFailing = Atomic<Bool>(false)

    public init(outbox: any NotificationOutbox, settings: CurrentValue<NotificationSettings>, transport: any NotificationTransport,
                audit: AuditLog, timeSource: any TimeSource = SystemTimeSource(), random: any RandomSource = BufferedSecureRandom(),
                options: Options = Options(), claimant: String? = nil, logger: Logger) {
        self.outbox = outbox
        self.settings = settings
        self.transport = transport
        self.audit = audit
        self.timeSource = timeSource
        self.random = random
        self.options = options
        self.claimant = claimant ?? Self.makeClaimantID(random: random)
        self.logger = logger
        // One pending wake-up is as good as many: the sender drains everything due each time.
        (wakeups, wakeupContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Host, process id and random bits: unique per process, readable in the outbox.
    public static func makeClaimantID(random: any RandomSource = BufferedSecureRandom()) -> String {
        "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(Base64URL.encode(random.bytes(count: 6)))"
    }

    /// New notifications are in the outbox: deliver them now rather than at the next poll.
    public func wake() {
        wakeupContinuation.yield()
    }

    /// Stops after the deliveries under way (graceful shutdown); `run()` then returns. What is
    /// still due stays in the outbox for the next start or another replica.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        wakeupContinuation.finish()
    }

    /// Delivers until `stop()` or cancellation. Call once.
    public func run() async {
        wake()  // what the outbox held before this process started
        await withDiscardingTaskGroup { group in
            group.addTask { [wakeupContinuation, pollInterval = options.pollInterval] in
                while true {
                    do { try await Task.sleep(for: pollInterval) } catch { return }
                    wakeupContinuation.yield()
                }
            }
            for await _ in wakeups {
                await deliverDue()
                if stopping.load(ordering: .relaxed) { break }
            }
            group.cancelAll()
        }
    }

    /// Claims and delivers batches until nothing more is due: one round of `run()`, public for
    /// tests that move time by hand.
    public func deliverDue() async {
        while !stopping.load(ordering: .relaxed), !Task.isCancelled {
            let now = timeSource.now()
            let leaseUntil = now.addingTimeInterval(options.lease)
            let batch: [OutboxNotification]
            do {
                batch = try await outbox.claimNotifications(now: now, claimant: claimant, leaseUntil: leaseUntil, limit: options.batchSize)
                if outboxFailing.exchange(false, ordering: .relaxed) { logger.notice("notification outbox readable again") }
            } catch {
                if !outboxFailing.exchange(true, ordering: .relaxed) {
                    logger.error("cannot read the notification outbox; retrying every poll", metadata: ["tessera.error": .string("\(error)")])
                }
                return
            }
            guard !batch.isEmpty else { return }
            let settings = settings.value
            let bySink = Dictionary(grouping: batch, by: \.sink)
            await withDiscardingTaskGroup { group in
                for (_, notifications) in bySink {
                    group.addTask {
                        for notification in notifications {
                            // Claimed oldest first; a delivery that could outlast the lease is left
                            // for the next claim (by anyone) rather than risk a second sender.
                            guard self.timeSource.now().addingTimeInterval(self.options.attemptTimeout) < leaseUntil else { return }
                            await self.deliver(notification, settings: settings)
                        }
                    }
                }
            }
            if batch.count < options.batchSize { return }
        }
    }

    /// One attempt at one claimed notification, and its outcome recorded.
    func deliver(_ notification: OutboxNotification, settings: NotificationSettings) async {
        let outcome: NotificationDeliveryOutcome
        if let sink = settings.sink(named: notification.sink) {
            switch request(for: notification, to: sink) {
            case .success(let request):
                let response = await transport.post(request)
                outcome = options.retry.outcome(of: response, for: notification, now: timeSource.now(), jitter: jitter())
            case .failure(let error):
                outcome = options.retry.outcome(of: .unreachable("cannot sign: \(error)"), for: notification, now: timeSource.now(),
                                                jitter: jitter())
            }
        } else {
            outcome = .failed(attempts: notification.attempts, error: "the sink \"\(notification.sink)\" is no longer in "
                + "\(NotificationSettings.fileName); not sent")
        }
        let recorded: Bool
        do {
            recorded = try await outbox.finishNotification(id: notification.id, claimant: claimant, outcome: outcome)
        } catch {
            // The lease runs out and the notification is sent again: at least once.
            logger.error("cannot record a notification's delivery; it will be sent again", metadata: [
                "tessera.notification_id": .string(notification.id), "tessera.error": .string("\(error)"),
            ])
            return
        }
        guard recorded else {
            logger.warning("notification lease lost before its delivery was recorded", metadata: [
                "tessera.notification_id": .string(notification.id), "tessera.sink": .string(notification.sink),
            ])
            return
        }
        await report(outcome, of: notification)
    }

    private func request(for notification: OutboxNotification, to sink: NotificationSink) -> Result<NotificationRequest, CryptoError> {
        let body = Array(notification.payload.utf8)
        var headers: [(name: String, value: String)] = []
        if sink.kind == .webhook, let secret = sink.secret {
            do {
                let timestamp = Int64(timeSource.now().timeIntervalSince1970.rounded(.down))
                headers = try StandardWebhookSigner(secret: secret).headers(id: notification.id, timestamp: timestamp, body: body)
            } catch {
                return .failure(error)
            }
        }
        return .success(NotificationRequest(url: sink.url, headers: headers, body: body))
    }

    /// A log line per failure; an audit record on the first failure and when giving up, so a
    /// receiver down for an hour leaves two entries per notification, not fifteen.
    private func report(_ outcome: NotificationDeliveryOutcome, of notification: OutboxNotification) async {
        var metadata: Logger.Metadata = [
            "tessera.notification_id": .string(notification.id), "tessera.sink": .string(notification.sink),
            "tessera.event": .string(notification.event),
        ]
        switch outcome {
        case .delivered:
            logger.debug("notification delivered", metadata: metadata)
        case .retry(let time, let attempts, let error):
            metadata["tessera.attempts"] = .stringConvertible(attempts)
            metadata["tessera.error"] = .string(error)
            metadata["tessera.retry_at"] = .string(time.formatted(Date.ISO8601FormatStyle()))
            logger.warning("notification delivery failed; will retry", metadata: metadata)
            if notification.attempts == 0 {
                await recordFailure(notification, attempts: attempts, error: error, retryAt: time)
            }
        case .failed(let attempts, let error):
            metadata["tessera.attempts"] = .stringConvertible(attempts)
            metadata["tessera.error"] = .string(error)
            logger.error("notification delivery failed for good", metadata: metadata)
            await recordFailure(notification, attempts: attempts, error: error, retryAt: nil)
        }
    }

    private func recordFailure(_ notification: OutboxNotification, attempts: Int, error: String, retryAt: Date?) async {
        do {
            try await audit.record(.notificationFailed(notification, attempts: attempts, error: error, retryAt: retryAt))
        } catch let failure {
            logger.error("cannot audit a failed notification", metadata: [
                "tessera.notification_id": .string(notification.id), "tessera.error": .string("\(failure)"),
            ])
        }
    }

    /// Uniform in [0, 1].
    private func jitter() -> Double {
        let bits = random.bytes(count: 8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(bits >> 11) / Double(1 << 53)
    }
}

extension AuditEvent {
    /// A notification that could not be delivered: on its first failure (`will_retry` true,
    /// with the next attempt's time) and when delivery gives up (`will_retry` false).
    public static func notificationFailed(_ notification: OutboxNotification, attempts: Int, error: String, retryAt: Date?) -> AuditEvent {
        var target: [String: JSONValue] = [
            "notification_id": .string(notification.id), "sink": .string(notification.sink), "event": .string(notification.event),
            "attempts": .number(Double(attempts)), "will_retry": .bool(retryAt != nil),
        ]
        target["next_attempt_at"] = retryAt.map { .string($0.formatted(Date.ISO8601FormatStyle())) }
        return AuditEvent("notification.failed", outcome: .failure, target: target, reasons: [error])
    }
}
