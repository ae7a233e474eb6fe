import Foundation
import Logging
import TesseraJWT

/// Audit records of failures that anyone can cause without credentials (failed client or admin
/// authentication, rejected subject tokens), bounded per source so that a flood of requests
/// cannot flood the log, while the log stays useful for detection (security review, finding 4).
///
/// Per event name, endpoint and source address, the first failure of each interval is recorded in full
/// at once; the ones after it in that interval are counted, and one summary entry per source
/// and interval records how many there were, between which times, and a few of the client ids
/// and reasons seen. Summaries are written when the interval has ended (on the next failure
/// from that source, or on `flushEnded`, which the server calls every interval) and on shutdown
/// (`flushAll`). A crash loses at most one interval's counts; no token depends on them.
public actor FailureAuditThrottle {
    public static let defaultInterval: TimeInterval = 60
    /// Sources tracked at once; beyond that, further sources share one window, so memory stays
    /// bounded whatever addresses an attacker uses.
    static let maximumSources = 4096
    static let overflowSource = "(other sources)"
    /// Distinct client ids and reasons kept per summary.
    static let samplesKept = 5

    /// One window per event, endpoint (`/token`, `/introspect`...) and source address.
    struct Key: Hashable {
        let event: String
        let endpoint: String
        let source: String
    }

    struct Window {
        let start: Date
        var suppressed = 0
        var firstSuppressed: Date?
        var lastSuppressed: Date?
        var clientIDs: [String] = []
        var reasons: [String] = []
        var actor: AuditActor
    }

    let audit: AuditLog
    let timeSource: any TimeSource
    let interval: TimeInterval
    /// Where a failing audit store is reported.
    let logger: Logger
    private var windows: [Key: Window] = [:]

    public init(audit: AuditLog, timeSource: any TimeSource, interval: TimeInterval = FailureAuditThrottle.defaultInterval,
                logger: Logger) {
        self.audit = audit
        self.timeSource = timeSource
        self.interval = interval
        self.logger = logger
    }

    /// Records `event` now if it is the first of its kind from its source in this interval, and
    /// counts it otherwise. Returns whether it was written (for tests). A failing store is
    /// logged: a refusal must stay a refusal whatever the audit log does.
    @discardableResult
    public func record(_ event: AuditEvent) async -> Bool {
        let now = timeSource.now()
        let endpoint = event.target["endpoint"]?.stringValue ?? ""
        var key = Key(event: event.event, endpoint: endpoint, source: event.actor.remoteAddress ?? "unknown")
        if windows[key] == nil, windows.count >= Self.maximumSources {
            key = Key(event: event.event, endpoint: endpoint, source: Self.overflowSource)
        }
        if let window = windows[key], now.timeIntervalSince(window.start) < interval {
            count(event, into: key, at: now)
            return false
        }
        let ended = windows.removeValue(forKey: key)
        windows[key] = Window(start: now, actor: event.actor)
        if let ended { await writeSummary(of: ended, key: key) }
        await write(event)
        return true
    }

    /// Writes the summaries of every interval that has ended.
    public func flushEnded() async {
        let now = timeSource.now()
        for (key, window) in windows where now.timeIntervalSince(window.start) >= interval {
            windows[key] = nil
            await writeSummary(of: window, key: key)
        }
    }

    /// Writes every pending summary, ended or not: at shutdown.
    public func flushAll() async {
        let pending = windows
        windows = [:]
        for (key, window) in pending { await writeSummary(of: window, key: key) }
    }

    private func count(_ event: AuditEvent, into key: Key, at now: Date) {
        guard var window = windows[key] else { return }
        window.suppressed += 1
        window.firstSuppressed = window.firstSuppressed ?? now
        window.lastSuppressed = now
        if let client = event.actor.clientID, window.clientIDs.count < Self.samplesKept, !window.clientIDs.contains(client) {
            window.clientIDs.append(client)
        }
        for reason in event.reasons where window.reasons.count < Self.samplesKept && !window.reasons.contains(reason) {
            window.reasons.append(reason)
        }
        windows[key] = window
    }

    private func writeSummary(of window: Window, key: Key) async {
        guard window.suppressed > 0, let first = window.firstSuppressed, let last = window.lastSuppressed else { return }
        var actor = window.actor
        actor.clientID = nil
        actor.remoteAddress = key.source == Self.overflowSource ? nil : key.source
        await write(AuditEvent(key.event, outcome: .failure, actor: actor, target: [
            "aggregated": true,
            "count": .number(Double(window.suppressed)),
            "first_at": .string(first.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))),
            "last_at": .string(last.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))),
            "client_ids": .array(window.clientIDs.map(JSONValue.string)),
            "source": .string(key.source),
        ].merging(key.endpoint.isEmpty ? [:] : ["endpoint": .string(key.endpoint)]) { $1 }, reasons: window.reasons))
    }

    private func write(_ event: AuditEvent) async {
        do {
            try await audit.record(event)
        } catch {
            logger.error("audit log unavailable", metadata: ["tessera.error": .string("\(error)"), "tessera.event": .string(event.event)])
        }
    }
}
