import Foundation

/// Dated entries (on-call overrides, eligibility assignments) in the embedded store. They are
/// written by `commit`, inside the transaction of their audit entries.
extension SQLiteStorage {
    public func datedEntry(id: String) async throws -> DatedEntryRecord? {
        try await gate.run {
            let rows = try await self.connection.query("SELECT document FROM dated_entries WHERE id = ?", [.text(id)])
            return try rows.first.map { try Self.datedEntry($0) }
        }
    }

    public func datedEntries(kind: DatedEntryRecord.Kind, state: DatedEntryRecord.State?) async throws -> [DatedEntryRecord] {
        var filter = Self.Filter()
        filter.equal("kind", kind.rawValue)
        filter.equal("state", state?.rawValue)
        let sql = "SELECT document FROM dated_entries WHERE " + filter.conditions.joined(separator: " AND ")
        let binds = filter.binds
        return try await gate.run {
            try await self.connection.query(sql, binds).map(Self.datedEntry)
        }.inStoreOrder()
    }

    public func datedEntriesRevision(kind: DatedEntryRecord.Kind) async throws -> Int64 {
        try await gate.run {
            let rows = try await self.connection.query("SELECT COALESCE(SUM(version), 0) AS revision FROM dated_entries WHERE kind = ?",
                                                       [.text(kind.rawValue)])
            return Int64(rows.first?.column("revision")?.integer ?? 0)
        }
    }

    /// A compare-and-swap of one entry, inside `commit`'s transaction: an INSERT for version 1
    /// (refused when the id is taken), else an UPDATE over the previous version.
    static func write(datedEntry entry: DatedEntryRecord, on connection: SQLiteConnection) async throws -> Bool {
        let document = try StoredDocument.encode(entry)
        let binds: [SQLiteData] = [.text(entry.kind.rawValue), .text(entry.state.rawValue), .text(entry.scope),
                                   integer(milliseconds(entry.endsAt)), .text(document), integer(entry.version), .text(entry.id)]
        if entry.version == 1 {
            _ = try await connection.query(
                "INSERT OR IGNORE INTO dated_entries (kind, state, scope, ends_ms, document, version, id) VALUES (?, ?, ?, ?, ?, ?, ?)", binds)
        } else {
            _ = try await connection.query("""
                UPDATE dated_entries SET kind = ?, state = ?, scope = ?, ends_ms = ?, document = ?, version = ?
                WHERE id = ? AND version = ?
                """, binds + [integer(entry.version - 1)])
        }
        return try await changes(connection) == 1
    }

    private static func datedEntry(_ row: SQLiteRow) throws -> DatedEntryRecord {
        guard let text = row.column("document")?.string else { throw StoreError("dated_entries: unreadable row") }
        return try StoredDocument.decode(DatedEntryRecord.self, text, table: "dated_entries")
    }
}
