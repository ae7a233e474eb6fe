import Foundation
import Logging
import Synchronization

/// The embedded store of a single node: one SQLite file in the data folder, in WAL mode with
/// `synchronous=FULL`, so a committed transaction survives a crash or power loss.
///
/// Every write goes through one connection, one at a time (`SerialGate`); durability costs
/// one fsync per transaction, which the audit log amortises by appending in groups. Reads on
/// the request path (activations, requests) have a second connection of their own: in WAL mode
/// a reader sees every transaction committed before its statement began and never waits for
/// the writer, so a token exchange's lookups do not queue behind a group's fsync.
public final class SQLiteStorage: MigratedStorage {
    public static let fileName = "tessera.sqlite"

    let connection: SQLiteConnection
    let gate = SerialGate()
    /// The read-only connection (`PRAGMA query_only`), one statement at a time.
    private let reader: SQLiteConnection
    private let readerGate = SerialGate()
    /// When expired assertion jtis are next deleted.
    private let nextAssertionPrune = Mutex(Date.distantPast)
    static let assertionPruneInterval: TimeInterval = 60

    /// The activations' documents decoded or written lately, so each is decoded once.
    let activationDocuments = ActivationDocuments()
    /// The audit chain head as this process last wrote or read it; nil until first needed.
    let headCache = Mutex<AuditChainHead??>(nil)
    public let path: String

    private init(connection: SQLiteConnection, reader: SQLiteConnection, path: String) {
        self.connection = connection
        self.reader = reader
        self.path = path
    }

    /// Runs `body` on the reader connection: for single statements that only read, whose
    /// answer may be any state committed before they began.
    func read<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection) async throws -> T) async throws -> T {
        try await readerGate.run { try await body(self.reader) }
    }

    /// Opens (creating if needed) the database in `directory` and applies pending migrations.
    public static func open(directory: String, logger: Logger = Logger(label: "tessera.store")) async throws -> SQLiteStorage {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent(fileName)
        // Another process may be opening the same file at this moment (`tessera serve` and a
        // `tessera audit` command, two tests): SQLite then answers "busy" at once from the WAL
        // switch (which ignores the busy timeout) or, on a loaded machine, after the timeout
        // from the first migration. Both are safe to repeat, so the whole open is retried.
        // While opening, a busy wait is short (the retry backs off instead); once open, writers
        // wait up to 5 s. Generous: on a machine saturated by parallel work (a full test run on
        // two cores), an open can take many seconds.
        let deadline = ContinuousClock.now + .seconds(60)
        // One opener at a time, across processes and within one: switching to WAL needs the
        // file to itself, so two openers holding connections at once could refuse each other
        // until the deadline on a loaded machine. The lock is a sidecar file's flock, held only
        // while opening and migrating.
        let lock = try await OpenLock.acquire(path + ".open-lock", until: deadline)
        defer { lock.release() }
        var attempt = 0
        while true {
            attempt += 1
            let connection = try await SQLiteConnection.open(path: path)
            var reader: SQLiteConnection?
            do {
                _ = try await connection.query("PRAGMA busy_timeout=100")
                _ = try await connection.query("PRAGMA journal_mode=WAL")
                _ = try await connection.query("PRAGMA synchronous=FULL")
                let opened = try await SQLiteConnection.open(path: path)
                reader = opened
                _ = try await opened.query("PRAGMA query_only=ON")
                let storage = SQLiteStorage(connection: connection, reader: opened, path: path)
                try await storage.migrate()
                _ = try await connection.query("PRAGMA busy_timeout=5000")
                _ = try await opened.query("PRAGMA busy_timeout=5000")
                return storage
            } catch let error as SQLiteError where error.isBusy && ContinuousClock.now < deadline {
                try? await reader?.close()
                try? await connection.close()
                // A random, growing pause: two openers retrying in step would collide forever.
                try await Task.sleep(for: .milliseconds(Int.random(in: 10...50) * min(attempt, 10)))
            } catch {
                try? await reader?.close()
                try? await connection.close()
                throw StoreError("\(path): cannot open the store: \(error)")
            }
        }
    }

    public func close() async throws {
        try await reader.close()
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
        // Tokens travel with their audit entry, so one INSERT writes both (see `appendAudit`).
        (3, [
            "ALTER TABLE audit_log ADD COLUMN token_jti TEXT",
            "ALTER TABLE audit_log ADD COLUMN token_subject TEXT",
            "ALTER TABLE audit_log ADD COLUMN token_client_id TEXT",
            "ALTER TABLE audit_log ADD COLUMN token_audiences TEXT",
            "ALTER TABLE audit_log ADD COLUMN token_scope TEXT",
            "ALTER TABLE audit_log ADD COLUMN token_kid TEXT",
            "ALTER TABLE audit_log ADD COLUMN token_issued_ms INTEGER",
            "ALTER TABLE audit_log ADD COLUMN token_expires_ms INTEGER",
            """
            CREATE TRIGGER audit_log_records_issued_token AFTER INSERT ON audit_log WHEN NEW.token_jti IS NOT NULL
            BEGIN
                INSERT INTO issued_tokens (jti, subject, client_id, audiences, scope, kid, issued_at_ms, expires_at_ms)
                VALUES (NEW.token_jti, NEW.token_subject, NEW.token_client_id, NEW.token_audiences, NEW.token_scope,
                        NEW.token_kid, NEW.token_issued_ms, NEW.token_expires_ms);
            END
            """,
        ]),
        // Filters of the admin API and `audit export`.
        (4, [
            "ALTER TABLE audit_log ADD COLUMN role TEXT",
            "CREATE INDEX audit_log_subject ON audit_log (subject, sequence)",
        ]),
        // The approval workflow: requests, activations (documents beside the columns that
        // index them, see `StoredDocument`), the notification outbox, and the activation each
        // token was issued under.
        (5, [
            """
            CREATE TABLE activation_requests (
                id TEXT PRIMARY KEY,
                version INTEGER NOT NULL,
                state TEXT NOT NULL,
                requester TEXT NOT NULL,
                role TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                deadline_ms INTEGER,
                document TEXT NOT NULL
            )
            """,
            "CREATE INDEX activation_requests_state ON activation_requests (state, created_ms, id)",
            "CREATE INDEX activation_requests_requester ON activation_requests (requester, created_ms, id)",
            """
            CREATE TABLE activations (
                id TEXT PRIMARY KEY,
                version INTEGER NOT NULL,
                state TEXT NOT NULL,
                holder TEXT NOT NULL,
                role TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                deadline_ms INTEGER,
                awaiting_review INTEGER NOT NULL,
                document TEXT NOT NULL
            )
            """,
            "CREATE INDEX activations_state ON activations (state, created_ms, id)",
            "CREATE INDEX activations_holder ON activations (holder, created_ms, id)",
            """
            CREATE TABLE notifications (
                id TEXT PRIMARY KEY,
                event TEXT NOT NULL,
                sink TEXT NOT NULL,
                payload TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                due_ms INTEGER NOT NULL,
                attempts INTEGER NOT NULL,
                last_error TEXT,
                state TEXT NOT NULL,
                claimant TEXT,
                lease_ms INTEGER,
                delivered_ms INTEGER
            )
            """,
            "CREATE INDEX notifications_due ON notifications (state, due_ms)",
            "ALTER TABLE audit_log ADD COLUMN token_activation_id TEXT",
            "ALTER TABLE issued_tokens ADD COLUMN activation_id TEXT",
            "CREATE INDEX issued_tokens_activation ON issued_tokens (activation_id)",
            "DROP TRIGGER audit_log_records_issued_token",
            """
            CREATE TRIGGER audit_log_records_issued_token AFTER INSERT ON audit_log WHEN NEW.token_jti IS NOT NULL
            BEGIN
                INSERT INTO issued_tokens (jti, subject, client_id, audiences, scope, kid, issued_at_ms, expires_at_ms, activation_id)
                VALUES (NEW.token_jti, NEW.token_subject, NEW.token_client_id, NEW.token_audiences, NEW.token_scope,
                        NEW.token_kid, NEW.token_issued_ms, NEW.token_expires_ms, NEW.token_activation_id);
            END
            """,
        ]),
        // The last good sync of each on-call source (`OnCallCacheStore`): what a restart during
        // the paging system's outage reads. `data` is the sync's own encoding, opaque here.
        (6, [
            """
            CREATE TABLE oncall_cache (
                source TEXT PRIMARY KEY,
                synced_ms INTEGER NOT NULL,
                fingerprint TEXT,
                data BLOB NOT NULL
            )
            """,
        ]),
        // On-call overrides and eligibility assignments made at run time (`DatedEntryStore`):
        // documents beside the columns that find them; rows are never deleted.
        (7, [
            """
            CREATE TABLE dated_entries (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                state TEXT NOT NULL,
                scope TEXT NOT NULL,
                ends_ms INTEGER NOT NULL,
                version INTEGER NOT NULL,
                document TEXT NOT NULL
            )
            """,
            "CREATE INDEX dated_entries_kind ON dated_entries (kind, state)",
        ]),
    ]

    public static var schemaVersion: Int { migrations.last?.version ?? 0 }

    public func appliedSchemaVersion() async throws -> Int {
        try await gate.run {
            let rows = try await self.connection.query("SELECT MAX(version) AS version FROM schema_migrations")
            return rows.first?.column("version")?.integer ?? 0
        }
    }

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

    /// One INSERT per group: a single statement is its own atomic, durable transaction, and a
    /// trigger records the tokens the entries carry in the same write. Each statement costs a
    /// round trip to the connection's thread, which under load dominated issuance when a group
    /// took five.
    ///
    /// The chain head is kept in memory. Another process appending to the same file makes the
    /// INSERT fail on the sequence primary key (the compare-and-swap); the head is then reread
    /// and the group sealed again.
    public func appendAudit(seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry] {
        try await gate.run {
            var attempts = 0
            while true {
                let head = try await self.cachedHead()
                let entries = try seal(head)
                guard let last = entries.last else { return [] }
                do {
                    let opened = entries.compactMap(\.openedActivation)
                    let notifications = entries.flatMap(\.notifications)
                    let counted = ActivationTokenCount.activationIDs(entries)
                    if opened.isEmpty && notifications.isEmpty && counted.isEmpty {
                        try await self.insert(entries)
                    } else {
                        // What an allowed exchange opens and announces is written with its entry,
                        // and a token under an existing activation with the count on it.
                        try await self.ungatedTransaction { connection in
                            try await self.insert(entries, inTransaction: true)
                            try await Self.write(activations: opened, documents: self.activationDocuments, on: connection)
                            try await Self.insert(notifications: notifications, on: connection)
                            try await Self.countTokens(of: entries, activations: counted, documents: self.activationDocuments, on: connection)
                        }
                    }
                    self.headCache.withLock { $0 = .some(last.head) }
                    return entries
                } catch let error as SQLiteError where error.isUniquenessViolation && attempts < 3 {
                    attempts += 1
                    let current = try await Self.head(self.connection)
                    self.headCache.withLock { $0 = .some(current) }
                    // The head did not move: the conflict is not a race (a duplicate jti); report it.
                    guard current != head else { throw error }
                }
            }
        }
    }

    private func cachedHead() async throws -> AuditChainHead? {
        if let cached = headCache.withLock({ $0 }) { return cached }
        let head = try await Self.head(connection)
        headCache.withLock { $0 = .some(head) }
        return head
    }

    /// Writes `entries`: in one statement when they fit, else several in a transaction of their
    /// own, unless the caller's transaction (`inTransaction`) already holds them together.
    func insert(_ entries: [SealedAuditEntry], inTransaction: Bool = false) async throws {
        let columns = "sequence, time_ms, event, subject, client_id, role, outcome, body, hash, token_jti, token_subject, token_client_id, "
            + "token_audiences, token_scope, token_kid, token_issued_ms, token_expires_ms, token_activation_id"
        let binds: @Sendable (SealedAuditEntry) -> [SQLiteData] = { entry in
            let token = entry.issuedToken
            return [Self.integer(entry.sequence), Self.integer(Self.milliseconds(entry.time)), .text(entry.event),
                    Self.text(entry.subject), Self.text(entry.clientID), Self.text(entry.role), .text(entry.outcome), .text(entry.body),
                    .text(entry.hash),
                    Self.text(token?.jwtID), Self.text(token?.subject), Self.text(token?.clientID),
                    Self.text(token?.audiences.joined(separator: " ")), Self.text(token?.scope), Self.text(token?.keyID),
                    token.map { Self.integer(Self.milliseconds($0.issuedAt)) } ?? .null,
                    token.map { Self.integer(Self.milliseconds($0.expiresAt)) } ?? .null, Self.text(token?.activationID)]
        }
        let chunks = Self.chunks(entries)
        let write: @Sendable (SQLiteConnection) async throws -> Void = { connection in
            for chunk in chunks {
                _ = try await connection.query("INSERT INTO audit_log (\(columns)) VALUES " + Self.placeholders(rows: chunk.count, columns: 18),
                                               chunk.flatMap(binds))
            }
        }
        if chunks.count == 1 || inTransaction {
            try await write(connection)
        } else {
            // Larger groups than one statement takes: several statements in one transaction.
            try await ungatedTransaction(write)
        }
    }

    public func auditEntries(matching query: AuditQuery) async throws -> [SealedAuditEntry] {
        var conditions = ["sequence > ?"]
        var binds = [Self.integer(query.afterSequence)]
        let equalities: [(column: String, value: String?)] = [
            ("subject", query.subject), ("client_id", query.clientID), ("role", query.role), ("event", query.event),
        ]
        for (column, value) in equalities {
            guard let value else { continue }
            conditions.append("\(column) = ?")
            binds.append(.text(value))
        }
        if let since = query.since {
            conditions.append("time_ms >= ?")
            binds.append(Self.integer(Self.milliseconds(since)))
        }
        if let until = query.until {
            conditions.append("time_ms < ?")
            binds.append(Self.integer(Self.milliseconds(until)))
        }
        binds.append(Self.integer(Int64(query.limit)))
        let sql = "SELECT * FROM audit_log WHERE " + conditions.joined(separator: " AND ") + " ORDER BY sequence LIMIT ?"
        return try await gate.run { [binds] in
            try await self.connection.query(sql, binds).map(Self.auditEntry)
        }
    }

    public func auditHead() async throws -> AuditChainHead? {
        try await gate.run { try await Self.head(self.connection) }
    }

    static func head(_ connection: SQLiteConnection) async throws -> AuditChainHead? {
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
        var token: IssuedTokenRecord?
        if let jti = row.column("token_jti")?.string, let subject = row.column("token_subject")?.string,
           let client = row.column("token_client_id")?.string, let audiences = row.column("token_audiences")?.string,
           let kid = row.column("token_kid")?.string, let issued = row.column("token_issued_ms")?.integer,
           let expires = row.column("token_expires_ms")?.integer {
            token = IssuedTokenRecord(jwtID: jti, subject: subject, clientID: client, audiences: audiences.split(separator: " ").map(String.init),
                                      scope: row.column("token_scope")?.string, keyID: kid, issuedAt: date(Int64(issued)),
                                      expiresAt: date(Int64(expires)), activationID: row.column("token_activation_id")?.string)
        }
        return SealedAuditEntry(sequence: Int64(sequence), time: date(Int64(time)), event: event,
                                subject: row.column("subject")?.string, clientID: row.column("client_id")?.string,
                                role: row.column("role")?.string, outcome: outcome, body: body, hash: hash, issuedToken: token)
    }

    // MARK: IssuedTokenStore

    public func issuedToken(jwtID: String) async throws -> IssuedTokenRecord? {
        try await gate.run {
            let rows = try await self.connection.query(
                "SELECT jti, subject, client_id, audiences, scope, kid, issued_at_ms, expires_at_ms, revoked_at_ms, activation_id "
                    + "FROM issued_tokens WHERE jti = ?",
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
                                     revokedAt: row.column("revoked_at_ms")?.integer.map { Self.date(Int64($0)) },
                                     activationID: row.column("activation_id")?.string)
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

    /// One UPDATE; `changes()` on the same connection, inside the same gated transaction, counts it.
    public func revokeTokens(signedBy keyID: String, at time: Date) async throws -> Int {
        let milliseconds = Self.integer(Self.milliseconds(time))
        return try await transaction { connection in
            _ = try await connection.query(
                "UPDATE issued_tokens SET revoked_at_ms = ? WHERE kid = ? AND expires_at_ms > ? AND revoked_at_ms IS NULL",
                [milliseconds, .text(keyID), milliseconds])
            return try await Self.changes(connection)
        }
    }

    // MARK: AssertionReplayStore

    public func recordFirstUse(jti: String, clientID: String, expiresAt: Date, now: Date) async throws -> Bool {
        let prune = nextAssertionPrune.withLock { next in
            guard now >= next else { return false }
            next = now.addingTimeInterval(Self.assertionPruneInterval)
            return true
        }
        return try await transaction { connection in
            if prune {
                // Expired jtis can never be replayed (their assertions fail the exp check), so
                // they go; without this the table would grow with every assertion ever seen.
                _ = try await connection.query("DELETE FROM assertion_jtis WHERE expires_at_ms <= ?", [Self.integer(Self.milliseconds(now))])
            }
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

    // MARK: Pruning

    public func pruneExpired(now: Date) async throws -> PrunedRecords {
        let cutoff = Self.integer(Self.milliseconds(now))
        return try await transaction { connection in
            _ = try await connection.query("DELETE FROM issued_tokens WHERE expires_at_ms <= ?", [cutoff])
            let tokens = try await Self.changes(connection)
            _ = try await connection.query("DELETE FROM assertion_jtis WHERE expires_at_ms <= ?", [cutoff])
            let jtis = try await Self.changes(connection)
            _ = try await connection.query("DELETE FROM notifications WHERE state = 'delivered' AND delivered_ms <= ?",
                                           [Self.integer(Self.milliseconds(now.addingTimeInterval(-OutboxNotification.deliveredRetention)))])
            return PrunedRecords(issuedTokens: tokens, assertionJTIs: jtis)
        }
    }

    static func changes(_ connection: SQLiteConnection) async throws -> Int {
        let rows = try await connection.query("SELECT changes() AS n")
        return rows.first?.column("n")?.integer.map { Int($0) } ?? 0
    }

    /// How many assertion jtis are remembered (for tests of pruning).
    func assertionJTICount() async throws -> Int {
        try await gate.run {
            let rows = try await self.connection.query("SELECT COUNT(*) AS n FROM assertion_jtis")
            return rows.first?.column("n")?.integer.map { Int($0) } ?? 0
        }
    }

    // MARK: Helpers

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so
    /// the transaction cannot fail half-way for a lock), committing on success.
    func transaction<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection) async throws -> T) async throws -> T {
        try await gate.run { try await self.ungatedTransaction(body) }
    }

    /// The transaction itself, for callers already inside the gate.
    func ungatedTransaction<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection) async throws -> T) async throws -> T {
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            let result = try await body(connection)
            _ = try await connection.query("COMMIT")
            return result
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
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

    static func milliseconds(_ date: Date) -> Int64 { date.millisecondsSince1970 }

    static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
    }

    static func integer(_ value: Int64) -> SQLiteData {
        .integer(Int(value))
    }

    static func text(_ value: String?) -> SQLiteData {
        value.map(SQLiteData.text) ?? .null
    }
}

/// An exclusive `flock` on a sidecar file, taken without blocking a thread (polled), for the
/// opening of one SQLite store.
struct OpenLock {
    private let descriptor: Int32

    static func acquire(_ path: String, until deadline: ContinuousClock.Instant) async throws -> OpenLock {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StoreError("\(path): cannot create the open lock") }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard ContinuousClock.now < deadline else {
                close(descriptor)
                throw StoreError("\(path): another process kept the store busy while opening it")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return OpenLock(descriptor: descriptor)
    }

    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
