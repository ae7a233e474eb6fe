import Foundation
import Logging
import Synchronization
import TesseraPolicy
import TesseraSchedules

/// Keeps the on-call state the policy engine reads (`OnCallState`): the bundle's native
/// schedules resolved over a moving window, and the imported schedules (iCalendar feeds,
/// PagerDuty) synced on their poll intervals. A failed sync keeps the last good data; once a
/// schedule has gone `max_staleness` without a good sync, or before its first one, conditions on
/// it fail closed and say why. Decisions read a published snapshot: no I/O on the token path.
public final class OnCallService: Sendable {
    /// How far back and ahead timelines are resolved; rebuilt daily, so "until when" answers
    /// stay right for shifts up to a month long.
    static let windowBack: TimeInterval = 86_400
    static let windowAhead: TimeInterval = 35 * 86_400
    static let rebuildAfter: TimeInterval = 86_400

    /// What the last sync of one imported schedule left.
    struct FeedStatus: Sendable {
        var timeline: ShiftTimeline?
        var lastGoodSync: Date?
        var lastAttempt: Date?
        var lastError: String?
    }

    /// The outcome of syncing one feed, as `tessera oncall sync` prints it.
    public struct SyncReport: Sendable {
        public let schedule: String
        public let source: String
        public let shifts: Int
        public let error: String?
    }

    private let configuration: Mutex<OnCallConfiguration>
    private let native = Mutex<(window: Range<Date>, timelines: [String: ShiftTimeline])?>(nil)
    private let feeds = Mutex<[String: FeedStatus]>([:])
    private let published: CurrentValue<OnCallState?>
    private let sources: OnCallSources
    private let timeSource: any TimeSource
    private let logger: Logger

    public init(configuration: OnCallConfiguration, sources: OnCallSources, timeSource: any TimeSource, logger: Logger) {
        self.configuration = Mutex(configuration)
        self.sources = sources
        self.timeSource = timeSource
        self.logger = logger
        published = CurrentValue(nil)
        publish()
    }

    /// The state decisions read now; nil when the bundle has no schedules.
    public var state: OnCallState? { published.value }

    /// The schedules as the current bundle configures them.
    public var configurationValue: OnCallConfiguration { configuration.withLock { $0 } }

    /// A reloaded bundle: native schedules rebuilt at once; an imported schedule whose source
    /// is unchanged keeps what it synced.
    public func reconfigure(_ new: OnCallConfiguration) {
        let kept = Set(new.feeds.map(\.sourceKey))
        configuration.withLock { $0 = new }
        native.withLock { $0 = nil }
        feeds.withLock { $0 = $0.filter { kept.contains($0.key) } }
        publish()
    }

    /// Syncs every imported schedule whose poll interval has passed, then publishes (staleness
    /// is a matter of time, so publishing on every call keeps it current).
    public func syncDue() async {
        let now = timeSource.now()
        let due = configuration.withLock { $0.feeds }.filter { feed in
            guard let last = feeds.withLock({ $0[feed.sourceKey]?.lastAttempt }) else { return true }
            return now.timeIntervalSince(last) >= TimeInterval(feed.pollSeconds)
        }
        for feed in due { _ = await sync(feed) }
        publish()
    }

    /// Syncs every imported schedule now (`tessera oncall sync`).
    public func syncAll() async -> [SyncReport] {
        var reports: [SyncReport] = []
        for feed in configuration.withLock({ $0.feeds }) { reports.append(await sync(feed)) }
        publish()
        return reports
    }

    private func sync(_ feed: OnCallConfiguration.ScheduleFeed) async -> SyncReport {
        let now = timeSource.now()
        let window = now.addingTimeInterval(-Self.windowBack)..<now.addingTimeInterval(Self.windowAhead)
        let result: Result<ShiftTimeline, OnCallSourceFailure>
        do throws(OnCallSourceFailure) {
            result = .success(try await sources.timeline(for: feed, over: window, pagerDuty: configuration.withLock { $0.pagerDuty }))
        } catch {
            result = .failure(error)
        }
        let wasFailing = feeds.withLock { $0[feed.sourceKey]?.lastError != nil }
        switch result {
        case .success(let timeline):
            feeds.withLock { $0[feed.sourceKey] = FeedStatus(timeline: timeline, lastGoodSync: now, lastAttempt: now, lastError: nil) }
            if wasFailing {
                logger.notice("on-call schedule synced again", metadata: ["tessera.schedule": .string(feed.id)])
            }
            return SyncReport(schedule: feed.id, source: feed.sourceDescription, shifts: timeline.shifts.count, error: nil)
        case .failure(let failure):
            feeds.withLock {
                var status = $0[feed.sourceKey] ?? FeedStatus()
                status.lastAttempt = now
                status.lastError = failure.message
                $0[feed.sourceKey] = status
            }
            // Once per outage: the next failures are the same news.
            if !wasFailing {
                logger.warning("on-call schedule cannot be synced; the last good data stays in force until max_staleness", metadata: [
                    "tessera.schedule": .string(feed.id), "tessera.error": .string(failure.message),
                ])
            }
            return SyncReport(schedule: feed.id, source: feed.sourceDescription, shifts: 0, error: failure.message)
        }
    }

    /// Composes and publishes the state: native timelines (rebuilt when their window has
    /// moved on), each imported schedule's last good timeline, and why the others are unknown.
    private func publish() {
        let now = timeSource.now()
        let current = configuration.withLock { $0 }
        guard !current.isEmpty else {
            published.replace(with: nil)
            return
        }
        let nativeTimelines = native.withLock { cached -> [String: ShiftTimeline] in
            if let cached, now.timeIntervalSince(cached.window.lowerBound) < Self.windowBack + Self.rebuildAfter { return cached.timelines }
            let window = now.addingTimeInterval(-Self.windowBack)..<now.addingTimeInterval(Self.windowAhead)
            let timelines = Dictionary(uniqueKeysWithValues: current.native.map { ($0.schedule.id, $0.schedule.timeline(over: window)) })
            cached = (window, timelines)
            return timelines
        }
        var timelines = nativeTimelines
        var zones: [String: TimeZone] = [:]
        for schedule in current.native { zones[schedule.schedule.id] = schedule.schedule.timeZone }
        var unavailable: [String: String] = [:]
        let statuses = feeds.withLock { $0 }
        for feed in current.feeds {
            zones[feed.id] = feed.timeZone
            let status = statuses[feed.sourceKey]
            let failure = status?.lastError.map { ": \($0)" } ?? ""
            guard let timeline = status?.timeline, let synced = status?.lastGoodSync else {
                unavailable[feed.id] = status == nil ? "not synced yet" : "never synced\(failure)"
                continue
            }
            let age = now.timeIntervalSince(synced)
            if age > TimeInterval(feed.maximumStalenessSeconds) {
                unavailable[feed.id] = "no good sync for \(DurationText.format(Int(age))) (max_staleness "
                    + "\(DurationText.format(feed.maximumStalenessSeconds)))\(failure)"
                continue
            }
            timelines[feed.id] = timeline
        }
        published.replace(with: OnCallState(snapshot: OnCallSnapshot(timelines: timelines, policies: current.escalationPolicies),
                                            people: current.people, timeZones: zones, unavailable: unavailable))
    }
}

extension OnCallConfiguration.ScheduleFeed {
    /// What identifies the synced data: the same source under a reloaded bundle keeps it.
    var sourceKey: String { "\(sourceID)|\(sourceDescription)" }

    /// `https://calendar.example.com/a.ics`, `file /etc/tessera/a.ics`, `PagerDuty schedule P1`.
    public var sourceDescription: String {
        switch source {
        case .iCalendarURL(let url): url
        case .iCalendarFile(let path): "file \(path)"
        case .pagerDutySchedule(let id): "PagerDuty schedule \(id)"
        }
    }
}
