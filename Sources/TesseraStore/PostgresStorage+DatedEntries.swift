import Foundation
import Logging
import PostgresNIO

/// Dated entries (on-call overrides, eligibility assignments) in the shared store, written by
/// `commit` inside the transaction of their audit entries; every replica reads the same rows.
extension PostgresStorage {
    public func datedEntry(id: String) async throws -> DatedEntryRecord? {
        try await datedEntryDocuments("SELECT document FROM dated_entries WHERE id = \(id)").first
    }

    public func datedEntries(kind: DatedEntryRecord.Kind, state: DatedEntryRecord.State?) async throws -> [DatedEntryRecord] {
        let query: PostgresQuery = if let state {
            "SELECT document FROM dated_entries WHERE kind = \(kind.rawValue) AND state = \(state.rawValue)"
        } else {
            "SELECT document FROM dated_entries WHERE kind = \(kind.rawValue)"
        }
        return try await datedEntryDocuments(query).inStoreOrder()
    }

    public func datedEntriesRevision(kind: DatedEntryRecord.Kind) async throws -> Int64 {
        try await storeOperation("dated_entries") {
            let rows = try await self.client.query(
                "SELECT COALESCE(SUM(version), 0)::BIGINT FROM dated_entries WHERE kind = \(kind.rawValue)", logger: self.logger)
            for try await revision in rows.decode(Int64.self) { return revision }
            return 0
        }
    }

    private func datedEntryDocuments(_ query: PostgresQuery) async throws -> [DatedEntryRecord] {
        try await storeOperation("dated_entries") {
            var records: [DatedEntryRecord] = []
            for try await document in try await self.client.query(query, logger: self.logger).decode(String.self) {
                records.append(try StoredDocument.decode(DatedEntryRecord.self, document, table: "dated_entries"))
            }
            return records
        }
    }

    /// A compare-and-swap of one entry, inside `commit`'s transaction: an INSERT for version 1
    /// (nothing when the id is taken), else an UPDATE over the previous version.
    static func write(datedEntry entry: DatedEntryRecord, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let document = try StoredDocument.encode(entry)
        let rows = if entry.version == 1 {
            try await connection.query("""
                INSERT INTO dated_entries (id, kind, state, scope, ends_ms, version, document)
                VALUES (\(entry.id), \(entry.kind.rawValue), \(entry.state.rawValue), \(entry.scope), \(milliseconds(entry.endsAt)), 1, \(document))
                ON CONFLICT (id) DO NOTHING RETURNING 1
                """, logger: logger)
        } else {
            try await connection.query("""
                UPDATE dated_entries SET kind = \(entry.kind.rawValue), state = \(entry.state.rawValue), scope = \(entry.scope),
                    ends_ms = \(milliseconds(entry.endsAt)), version = \(entry.version), document = \(document)
                WHERE id = \(entry.id) AND version = \(entry.version - 1) RETURNING 1
                """, logger: logger)
        }
        return try await !rows.collect().isEmpty
    }
}
