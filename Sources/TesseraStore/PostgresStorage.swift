import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The store several replicas share: one PostgreSQL database, reached through a pool of
/// connections (PostgresNIO's `PostgresClient`, run by a task this store owns until `close()`).
///
/// It behaves like `SQLiteStorage` (the same conformance checks) and keeps its guarantees when
/// several processes write at once: the audit chain stays one chain because its sequence is the
/// primary key (a compare-and-swap on the head), and revocations and first uses of assertion
/// jtis are single statements the database makes atomic.
public final class PostgresStorage: MigratedStorage, SigningKeyStore {
    /// The database, without its password.
    public let url: PostgresStoreURL
    let client: PostgresClient
    private let clientRun: Task<Void, Never>
    let logger: Logger

    /// Appends of this process, one at a time: concurrent appends from one process would only
    /// collide with each other on the sequence key and retry. Replicas still collide, and retry.
    private let appendGate = SerialGate()
    /// The audit chain head as this process last wrote or read it; nil until first needed.
    let headCache = Mutex<AuditChainHead??>(nil)
    /// When expired assertion jtis are next deleted.
    private let nextAssertionPrune = Mutex(Date.distantPast)
    static let assertionPruneInterval: TimeInterval = 60

    private init(url: PostgresStoreURL, client: PostgresClient, clientRun: Task<Void, Never>, logger: Logger) {
        self.url = url
        self.client = client
        self.clientRun = clientRun
        self.logger = logger
    }

    deinit {
        clientRun.cancel()
    }

    /// Opens the database at `url` (`postgres://user:password@host:port/database`, see
    /// `PostgresStoreURL`) and applies pending migrations.
    public static func open(url text: String, logger: Logger = Logger(label: "tessera.store")) async throws -> PostgresStorage {
        try await open(url: PostgresStoreURL(text), logger: logger)
    }

    public static func open(url: PostgresStoreURL, logger: Logger = Logger(label: "tessera.store")) async throws -> PostgresStorage {
        // The pool starts first, so that its `run()` has begun by the time the first query
        // leases a connection (PostgresNIO warns otherwise); it opens connections only on demand.
        let client = PostgresClient(configuration: url.clientConfiguration(), backgroundLogger: logger)
        let clientRun = Task { await client.run() }
        do {
            // Migrations run on a connection of their own, opened here: a wrong password, a
            // missing database or a stopped server fail this call with the server's reason.
            // (A `PostgresClient` retries a failing connection until the query is cancelled,
            // postgres-nio issue #489, so it would hang instead.)
            let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 0, logger: logger)
            do {
                try await PostgresMigrations.apply(on: connection, logger: logger)
                try await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
        } catch {
            clientRun.cancel()
            await clientRun.value
            throw StoreError("\(url): cannot open the store: \(describe(error))")
        }
        return PostgresStorage(url: url, client: client, clientRun: clientRun, logger: logger)
    }

    /// Closes the pool's connections; the store cannot be used afterwards.
    public func close() async throws {
        clientRun.cancel()
        await clientRun.value
    }

    public func appliedSchemaVersion() async throws -> Int {
        try await storeOperation("schema_migrations") {
            let rows = try await self.client.query("SELECT MAX(version) FROM schema_migrations", logger: self.logger)
            for try await version in rows.decode(Int?.self) { return version ?? 0 }
            return 0
        }
    }

    // MARK: AuditStore

    /// One statement per group (a data-modifying `WITH`): it writes the entries and the tokens
    /// they carry, and is its own atomic transaction. A group larger than one statement takes is
    /// written by several in one transaction.
    ///
    /// The chain head is kept in memory, so an uncontended append costs one round trip. When
    /// another replica appended meanwhile, the INSERT fails on the sequence primary key (the
    /// compare-and-swap) and the group is sealed again on the head reread under a table lock
    /// (`appendHoldingTableLock`).
    public func appendAudit(seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry] {
        try await appendGate.run {
            let head = try await self.cachedHead()
            let entries = try seal(head)
            guard let last = entries.last else { return [] }
            do {
                try await self.client.withConnection { connection in
                    try await Self.insert(entries, on: connection, logger: self.logger)
                }
                self.headCache.withLock { $0 = .some(last.head) }
                return entries
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == SQLState.uniqueViolation {
                // Another writer took the sequence, or the group repeats a token's jti; the
                // locked retry tells them apart.
                self.headCache.withLock { $0 = nil }
            } catch let error as PSQLError {
                throw StoreError("audit_log: \(Self.describe(error))")
            }
            let written = try await self.appendHoldingTableLock(seal: seal)
            if let last = written.last {
                self.headCache.withLock { $0 = .some(last.head) }
            }
            return written
        }
    }

    /// Rereads the head and appends while holding `EXCLUSIVE` on audit_log, which lets plain
    /// reads through but no other writer: the head cannot move before the commit.
    ///
    /// Retrying optimistically instead would starve a replica: the writer that won last appends
    /// again from its cached head a round trip before the loser has reread it, and wins again.
    /// Under the lock the loser's write goes first; a writer it makes lose takes the lock in turn.
    /// A conflict here cannot be a race: it is a token jti recorded before, and is reported.
    private func appendHoldingTableLock(seal: @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry] {
        do {
            return try await client.withConnection { connection in
                try await Self.transaction(on: connection, logger: self.logger) { connection in
                    try await connection.query("LOCK TABLE audit_log IN EXCLUSIVE MODE", logger: self.logger)
                    let entries = try seal(try await Self.readHead(on: connection, logger: self.logger))
                    try await Self.insertWithinTransaction(entries, on: connection, logger: self.logger)
                    try await Self.write(activations: entries.compactMap(\.openedActivation), on: connection, logger: self.logger)
                    try await Self.insert(notifications: entries.flatMap(\.notifications), on: connection, logger: self.logger)
                    try await Self.countTokens(of: entries, on: connection, logger: self.logger)
                    return entries
                }
            }
        } catch let error as PSQLError {
            throw StoreError("audit_log: the group was refused: \(Self.describe(error))")
        }
    }

    private func cachedHead() async throws -> AuditChainHead? {
        if let cached = headCache.withLock({ $0 }) { return cached }
        let head = try await storeOperation("audit_log") { try await self.readHead() }
        headCache.withLock { $0 = .some(head) }
        return head
    }

    /// Writes `entries` on `connection` atomically: one statement (its own transaction), or
    /// several between BEGIN and COMMIT (many entries, the activations an exchange opened, or
    /// tokens counted on activations).
    private static func insert(_ entries: [SealedAuditEntry], on connection: PostgresConnection, logger: Logger) async throws {
        let opened = entries.compactMap(\.openedActivation)
        let notifications = entries.flatMap(\.notifications)
        let counted = entries.contains(where: \.countsOnActivation)
        guard entries.count > rowsPerStatement || !opened.isEmpty || !notifications.isEmpty || counted else {
            try await connection.query(insertion(entries[...]), logger: logger)
            return
        }
        try await transaction(on: connection, logger: logger) { connection in
            try await insertWithinTransaction(entries, on: connection, logger: logger)
            try await write(activations: opened, on: connection, logger: logger)
            try await insert(notifications: notifications, on: connection, logger: logger)
            try await countTokens(of: entries, on: connection, logger: logger)
        }
    }

    /// Writes `entries` on `connection`, whose transaction the caller owns.
    static func insertWithinTransaction(_ entries: [SealedAuditEntry], on connection: PostgresConnection,
                                                logger: Logger) async throws {
        for start in stride(from: 0, to: entries.count, by: rowsPerStatement) {
            try await connection.query(insertion(entries[start..<min(start + rowsPerStatement, entries.count)]), logger: logger)
        }
    }

    /// Rows per INSERT: 17 parameters each, well under PostgreSQL's 65,535 per statement.
    static let rowsPerStatement = 1000

    static let auditColumns = [
        "sequence", "time_ms", "event", "subject", "client_id", "role", "outcome", "body", "hash", "token_jti", "token_subject",
        "token_client_id", "token_audiences", "token_scope", "token_kid", "token_issued_ms", "token_expires_ms", "token_activation_id",
    ]

    /// Inserts `entries` into audit_log and, from the rows written, the tokens they carry into
    /// issued_tokens: one statement, so both are written or neither.
    private static func insertion(_ entries: ArraySlice<SealedAuditEntry>) -> PostgresQuery {
        var binds = PostgresBindings(capacity: entries.count * auditColumns.count)
        var rows: [String] = []
        for entry in entries {
            let token = entry.issuedToken
            let first = binds.count + 1
            rows.append("(" + (first..<first + auditColumns.count).map { "$\($0)" }.joined(separator: ", ") + ")")
            binds.append(entry.sequence)
            binds.append(milliseconds(entry.time))
            binds.append(entry.event)
            binds.append(entry.subject)
            binds.append(entry.clientID)
            binds.append(entry.role)
            binds.append(entry.outcome)
            binds.append(entry.body)
            binds.append(entry.hash)
            binds.append(token?.jwtID)
            binds.append(token?.subject)
            binds.append(token?.clientID)
            binds.append(token?.audiences.joined(separator: " "))
            binds.append(token?.scope)
            binds.append(token?.keyID)
            binds.append(token.map { milliseconds($0.issuedAt) })
            binds.append(token.map { milliseconds($0.expiresAt) })
            binds.append(token?.activationID)
        }
        let sql = """
            WITH written AS (
                INSERT INTO audit_log (\(auditColumns.joined(separator: ", "))) VALUES \(rows.joined(separator: ", "))
                RETURNING token_jti, token_subject, token_client_id, token_audiences, token_scope, token_kid, token_issued_ms, token_expires_ms,
                    token_activation_id
            )
            INSERT INTO issued_tokens (jti, subject, client_id, audiences, scope, kid, issued_at_ms, expires_at_ms, activation_id)
            SELECT token_jti, token_subject, token_client_id, token_audiences, token_scope, token_kid, token_issued_ms, token_expires_ms,
                token_activation_id
            FROM written WHERE token_jti IS NOT NULL
            """
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    public func auditEntries(matching query: AuditQuery) async throws -> [SealedAuditEntry] {
        var binds = PostgresBindings()
        var conditions: [String] = []
        func condition(_ column: String, _ comparison: String, _ value: some PostgresDynamicTypeEncodable) {
            binds.append(value)
            conditions.append("\(column) \(comparison) $\(binds.count)")
        }
        condition("sequence", ">", query.afterSequence)
        let equalities: [(column: String, value: String?)] = [
            ("subject", query.subject), ("client_id", query.clientID), ("role", query.role), ("event", query.event),
        ]
        for case let (column, value?) in equalities {
            condition(column, "=", value)
        }
        if let since = query.since { condition("time_ms", ">=", Self.milliseconds(since)) }
        if let until = query.until { condition("time_ms", "<", Self.milliseconds(until)) }
        binds.append(Int64(max(query.limit, 0)))
        let sql = "SELECT \(Self.auditColumns.joined(separator: ", ")) FROM audit_log WHERE "
            + conditions.joined(separator: " AND ") + " ORDER BY sequence LIMIT $\(binds.count)"
        return try await storeOperation("audit_log") {
            try await self.client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: self.logger)
                .collect().map(Self.auditEntry)
        }
    }

    public func auditHead() async throws -> AuditChainHead? {
        try await storeOperation("audit_log") { try await self.readHead() }
    }

    private func readHead() async throws -> AuditChainHead? {
        try await client.withConnection { connection in try await Self.readHead(on: connection, logger: self.logger) }
    }

    static func readHead(on connection: PostgresConnection, logger: Logger) async throws -> AuditChainHead? {
        let rows = try await connection.query("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1", logger: logger)
        for try await (sequence, hash) in rows.decode((Int64, String).self) {
            return AuditChainHead(sequence: sequence, hash: hash)
        }
        return nil
    }

    /// A row of `auditColumns`, in that order.
    private static func auditEntry(_ row: PostgresRow) throws -> SealedAuditEntry {
        let (sequence, time, event, subject, clientID, role, outcome, body, hash,
             jti, tokenSubject, tokenClient, audiences, scope, kid, issued, expires, activation) =
            try row.decode((Int64, Int64, String, String?, String?, String?, String, String, String,
                            String?, String?, String?, String?, String?, String?, Int64?, Int64?, String?).self)
        var token: IssuedTokenRecord?
        if let jti, let tokenSubject, let tokenClient, let audiences, let kid, let issued, let expires {
            token = IssuedTokenRecord(jwtID: jti, subject: tokenSubject, clientID: tokenClient, audiences: splitAudiences(audiences),
                                      scope: scope, keyID: kid, issuedAt: date(issued), expiresAt: date(expires), activationID: activation)
        }
        return SealedAuditEntry(sequence: sequence, time: date(time), event: event, subject: subject, clientID: clientID, role: role,
                                outcome: outcome, body: body, hash: hash, issuedToken: token)
    }

    // MARK: IssuedTokenStore

    public func issuedToken(jwtID: String) async throws -> IssuedTokenRecord? {
        try await storeOperation("issued_tokens") {
            let rows = try await self.client.query("""
                SELECT subject, client_id, audiences, scope, kid, issued_at_ms, expires_at_ms, revoked_at_ms, activation_id
                FROM issued_tokens WHERE jti = \(jwtID)
                """, logger: self.logger)
            for try await (subject, client, audiences, scope, kid, issued, expires, revoked, activation)
                in rows.decode((String, String, String, String?, String, Int64, Int64, Int64?, String?).self) {
                return IssuedTokenRecord(jwtID: jwtID, subject: subject, clientID: client, audiences: Self.splitAudiences(audiences),
                                         scope: scope, keyID: kid, issuedAt: Self.date(issued), expiresAt: Self.date(expires),
                                         revokedAt: revoked.map(Self.date), activationID: activation)
            }
            return nil
        }
    }

    /// The UPDATE is the decision: of concurrent revocations the database lets one change the
    /// row (the others wait for its lock, then find `revoked_at_ms` set and change nothing).
    /// Only when it changed nothing does a second read say why.
    public func revokeToken(jwtID: String, clientID: String, at time: Date) async throws -> RevocationOutcome {
        try await storeOperation("issued_tokens") {
            let revoked = try await self.client.query("""
                UPDATE issued_tokens SET revoked_at_ms = \(Self.milliseconds(time))
                WHERE jti = \(jwtID) AND client_id = \(clientID) AND revoked_at_ms IS NULL RETURNING jti
                """, logger: self.logger).collect()
            if !revoked.isEmpty { return .revoked }
            let rows = try await self.client.query("SELECT client_id FROM issued_tokens WHERE jti = \(jwtID)", logger: self.logger)
            for try await owner in rows.decode(String.self) {
                return owner == clientID ? .alreadyRevoked : .notOwner
            }
            return .unknown
        }
    }

    /// One UPDATE, its own transaction: tokens issued meanwhile either come before it (and are
    /// revoked) or after (and the caller has stopped signing with the key by then).
    public func revokeTokens(signedBy keyID: String, at time: Date) async throws -> Int {
        let milliseconds = Self.milliseconds(time)
        return try await storeOperation("issued_tokens") {
            let rows = try await self.client.query("""
                WITH revoked AS (
                    UPDATE issued_tokens SET revoked_at_ms = \(milliseconds)
                    WHERE kid = \(keyID) AND expires_at_ms > \(milliseconds) AND revoked_at_ms IS NULL RETURNING 1
                )
                SELECT count(*) FROM revoked
                """, logger: self.logger)
            for try await count in rows.decode(Int64.self) { return Int(count) }
            throw StoreError("issued_tokens: the database answered no count")
        }
    }

    // MARK: SigningKeyStore

    static let signingKeyColumns = [
        "kid", "algorithm", "state", "created_at_ms", "activates_at_ms", "retired_at_ms", "remove_after_ms", "revoked_at_ms",
        "revocation_reason", "material",
    ]

    /// One statement, so the version and the keys come from one snapshot: the version row joined
    /// to every key (a single row of NULL keys when there are none).
    public func signingKeys() async throws -> SigningKeySnapshot {
        let columns = Self.signingKeyColumns.map { "k.\($0)" }.joined(separator: ", ")
        let sql = """
            SELECT s.version, s.mac, \(columns)
            FROM signing_key_set s LEFT JOIN signing_keys k ON TRUE
            WHERE s.id = 1 ORDER BY k.created_at_ms, k.kid
            """
        return try await storeOperation("signing_keys") {
            var version: Int64?
            var mac: Data?
            var records: [SigningKeyRecord] = []
            let rows = try await self.client.query(PostgresQuery(unsafeSQL: sql), logger: self.logger)
            for try await row in rows {
                let (setVersion, setMAC, kid, algorithm, state, created, activates, retired, removeAfter, revoked, reason, material) =
                    try row.decode((Int64, Data?, String?, String?, String?, Int64?, Int64?, Int64?, Int64?, Int64?, String?, Data?).self)
                version = setVersion
                mac = setMAC
                guard let kid else { continue }
                guard let algorithm, let state, let created, let material else {
                    throw StoreError("signing_keys: unreadable row for kid \(kid)")
                }
                records.append(SigningKeyRecord(
                    kid: kid, algorithm: algorithm, state: state, createdAt: Self.date(created), activatesAt: activates.map(Self.date),
                    retiredAt: retired.map(Self.date), removeAfter: removeAfter.map(Self.date), revokedAt: revoked.map(Self.date),
                    revocationReason: reason, material: [UInt8](material)))
            }
            guard let version else { throw StoreError("signing_key_set: the version row is missing") }
            // The database's text order depends on its collation; this is the order of every backend.
            return SigningKeySnapshot(version: version, records: records.sorted(by: SigningKeyRecord.snapshotOrder), mac: mac.map { [UInt8]($0) })
        }
    }

    public func signingKeysVersion() async throws -> Int64 {
        try await storeOperation("signing_key_set") {
            let rows = try await self.client.query("SELECT version FROM signing_key_set WHERE id = 1", logger: self.logger)
            for try await version in rows.decode(Int64.self) { return version }
            throw StoreError("signing_key_set: the version row is missing")
        }
    }

    /// The compare-and-swap is the UPDATE of the version row: of concurrent replacements
    /// expecting one version, the first takes the row's lock and the others wait for it, then
    /// find the version moved on and update nothing (PostgreSQL re-checks the WHERE clause on
    /// the committed row). The winner deletes and inserts the keys in the same transaction, so
    /// readers see the old set or the new one, never a mix.
    public func replaceSigningKeys(_ records: [SigningKeyRecord], mac: [UInt8]?, expectedVersion: Int64) async throws -> Bool {
        struct StaleVersion: Error {}
        do {
            try await storeOperation("signing_keys") {
                try await self.client.withConnection { connection in
                    try await Self.transaction(on: connection, logger: self.logger) { connection in
                        let moved = try await connection.query("""
                            UPDATE signing_key_set SET version = version + 1, mac = \(mac.map { Data($0) })
                            WHERE id = 1 AND version = \(expectedVersion) RETURNING version
                            """, logger: self.logger).collect()
                        // Thrown, so the transaction rolls back.
                        guard !moved.isEmpty else { throw StaleVersion() }
                        try await connection.query("DELETE FROM signing_keys", logger: self.logger)
                        if !records.isEmpty {
                            try await connection.query(try Self.signingKeyInsertion(records), logger: self.logger)
                        }
                    }
                }
            }
            return true
        } catch is StaleVersion {
            return false
        }
    }

    /// One INSERT for the whole set: ten parameters a key, and a set holds a handful of keys.
    private static func signingKeyInsertion(_ records: [SigningKeyRecord]) throws -> PostgresQuery {
        var binds = PostgresBindings(capacity: records.count * signingKeyColumns.count)
        var rows: [String] = []
        for record in records {
            let first = binds.count + 1
            rows.append("(" + (first..<first + signingKeyColumns.count).map { "$\($0)" }.joined(separator: ", ") + ")")
            binds.append(record.kid)
            binds.append(record.algorithm)
            binds.append(record.state)
            binds.append(milliseconds(record.createdAt))
            binds.append(record.activatesAt.map(milliseconds))
            binds.append(record.retiredAt.map(milliseconds))
            binds.append(record.removeAfter.map(milliseconds))
            binds.append(record.revokedAt.map(milliseconds))
            binds.append(record.revocationReason)
            // `Data` binds as BYTEA; `[UInt8]` would bind as an array of "char".
            try binds.append(Data(record.material), context: .default)
        }
        let sql = "INSERT INTO signing_keys (\(signingKeyColumns.joined(separator: ", "))) VALUES \(rows.joined(separator: ", "))"
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    // MARK: AssertionReplayStore

    /// One INSERT decides: a new jti is inserted, an expired one has its expiry replaced, and a
    /// live one is left alone, in which case no row comes back. Concurrent first uses of one jti
    /// wait on its key, so exactly one gets a row.
    public func recordFirstUse(jti: String, clientID: String, expiresAt: Date, now: Date) async throws -> Bool {
        let nowMilliseconds = Self.milliseconds(now)
        let prune = nextAssertionPrune.withLock { next in
            guard now >= next else { return false }
            next = now.addingTimeInterval(Self.assertionPruneInterval)
            return true
        }
        return try await storeOperation("assertion_jtis") {
            if prune {
                // Expired jtis can never be replayed (their assertions fail the exp check); without
                // this the table would grow with every assertion ever seen.
                try await self.client.query("DELETE FROM assertion_jtis WHERE expires_at_ms <= \(nowMilliseconds)", logger: self.logger)
            }
            let rows = try await self.client.query("""
                INSERT INTO assertion_jtis (client_id, jti, expires_at_ms) VALUES (\(clientID), \(jti), \(Self.milliseconds(expiresAt)))
                ON CONFLICT (client_id, jti) DO UPDATE SET expires_at_ms = excluded.expires_at_ms
                WHERE assertion_jtis.expires_at_ms <= \(nowMilliseconds)
                RETURNING jti
                """, logger: self.logger).collect()
            return !rows.isEmpty
        }
    }

    // MARK: Pruning

    /// Every deletion in one statement, so one transaction.
    public func pruneExpired(now: Date) async throws -> PrunedRecords {
        let cutoff = Self.milliseconds(now)
        let delivered = Self.milliseconds(now.addingTimeInterval(-OutboxNotification.deliveredRetention))
        return try await storeOperation("pruning") {
            let rows = try await self.client.query("""
                WITH tokens AS (DELETE FROM issued_tokens WHERE expires_at_ms <= \(cutoff) RETURNING 1),
                     jtis AS (DELETE FROM assertion_jtis WHERE expires_at_ms <= \(cutoff) RETURNING 1),
                     sent AS (DELETE FROM notifications WHERE state = 'delivered' AND delivered_ms <= \(delivered) RETURNING 1)
                SELECT (SELECT count(*) FROM tokens), (SELECT count(*) FROM jtis)
                """, logger: self.logger)
            for try await (tokens, jtis) in rows.decode((Int64, Int64).self) {
                return PrunedRecords(issuedTokens: Int(tokens), assertionJTIs: Int(jtis))
            }
            throw StoreError("pruning: the database answered no counts")
        }
    }

    // MARK: Helpers

    /// SQLSTATE codes this store reacts to.
    enum SQLState {
        static let uniqueViolation = "23505"
    }

    /// Runs `body`, turning PostgresNIO's errors (whose description is deliberately generic)
    /// into a `StoreError` naming `table`, the SQLSTATE and the server's message.
    func storeOperation<T>(_ table: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError {
            throw StoreError("\(table): \(Self.describe(error))")
        }
    }

    /// Runs `body` between BEGIN and COMMIT on `connection`, rolling back if it throws. Unlike
    /// PostgresNIO's `withTransaction`, errors come out as thrown, not wrapped.
    static func transaction<T>(on connection: PostgresConnection, logger: Logger,
                               _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await connection.query("BEGIN", logger: logger)
        let result: T
        do {
            result = try await body(connection)
        } catch {
            do {
                try await connection.query("ROLLBACK", logger: logger)
            } catch {
                // A connection whose transaction state is unknown must not be reused.
                try? await connection.close()
            }
            throw error
        }
        try await connection.query("COMMIT", logger: logger)
        return result
    }

    /// What went wrong, for a person: the server's SQLSTATE and message, or the connection
    /// problem. Never the query's parameters, nor the password.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo, let message = info[.message] {
            return "\(message) (SQLSTATE \(info[.sqlState] ?? "?"))"
        }
        if let underlying = error.underlying {
            return "\(error.code): \(underlying)"
        }
        return "\(error.code)"
    }

    static func milliseconds(_ date: Date) -> Int64 { date.millisecondsSince1970 }

    static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
    }

    static func splitAudiences(_ joined: String) -> [String] {
        joined.split(separator: " ").map(String.init)
    }
}
