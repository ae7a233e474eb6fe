import Foundation

/// The last good sync of one on-call source (a PagerDuty account's schedules, an iCalendar
/// feed), kept so that a restart during the paging system's outage still has who is on call,
/// and so that replicas sharing a PostgreSQL store share it.
///
/// The store never interprets `data`: it is whatever the sync encoded (JSON), opaque bytes
/// here. `syncedAt` is kept to the millisecond, as every time in the store.
public struct OnCallCacheEntry: Sendable, Hashable {
    /// The source's id, such as `pagerduty:payments` or `ical:team-feed`.
    public var source: String
    public var data: [UInt8]
    /// When the data was fetched: what staleness is measured from, and what orders writes.
    public var syncedAt: Date
    /// A digest or validator of the data (an ETag, a hash) the sync may compare to skip work;
    /// opaque here.
    public var fingerprint: String?

    public init(source: String, data: [UInt8], syncedAt: Date, fingerprint: String? = nil) {
        self.source = source
        self.data = data
        self.syncedAt = syncedAt
        self.fingerprint = fingerprint
    }
}

/// When a source was last synced, for "sync age" displays.
public struct OnCallSyncTime: Sendable, Hashable {
    public var source: String
    public var syncedAt: Date

    public init(source: String, syncedAt: Date) {
        self.source = source
        self.syncedAt = syncedAt
    }
}

/// The cache of synced on-call data, one entry per source.
///
/// Writes are a compare-and-swap on `syncedAt`, not on a version: replicas poll the same
/// source independently, and whichever fetched last has the freshest data, whatever order
/// their writes arrive in. So a slow replica that fetched earlier can never overwrite the data
/// of one that fetched later.
public protocol OnCallCacheStore: Sendable {
    /// The entry of `source`, nil when it was never synced.
    func onCallCacheEntry(source: String) async throws -> OnCallCacheEntry?

    /// Every source's sync time, ordered by source (byte order).
    func onCallSyncTimes() async throws -> [OnCallSyncTime]

    /// Writes `entry` if its source has no entry yet or the stored one was synced strictly
    /// earlier (compared to the millisecond); otherwise changes nothing. Returns whether it
    /// was written. Atomic: of concurrent writers, the newest sync is what stays.
    func writeOnCallCacheEntry(_ entry: OnCallCacheEntry) async throws -> Bool
}
