import Foundation
import Logging
import Synchronization
import TesseraPolicy
import TesseraSchedules
import TesseraStore

/// Keeps the on-call state the policy engine reads (`OnCallState`): the bundle's native
/// schedules resolved over a moving window, and the imported schedules (iCalendar feeds,
/// PagerDuty) synced on their poll intervals. Each good sync is kept in the store, so a restart
/// during a paging-system outage starts from it and PostgreSQL replicas share it (a replica
/// whose feed is due takes a newer sync another one stored instead of fetching again; the
/// store's compare-and-swap on sync time keeps the newest). A failed sync keeps the last good data; once a
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
        /// What changed from now on since the stored sync (nil without a store or a previous sync).
        public var changes: ShiftChanges? = nil
    }

    private let configuration: Mutex<OnCallConfiguration>
    private let native = Mutex<(window: Range<Date>, timelines: [String: ShiftTimeline])?>(nil)
    private let feeds = Mutex<[String: FeedStatus]>([:])
    /// Overrides added at run time (the admin API), by schedule, on top of every kind of schedule.
    private let overrides = Mutex<[String: [Override]]>([:])
    /// Timelines with their overrides laid on, by schedule: computed when first published after
    /// a change of the overrides or of the timeline below them.
    private let overridden = Mutex<[String: ShiftTimeline]>([:])
    private let published: CurrentValue<OnCallState?>
    private let sources: OnCallSources
    private let cache: (any OnCallCacheStore)?
    /// Whether the stored syncs were read (at the first `syncDue`).
    private let cacheRead = Mutex(false)
    private let timeSource: any TimeSource
    private let logger: Logger

    public init(configuration: OnCallConfiguration, sources: OnCallSources, cache: (any OnCallCacheStore)? = nil,
                timeSource: any TimeSource, logger: Logger) {
        self.configuration = Mutex(configuration)
        self.sources = sources
        self.cache = cache
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
        overridden.withLock { $0 = [:] }
        publish()
    }

    /// The overrides in force (active entries of `DatedEntryService`), laid on their schedules
    /// at once. An override of a schedule the bundle no longer has is kept and ignored.
    public func useOverrides(_ entries: [DatedEntryRecord]) {
        var bySchedule: [String: [Override]] = [:]
        // Added later wins where two overlap, as overrides listed later in a schedule do.
        for entry in entries.sorted(by: { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }) where entry.startsAt < entry.endsAt {
            bySchedule[entry.scope, default: []].append(Override(person: entry.subject, start: entry.startsAt, end: entry.endsAt))
        }
        overrides.withLock { $0 = bySchedule }
        overridden.withLock { $0 = [:] }
        publish()
    }

    /// Syncs every imported schedule whose poll interval has passed, then publishes (staleness
    /// is a matter of time, so publishing on every call keeps it current).
    public func syncDue() async {
        let now = timeSource.now()
        let all = configuration.withLock { $0.feeds }
        let firstCall = cacheRead.withLock { read in
            defer { read = true }
            return !read
        }
        if firstCall {
            for feed in all { await adoptStored(feed, now: now, ifNewerThanSeconds: .infinity) }
        }
        let due = all.filter { feed in
            guard let last = feeds.withLock({ $0[feed.sourceKey]?.lastAttempt }) else { return true }
            return now.timeIntervalSince(last) >= TimeInterval(feed.pollSeconds)
        }
        for feed in due {
            // Another replica synced it within the poll interval: take that instead of fetching.
            if await adoptStored(feed, now: now, ifNewerThanSeconds: TimeInterval(feed.pollSeconds)) { continue }
            _ = await sync(feed)
        }
        publish()
    }

    /// Takes the stored sync of `feed` when it is newer than ours and at most `age` old;
    /// returns whether it did.
    @discardableResult
    private func adoptStored(_ feed: OnCallConfiguration.ScheduleFeed, now: Date, ifNewerThanSeconds age: TimeInterval) async -> Bool {
        guard let cache, let entry = try? await cache.onCallCacheEntry(source: feed.sourceID), entry.fingerprint == feed.sourceKey,
              now.timeIntervalSince(entry.syncedAt) <= age, let shifts = StoredShifts.decode(entry.data)
        else { return false }
        let ours = feeds.withLock { $0[feed.sourceKey]?.lastGoodSync }
        if let ours, ours >= entry.syncedAt { return false }
        let window = entry.syncedAt.addingTimeInterval(-Self.windowBack)..<entry.syncedAt.addingTimeInterval(Self.windowAhead)
        feeds.withLock {
            // Due again a poll interval after that sync, not after reading it.
            $0[feed.sourceKey] = FeedStatus(timeline: ShiftTimeline(shifts: shifts, window: window), lastGoodSync: entry.syncedAt,
                                            lastAttempt: entry.syncedAt, lastError: nil)
        }
        overridden.withLock { _ = $0.removeValue(forKey: feed.id) }
        return true
    }

    /// Where one schedule's data comes from and how its last sync went (`GET /admin/oncall`).
    public struct ScheduleStatus: Sendable {
        public let schedule: String
        /// `native`, `ical` or `pagerduty`.
        public let kind: String
        public let source: String
        public let lastGoodSync: Date?
        public let lastError: String?
    }

    /// Every schedule of the bundle, native ones first, in the bundle's order.
    public func statuses() -> [ScheduleStatus] {
        let current = configuration.withLock { $0 }
        let statuses = feeds.withLock { $0 }
        return current.native.map {
            ScheduleStatus(schedule: $0.schedule.id, kind: "native", source: "bundle \($0.location.file)", lastGoodSync: nil, lastError: nil)
        } + current.feeds.map { feed in
            let status = statuses[feed.sourceKey]
            let kind = feed.isPagerDuty ? "pagerduty" : "ical"
            return ScheduleStatus(schedule: feed.id, kind: kind, source: feed.sourceDescription, lastGoodSync: status?.lastGoodSync,
                                  lastError: status?.lastError)
        }
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
        let result: Result<ShiftTimeline, OnCallSourceError>
        do throws(OnCallSourceError) {
            result = .success(try await sources.timeline(for: feed, over: window, pagerDuty: configuration.withLock { $0.pagerDuty }))
        } catch {
            result = .failure(error)
        }
        let wasFailing = feeds.withLock { $0[feed.sourceKey]?.lastError != nil }
        switch result {
        case .success(let timeline):
            let changes = await changesSinceStoredSync(of: feed, to: timeline, now: now)
            feeds.withLock { $0[feed.sourceKey] = FeedStatus(timeline: timeline, lastGoodSync: now, lastAttempt: now, lastError: nil) }
            overridden.withLock { _ = $0.removeValue(forKey: feed.id) }
            if let cache {
                let entry = OnCallCacheEntry(source: feed.sourceID, data: StoredShifts.encode(timeline.shifts), syncedAt: now,
                                             fingerprint: feed.sourceKey)
                // A store that is away loses only the restart head start; the sync itself counts.
                _ = try? await cache.writeOnCallCacheEntry(entry)
            }
            if wasFailing {
                logger.notice("on-call schedule synced again", metadata: ["tessera.schedule": .string(feed.id)])
            }
            return SyncReport(schedule: feed.id, source: feed.sourceDescription, shifts: timeline.shifts.count, error: nil, changes: changes)
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

    /// The shifts from `now` on that differ from the stored sync of the same source.
    private func changesSinceStoredSync(of feed: OnCallConfiguration.ScheduleFeed, to timeline: ShiftTimeline, now: Date) async -> ShiftChanges? {
        guard let cache, let previous = try? await cache.onCallCacheEntry(source: feed.sourceID), previous.fingerprint == feed.sourceKey,
              let before = StoredShifts.decode(previous.data)
        else { return nil }
        // Both syncs resolved their own window ahead: compare only what both cover.
        let horizon = min(previous.syncedAt.addingTimeInterval(Self.windowAhead), timeline.window.upperBound)
        return ShiftChanges(before: before, after: timeline.shifts, over: now..<max(now, horizon), previousSync: previous.syncedAt)
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
            overridden.withLock { cache in cache = cache.filter { timelines[$0.key] == nil } }
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
        let runTime = overrides.withLock { $0 }
        overridden.withLock { cache in
            for (schedule, laid) in runTime {
                guard let base = timelines[schedule] else { continue }
                if cache[schedule] == nil { cache[schedule] = base.overridden(by: laid) }
                timelines[schedule] = cache[schedule]
            }
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
        case .pagerDutyEscalationLevel(let policy, let level): "PagerDuty escalation policy \(policy) level \(level)"
        }
    }
}

/// How a schedule's shifts over a period differ between two syncs: the shifts (clipped to the
/// period) only the new sync has, and those only the previous one had.
public struct ShiftChanges: Sendable {
    public let added: [Shift]
    public let removed: [Shift]
    public let previousSync: Date

    init(before: [Shift], after: [Shift], over period: Range<Date>, previousSync: Date) {
        func clipped(_ shifts: [Shift]) -> Set<Shift> {
            Set(shifts.compactMap { shift in
                let start = max(shift.start, period.lowerBound)
                let end = min(shift.end, period.upperBound)
                return start < end ? Shift(person: shift.person, start: start, end: end) : nil
            })
        }
        let old = clipped(before)
        let new = clipped(after)
        added = new.subtracting(old).sorted { ($0.start, $0.person) < ($1.start, $1.person) }
        removed = old.subtracting(new).sorted { ($0.start, $0.person) < ($1.start, $1.person) }
        self.previousSync = previousSync
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty }
}

/// Shifts as the store keeps them: a JSON array of `{person, start, end}` (seconds since 1970).
enum StoredShifts {
    private struct Stored: Codable {
        let person: String
        let start: Double
        let end: Double
    }

    static func encode(_ shifts: [Shift]) -> [UInt8] {
        let stored = shifts.map { Stored(person: $0.person, start: $0.start.timeIntervalSince1970, end: $0.end.timeIntervalSince1970) }
        return (try? JSONEncoder().encode(stored)).map(Array.init) ?? []
    }

    /// Nil for anything that is not what `encode` wrote (a stored entry is never trusted blindly).
    static func decode(_ bytes: [UInt8]) -> [Shift]? {
        guard let stored = try? JSONDecoder().decode([Stored].self, from: Data(bytes)) else { return nil }
        var shifts: [Shift] = []
        for entry in stored {
            guard entry.start.isFinite, entry.end.isFinite, entry.start < entry.end else { return nil }
            shifts.append(Shift(person: entry.person, start: Date(timeIntervalSince1970: entry.start), end: Date(timeIntervalSince1970: entry.end)))
        }
        return shifts
    }
}
