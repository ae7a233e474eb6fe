import Foundation
import TesseraStore

/// The on-call cache: entries round-trip byte for byte, and a write is a compare-and-swap on
/// the sync time, so replicas polling at once leave the newest sync in place.
extension StoreConformance {
    static let onCallCacheChecks: [Check] = [
        Check(name: "an on-call cache entry reads back equal", run: onCallCacheEntryRoundTrips),
        Check(name: "an on-call sync no newer than the cached one is refused", run: olderOnCallSyncIsRefused),
        Check(name: "a newer on-call sync replaces the cached one", run: newerOnCallSyncWins),
        Check(name: "of concurrent on-call syncs the newest stays", run: concurrentOnCallSyncsLeaveTheNewest),
        Check(name: "the on-call cache lists every source with its sync time", run: onCallSyncTimesList),
    ]

    /// A millisecond after `now`, built from whole milliseconds so that it round-trips exactly.
    static let oneMillisecondLater = date(milliseconds: now.millisecondsSince1970 + 1)

    /// Bytes no text column would keep: a NUL, invalid UTF-8, every byte value.
    static let opaqueBytes: [UInt8] = [0x7B, 0x00, 0xFF, 0xC3] + (0...255).map { UInt8($0) }

    static func onCallCacheEntryRoundTrips(_ store: any TesseraStorage) async throws {
        try expect(try await store.onCallCacheEntry(source: "pagerduty:payments") == nil, "a new store has an on-call cache entry")
        try expect(try await store.onCallSyncTimes().isEmpty, "a new store lists on-call sync times")
        let entries = [
            OnCallCacheEntry(source: "pagerduty:payments", data: opaqueBytes, syncedAt: now, fingerprint: "sha256:abc"),
            OnCallCacheEntry(source: "ical:team-feed", data: Array(#"{"shifts":[]}"#.utf8), syncedAt: oneMillisecondLater),
            // A sync that found nothing still records that it synced.
            OnCallCacheEntry(source: "ical:empty", data: [], syncedAt: now + 2),
        ]
        for entry in entries {
            try expect(try await store.writeOnCallCacheEntry(entry), "the first write of \(entry.source) was refused")
        }
        for entry in entries {
            let read = try await store.onCallCacheEntry(source: entry.source)
            try expect(read == entry, "\(entry.source) did not round-trip: \(read.map(describe) ?? "nothing") for \(describe(entry))")
        }
        try expect(try await store.onCallCacheEntry(source: "pagerduty:unknown") == nil, "an unknown source has an entry")
    }

    static func olderOnCallSyncIsRefused(_ store: any TesseraStorage) async throws {
        let cached = OnCallCacheEntry(source: "pagerduty:payments", data: Array("newer".utf8), syncedAt: now + 10, fingerprint: "b")
        _ = try await store.writeOnCallCacheEntry(cached)
        let older = OnCallCacheEntry(source: "pagerduty:payments", data: Array("older".utf8), syncedAt: now + 5, fingerprint: "a")
        try expect(try await !store.writeOnCallCacheEntry(older), "an older sync overwrote a newer one")
        let same = OnCallCacheEntry(source: "pagerduty:payments", data: Array("same time".utf8), syncedAt: now + 10)
        try expect(try await !store.writeOnCallCacheEntry(same), "a sync as old as the cached one overwrote it")
        // Below the store's millisecond: the same instant as far as it can tell.
        let withinMillisecond = OnCallCacheEntry(source: "pagerduty:payments", data: [], syncedAt: now + 10.0004)
        try expect(try await !store.writeOnCallCacheEntry(withinMillisecond), "a sync within the same millisecond overwrote the cached one")
        let read = try await store.onCallCacheEntry(source: "pagerduty:payments")
        try expect(read == cached, "a refused write changed the entry: \(read.map(describe) ?? "nothing")")
    }

    static func newerOnCallSyncWins(_ store: any TesseraStorage) async throws {
        let first = OnCallCacheEntry(source: "ical:team-feed", data: Array("first".utf8), syncedAt: now, fingerprint: "etag-1")
        _ = try await store.writeOnCallCacheEntry(first)
        // The fingerprint goes with its data: a newer sync without one clears it.
        let newer = OnCallCacheEntry(source: "ical:team-feed", data: Array("second".utf8), syncedAt: oneMillisecondLater)
        try expect(try await store.writeOnCallCacheEntry(newer), "a newer sync was refused")
        let read = try await store.onCallCacheEntry(source: "ical:team-feed")
        try expect(read == newer, "the newer sync was not stored whole: \(read.map(describe) ?? "nothing")")
        let listed = try await store.onCallSyncTimes()
        try expect(listed == [OnCallSyncTime(source: "ical:team-feed", syncedAt: oneMillisecondLater)],
                   "after a replacement the listing is \(listed.map(\.source))")
    }

    /// Eight replicas' syncs, each with its own time, written at once in a scrambled order: the
    /// newest is what stays, and its write is never refused.
    static func concurrentOnCallSyncsLeaveTheNewest(_ store: any TesseraStorage) async throws {
        let order = [3, 7, 0, 5, 1, 6, 2, 4]
        let entries = order.map { index in
            OnCallCacheEntry(source: "pagerduty:payments", data: Array("sync \(index)".utf8), syncedAt: now + TimeInterval(index), fingerprint: "f\(index)")
        }
        let accepted = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for (position, entry) in entries.enumerated() {
                group.addTask { (order[position], try await store.writeOnCallCacheEntry(entry)) }
            }
            return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        let read = try await store.onCallCacheEntry(source: "pagerduty:payments")
        try expect(read?.fingerprint == "f7" && read?.data == Array("sync 7".utf8) && read?.syncedAt == now + 7,
                   "concurrent syncs left \(read.map(describe) ?? "nothing"), not the newest (sync 7)")
        try expect(accepted[7] == true, "the newest of concurrent syncs was refused")
    }

    static func onCallSyncTimesList(_ store: any TesseraStorage) async throws {
        // Sources are independent: an old sync of one is not compared with another's.
        let writes = [
            OnCallCacheEntry(source: "pagerduty:payments", data: [1], syncedAt: now + 60),
            OnCallCacheEntry(source: "ical:team-feed", data: [2], syncedAt: now),
            OnCallCacheEntry(source: "ical:Z-upper", data: [3], syncedAt: now + 30),
        ]
        for entry in writes {
            try expect(try await store.writeOnCallCacheEntry(entry), "the first write of \(entry.source) was refused")
        }
        _ = try await store.writeOnCallCacheEntry(OnCallCacheEntry(source: "ical:team-feed", data: [4], syncedAt: now + 90))
        let listed = try await store.onCallSyncTimes()
        let expected = [
            OnCallSyncTime(source: "ical:Z-upper", syncedAt: now + 30),
            OnCallSyncTime(source: "ical:team-feed", syncedAt: now + 90),
            OnCallSyncTime(source: "pagerduty:payments", syncedAt: now + 60),
        ]
        try expect(listed == expected, "sync times listed as \(listed.map { "\($0.source)@\($0.syncedAt.timeIntervalSince1970)" })")
    }

    static func describe(_ entry: OnCallCacheEntry) -> String {
        "\(entry.source) synced \(entry.syncedAt.timeIntervalSince1970), \(entry.data.count) bytes, fingerprint \(entry.fingerprint ?? "none")"
    }
}
