import Foundation
import TesseraStore

/// What a receiver answered to one delivery attempt, as far as retrying needs it.
public enum NotificationResponse: Sendable, Hashable {
    /// An HTTP answer: its status, its `Retry-After` header and the start of its body (cleaned
    /// for logs: Slack explains a refusal there, such as `invalid_payload`).
    case answered(status: Int, retryAfter: String?, body: String)
    /// No HTTP answer: refused connection, DNS failure, timeout. The text names the cause.
    case unreachable(String)
}

/// When to try a failed delivery again, and when to stop.
///
/// Only 2xx is success. 410 Gone means the receiver wants no more: failed at once. Anything
/// else (another status, no answer) is retried after `initialDelay` doubling per attempt up to
/// `maximumDelay`, each delay drawn between its half and its whole (jitter, so receivers coming
/// back are not hit by every sender at the same instant), or later when `Retry-After` asks.
/// Delivery gives up after `maximumAttempts` attempts, or when the next attempt would fall
/// more than `maximumAge` after the event: an approval request a day old is no longer news.
public struct NotificationRetryPolicy: Sendable, Hashable {
    public var initialDelay: TimeInterval
    public var maximumDelay: TimeInterval
    public var maximumAttempts: Int
    public var maximumAge: TimeInterval

    /// With the defaults, 15 attempts span about 80 minutes (5 s, 10 s, ... 10 min, then every
    /// 10 min), well inside the 24 hours.
    public init(initialDelay: TimeInterval = 5, maximumDelay: TimeInterval = 600, maximumAttempts: Int = 15,
                maximumAge: TimeInterval = 86_400) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumAttempts = maximumAttempts
        self.maximumAge = maximumAge
    }

    /// The wait after `attempts` failed attempts (1 for the first failure), before jitter.
    public func backoff(afterAttempts attempts: Int) -> TimeInterval {
        let doublings = Double(max(0, min(attempts - 1, 62)))
        return min(maximumDelay, initialDelay * pow(2, doublings))
    }

    /// What to record for `notification` after this attempt answered `response` at `now`.
    /// `jitter` is uniform in [0, 1].
    public func outcome(of response: NotificationResponse, for notification: OutboxNotification, now: Date,
                        jitter: Double) -> NotificationDeliveryOutcome {
        let attempts = notification.attempts + 1
        let error: String
        var retryAfter: Date?
        switch response {
        case .answered(let status, let header, let body):
            if (200..<300).contains(status) { return .delivered(at: now) }
            error = "HTTP \(status)" + (body.isEmpty ? "" : ": " + body)
            if status == 410 { return .failed(attempts: attempts, error: error + " (the receiver asked for no more deliveries)") }
            retryAfter = header.flatMap { RetryAfter.date($0, now: now) }
        case .unreachable(let cause):
            error = cause
        }
        guard attempts < maximumAttempts else {
            return .failed(attempts: attempts, error: error + " (gave up after \(attempts) attempts)")
        }
        let wait = backoff(afterAttempts: attempts)
        var due = now.addingTimeInterval(wait / 2 + wait / 2 * min(max(jitter, 0), 1))
        if let retryAfter, retryAfter > due { due = retryAfter }
        guard due <= notification.createdAt.addingTimeInterval(maximumAge) else {
            return .failed(attempts: attempts, error: error + " (gave up: the next attempt would be more than "
                + "\(Int(maximumAge / 3600))h after the event)")
        }
        return .retry(at: due, attempts: attempts, error: error)
    }
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
enum RetryAfter {
    static func date(_ value: String, now: Date) -> Date? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            // Absurdly long waits are still "later than any backoff"; the age limit settles them.
            return now.addingTimeInterval(TimeInterval(text) ?? .greatestFiniteMagnitude)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        // IMF-fixdate, which senders must use; then the two obsolete forms receivers must accept.
        for format in ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
