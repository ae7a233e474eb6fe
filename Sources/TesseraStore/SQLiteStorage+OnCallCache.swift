import Foundation
import NIOCore

/// The on-call cache in the embedded store. A write is one upsert whose update is conditional
/// on the stored sync time, so the comparison and the write are one atomic statement, also
/// against another process on the same file.
extension SQLiteStorage {
    public func onCallCacheEntry(source: String) async throws -> OnCallCacheEntry? {
        try await gate.run {
            let rows = try await self.connection.query(
                "SELECT synced_ms, fingerprint, data FROM oncall_cache WHERE source = ?", [.text(source)])
            guard let row = rows.first else { return nil }
            guard let synced = row.column("synced_ms")?.integer, let data = row.column("data") else {
                throw StoreError("oncall_cache: unreadable row for \(source)")
            }
            return OnCallCacheEntry(source: source, data: try Self.bytes(data, source: source), syncedAt: Self.date(Int64(synced)),
                                    fingerprint: row.column("fingerprint")?.string)
        }
    }

    public func onCallSyncTimes() async throws -> [OnCallSyncTime] {
        try await gate.run {
            try await self.connection.query("SELECT source, synced_ms FROM oncall_cache ORDER BY source").map { row in
                guard let source = row.column("source")?.string, let synced = row.column("synced_ms")?.integer else {
                    throw StoreError("oncall_cache: unreadable row")
                }
                return OnCallSyncTime(source: source, syncedAt: Self.date(Int64(synced)))
            }
        }
    }

    /// SQLite binds NULL for a BLOB without an address, which an empty buffer may have, so the
    /// statement turns NULL into the empty BLOB it stands for.
    ///
    /// `changes()` on the same connection, inside the gate, counts the upsert: 1 when it
    /// inserted or updated, 0 when the stored sync was as new or newer.
    public func writeOnCallCacheEntry(_ entry: OnCallCacheEntry) async throws -> Bool {
        let binds: [SQLiteData] = [.text(entry.source), Self.integer(Self.milliseconds(entry.syncedAt)), Self.text(entry.fingerprint),
                                   .blob(ByteBuffer(bytes: entry.data))]
        return try await gate.run {
            _ = try await self.connection.query("""
                INSERT INTO oncall_cache (source, synced_ms, fingerprint, data) VALUES (?, ?, ?, COALESCE(?, X''))
                ON CONFLICT (source) DO UPDATE SET synced_ms = excluded.synced_ms, fingerprint = excluded.fingerprint, data = excluded.data
                WHERE oncall_cache.synced_ms < excluded.synced_ms
                """, binds)
            return try await Self.changes(self.connection) == 1
        }
    }

    private static func bytes(_ value: SQLiteData, source: String) throws -> [UInt8] {
        guard case .blob(let buffer) = value else { throw StoreError("oncall_cache: the data of \(source) is not a BLOB") }
        return Array(buffer: buffer)
    }
}
