import Foundation
import Logging
import PostgresNIO

/// The on-call cache in the shared store. A write is one upsert whose update is conditional on
/// the stored sync time. Two replicas writing one source at once meet on its primary key: the
/// second waits for the first's row, then PostgreSQL re-checks the condition against the
/// committed row, so an older sync never replaces a newer one, and a first insert racing
/// another becomes the conditional update.
extension PostgresStorage {
    public func onCallCacheEntry(source: String) async throws -> OnCallCacheEntry? {
        try await storeOperation("oncall_cache") {
            let rows = try await self.client.query(
                "SELECT synced_ms, fingerprint, data FROM oncall_cache WHERE source = \(source)", logger: self.logger)
            for try await (synced, fingerprint, data) in rows.decode((Int64, String?, Data).self) {
                return OnCallCacheEntry(source: source, data: [UInt8](data), syncedAt: Self.date(synced), fingerprint: fingerprint)
            }
            return nil
        }
    }

    public func onCallSyncTimes() async throws -> [OnCallSyncTime] {
        try await storeOperation("oncall_cache") {
            var times: [OnCallSyncTime] = []
            let rows = try await self.client.query("SELECT source, synced_ms FROM oncall_cache", logger: self.logger)
            for try await (source, synced) in rows.decode((String, Int64).self) {
                times.append(OnCallSyncTime(source: source, syncedAt: Self.date(synced)))
            }
            // The database's text order depends on its collation; this is the order of every backend.
            return times.sorted { $0.source.utf8.lexicographicallyPrecedes($1.source.utf8) }
        }
    }

    public func writeOnCallCacheEntry(_ entry: OnCallCacheEntry) async throws -> Bool {
        // `Data` binds as BYTEA; `[UInt8]` would bind as an array of "char".
        let data = Data(entry.data)
        return try await storeOperation("oncall_cache") {
            let written = try await self.client.query("""
                INSERT INTO oncall_cache (source, synced_ms, fingerprint, data)
                VALUES (\(entry.source), \(Self.milliseconds(entry.syncedAt)), \(entry.fingerprint), \(data))
                ON CONFLICT (source) DO UPDATE SET synced_ms = excluded.synced_ms, fingerprint = excluded.fingerprint, data = excluded.data
                WHERE oncall_cache.synced_ms < excluded.synced_ms
                RETURNING source
                """, logger: self.logger).collect()
            return !written.isEmpty
        }
    }
}
