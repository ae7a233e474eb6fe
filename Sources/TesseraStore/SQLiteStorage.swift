import Foundation
import Logging
import SQLiteNIO

/// The embedded store of a single node: one SQLite file in the data folder, in WAL mode with
/// `synchronous=FULL`, so a committed transaction survives a crash or power loss.
///
/// Every operation goes through one connection, one at a time (`SerialGate`); durability costs
/// one fsync per transaction, which the audit log amortises by appending in groups.
public final class SQLiteStorage: TesseraStorage {
    public static let fileName = "tessera.sqlite"

    private let connection: SQLiteConnection
    private let gate = SerialGate()
    public let path: String

    private init(connection: SQLiteConnection, path: String) {
        self.connection = connection
        self.path = path
    }

    /// Opens (creating if needed) the database in `directory` and applies pending migrations.
    public static func open(directory: String, logger: Logger = Logger(label: "tessera.store")) async throws -> SQLiteStorage {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent(fileName)
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let storage = SQLiteStorage(connection: connection, path: path)
        do {
            _ = try await connection.query("PRAGMA journal_mode=WAL")
            _ = try await connection.query("PRAGMA synchronous=FULL")
            _ = try await connection.query("PRAGMA busy_timeout=5000")
            try await storage.migrate()
        } catch {
            try? await connection.close()
            throw StoreError("\(path): cannot open the store: \(error)")
        }
        return storage
    }

    public func close() async throws {
        try await connection.close()
    }

    // MARK: Migrations

    /// Versioned schema changes, applied in order, each in its own `BEGIN IMMEDIATE`
    /// transaction: a second process starting at the same moment waits, then finds the version
    /// applied and skips it.
    static let migrations: [(version: Int, statements: [String])] = [
        (1, [
            """
            CREATE TABLE audit_log (
                sequence INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                event TEXT NOT NULL,
                subject TEXT,
                client_id TEXT,
                outcome TEXT NOT NULL,
                body TEXT NOT NULL,
                hash TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_log_time ON audit_log (time_ms)",
            """
            CREATE TABLE issued_tokens (
                jti TEXT PRIMARY KEY,
                subject TEXT NOT NULL,
                client_id TEXT NOT NULL,
                audiences TEXT NOT NULL,
                scope TEXT,
                kid TEXT NOT NULL,
                issued_at_ms INTEGER NOT NULL,
                expires_at_ms INTEGER NOT NULL
            )
            """,
            "CREATE INDEX issued_tokens_expiry ON issued_tokens (expires_at_ms)",
            """
            CREATE TABLE assertion_jtis (
                client_id TEXT NOT NULL,
                jti TEXT NOT NULL,
                expires_at_ms INTEGER NOT NULL,
                PRIMARY KEY (client_id, jti)
            )
            """,
        ]),
        (2, ["ALTER TABLE issued_tokens ADD COLUMN revoked_at_ms INTEGER"]),
    ]

    public static var schemaVersion: Int { migrations.last?.version ?? 0 }

    func migrate() async throws {
        _ = try await connection.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)")
        for migration in Self.migrations {
            try await transaction { connection in
                let applied = try await connection.query("SELECT 1 FROM schema_migrations WHERE version = ?", [Self.integer(Int64(migration.version))])
                guard applied.isEmpty else { return }
                for statement in migration.statements {
                    _ = try await connection.query(statement)
                }
                _ = try await connection.query("INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)",
                                               [Self.integer(Int64(migration.version)), Self.integer(Self.milliseconds(Date()))])
            }
        }
    }

    // MARK: AuditStore

    public func appendAudit(issuedTokens: [IssuedTokenRecord],
                            seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry] {
        try await transaction { connection in
            let head = try await Self.head(connection)
            let entries = try seal(head)
            // One multi-row INSERT per table and group: a statement per row costs a thread-pool
            // round trip each, which dominated issuance under load.
            for chunk in Self.chunks(entries) {
                _ = try await connection.query(
                    "INSERT INTO audit_log (sequence, time_ms, event, subject, client_id, outcome, body, hash) VALUES "
                        + Self.placeholders(rows: chunk.count, columns: 8),
                    chunk.flatMap { entry in
                        [Self.integer(entry.sequence), Self.integer(Self.milliseconds(entry.time)), .text(entry.event),
                         Self.text(entry.subject), Self.text(entry.clientID), .text(entry.outcome), .text(entry.body), .text(entry.hash)]
                    })
            }
            for chunk in Self.chunks(issuedTokens) {
                _ = try await connection.query(
                    "INSERT INTO issued_tokens (jti, subject, client_id, audiences, scope, kid, issued_at_ms, expires_at_ms) VALUES "
                        + Self.placeholders(rows: chunk.count, columns: 8),
                    chunk.flatMap { token in
                        [.text(token.jwtID), .text(token.subject), .text(token.clientID), .text(token.audiences.joined(separator: " ")),
                         Self.text(token.scope), .text(token.keyID), Self.integer(Self.milliseconds(token.issuedAt)),
                         Self.integer(Self.milliseconds(token.expiresAt))]
                    })
            }
            return entries
        }
    }

    public func auditEntries(after sequence: Int64, limit: Int) async throws -> [SealedAuditEntry] {
        try await gate.run {
            let rows = try await self.connection.query(
                "SELECT sequence, time_ms, event, subject, client_id, outcome, body, hash FROM audit_log WHERE sequence > ? ORDER BY sequence LIMIT ?",
                [Self.integer(sequence), Self.integer(Int64(limit))])
            return try rows.map(Self.auditEntry)
        }
    }

    public func auditHead() async throws -> AuditChainHead? {
        try await gate.run { try await Self.head(self.connection) }
    }

    private static func head(_ connection: SQLiteConnection) async throws -> AuditChainHead? {
        let rows = try await connection.query("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
        guard let row = rows.first else { return nil }
        guard let sequence = row.column("sequence")?.integer, let hash = row.column("hash")?.string else {
            throw StoreError("audit_log: unreadable chain head")
        }
        return AuditChainHead(sequence: Int64(sequence), hash: hash)
    }

    private static func auditEntry(_ row: SQLiteRow) throws -> SealedAuditEntry {
        guard let sequence = row.column("sequence")?.integer, let time = row.column("time_ms")?.integer,
              let event = row.column("event")?.string, let outcome = row.column("outcome")?.string,
              let body = row.column("body")?.string, let hash = row.column("hash")?.string
        else {
            throw StoreError("audit_log: unreadable row")
        }
        return SealedAuditEntry(sequence: Int64(sequence), time: date(Int64(time)), event: event,
                                subject: row.column("subject")?.string, clientID: row.column("client_id")?.string,
                                outcome: outcome, body: body, hash: hash)
    }

    // MARK: IssuedTokenStore

    public func issuedToken(jwtID: String) async throws -> IssuedTokenRecord? {
        try await gate.run {
            let rows = try await self.connection.query(
                "SELECT jti, subject, client_id, audiences, scope, kid, issued_at_ms, expires_at_ms, revoked_at_ms FROM issued_tokens WHERE jti = ?",
                [.text(jwtID)])
            guard let row = rows.first else { return nil }
            guard let subject = row.column("subject")?.string, let client = row.column("client_id")?.string,
                  let audiences = row.column("audiences")?.string, let kid = row.column("kid")?.string,
                  let issued = row.column("issued_at_ms")?.integer, let expires = row.column("expires_at_ms")?.integer
            else {
                throw StoreError("issued_tokens: unreadable row for \(jwtID)")
            }
            return IssuedTokenRecord(jwtID: jwtID, subject: subject, clientID: client,
                                     audiences: audiences.split(separator: " ").map(String.init), scope: row.column("scope")?.string,
                                     keyID: kid, issuedAt: Self.date(Int64(issued)), expiresAt: Self.date(Int64(expires)),
                                     revokedAt: row.column("revoked_at_ms")?.integer.map { Self.date(Int64($0)) })
        }
    }

    public func revokeToken(jwtID: String, clientID: String, at time: Date) async throws -> RevocationOutcome {
        try await transaction { connection in
            let rows = try await connection.query("SELECT client_id, revoked_at_ms FROM issued_tokens WHERE jti = ?", [.text(jwtID)])
            guard let row = rows.first else { return .unknown }
            guard row.column("client_id")?.string == clientID else { return .notOwner }
            guard row.column("revoked_at_ms")?.integer == nil else { return .alreadyRevoked }
            _ = try await connection.query("UPDATE issued_tokens SET revoked_at_ms = ? WHERE jti = ?",
                                           [Self.integer(Self.milliseconds(time)), .text(jwtID)])
            return .revoked
        }
    }

    // MARK: AssertionReplayStore

    public func recordFirstUse(jti: String, clientID: String, expiresAt: Date, now: Date) async throws -> Bool {
        try await transaction { connection in
            let existing = try await connection.query(
                "SELECT expires_at_ms FROM assertion_jtis WHERE client_id = ? AND jti = ?", [.text(clientID), .text(jti)])
            if let expiry = existing.first?.column("expires_at_ms")?.integer, Int64(expiry) > Self.milliseconds(now) {
                return false
            }
            _ = try await connection.query(
                "INSERT OR REPLACE INTO assertion_jtis (client_id, jti, expires_at_ms) VALUES (?, ?, ?)",
                [.text(clientID), .text(jti), Self.integer(Self.milliseconds(expiresAt))])
            return true
        }
    }

    // MARK: Helpers

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so
    /// the transaction cannot fail half-way for a lock), committing on success.
    private func transaction<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection) async throws -> T) async throws -> T {
        try await gate.run {
            _ = try await self.connection.query("BEGIN IMMEDIATE")
            do {
                let result = try await body(self.connection)
                _ = try await self.connection.query("COMMIT")
                return result
            } catch {
                _ = try? await self.connection.query("ROLLBACK")
                throw error
            }
        }
    }

    /// Rows per INSERT, well under SQLite's limit of 32,766 bound parameters.
    static let rowsPerStatement = 500

    static func chunks<T>(_ rows: [T]) -> [ArraySlice<T>] {
        stride(from: 0, to: rows.count, by: rowsPerStatement).map { rows[$0..<min($0 + rowsPerStatement, rows.count)] }
    }

    /// `(?, ?, ...), (?, ?, ...)` for `rows` rows of `columns` values.
    static func placeholders(rows: Int, columns: Int) -> String {
        let row = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        return Array(repeating: row, count: rows).joined(separator: ", ")
    }

    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
    }

    private static func integer(_ value: Int64) -> SQLiteData {
        .integer(SQLiteInt64(value))
    }

    private static func text(_ value: String?) -> SQLiteData {
        value.map(SQLiteData.text) ?? .null
    }
}
