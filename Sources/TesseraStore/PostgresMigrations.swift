import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL schema, as versioned changes applied in order when a store opens.
///
/// The columns mirror `SQLiteStorage`'s (times as BIGINT milliseconds since 1970, so a `Date`
/// round-trips to the millisecond on both backends), in one first version: this backend starts
/// from the schema SQLite reached through four. Later changes append versions; an applied one is
/// never edited.
enum PostgresMigrations {
    static let migrations: [(version: Int, statements: [String])] = [
        (1, [
            """
            CREATE TABLE audit_log (
                sequence BIGINT PRIMARY KEY,
                time_ms BIGINT NOT NULL,
                event TEXT NOT NULL,
                subject TEXT,
                client_id TEXT,
                role TEXT,
                outcome TEXT NOT NULL,
                body TEXT NOT NULL,
                hash TEXT NOT NULL,
                token_jti TEXT,
                token_subject TEXT,
                token_client_id TEXT,
                token_audiences TEXT,
                token_scope TEXT,
                token_kid TEXT,
                token_issued_ms BIGINT,
                token_expires_ms BIGINT
            )
            """,
            "CREATE INDEX audit_log_time ON audit_log (time_ms)",
            "CREATE INDEX audit_log_subject ON audit_log (subject, sequence)",
            """
            CREATE TABLE issued_tokens (
                jti TEXT PRIMARY KEY,
                subject TEXT NOT NULL,
                client_id TEXT NOT NULL,
                audiences TEXT NOT NULL,
                scope TEXT,
                kid TEXT NOT NULL,
                issued_at_ms BIGINT NOT NULL,
                expires_at_ms BIGINT NOT NULL,
                revoked_at_ms BIGINT
            )
            """,
            "CREATE INDEX issued_tokens_expiry ON issued_tokens (expires_at_ms)",
            """
            CREATE TABLE assertion_jtis (
                client_id TEXT NOT NULL,
                jti TEXT NOT NULL,
                expires_at_ms BIGINT NOT NULL,
                PRIMARY KEY (client_id, jti)
            )
            """,
            "CREATE INDEX assertion_jtis_expiry ON assertion_jtis (expires_at_ms)",
        ]),
        // Signing keys replicas share (`SigningKeyStore`): the set's version is one row, which a
        // replacement moves on by a compare-and-swap; the keys are replaced whole in the same
        // transaction. `material` is the private key sealed with the key-encryption key.
        (2, [
            "CREATE TABLE signing_key_set (id SMALLINT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)",
            "INSERT INTO signing_key_set (id, version) VALUES (1, 0)",
            """
            CREATE TABLE signing_keys (
                kid TEXT PRIMARY KEY,
                algorithm TEXT NOT NULL,
                state TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                activates_at_ms BIGINT,
                retired_at_ms BIGINT,
                remove_after_ms BIGINT,
                revoked_at_ms BIGINT,
                revocation_reason TEXT,
                material BYTEA NOT NULL
            )
            """,
        ]),
        // The set's MAC (HMAC-SHA256 under a key derived from the key-encryption key, over the
        // version and every row), written with the set by the compare-and-swap. Existing sets
        // have none until the first start holding the KEK re-seals and authenticates them
        // (KeyManager; the store cannot, it never holds the KEK).
        (3, [
            "ALTER TABLE signing_key_set ADD COLUMN mac BYTEA",
        ]),
        // The approval workflow, as SQLite's version 5: requests and activations (documents
        // beside the columns that index them, see `StoredDocument`), the notification outbox,
        // and the activation each token was issued under.
        (4, [
            """
            CREATE TABLE activation_requests (
                id TEXT PRIMARY KEY,
                version BIGINT NOT NULL,
                state TEXT NOT NULL,
                requester TEXT NOT NULL,
                role TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                deadline_ms BIGINT,
                document TEXT NOT NULL
            )
            """,
            "CREATE INDEX activation_requests_state ON activation_requests (state, created_ms, id)",
            "CREATE INDEX activation_requests_requester ON activation_requests (requester, created_ms, id)",
            """
            CREATE TABLE activations (
                id TEXT PRIMARY KEY,
                version BIGINT NOT NULL,
                state TEXT NOT NULL,
                holder TEXT NOT NULL,
                role TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                deadline_ms BIGINT,
                awaiting_review BOOLEAN NOT NULL,
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
                created_ms BIGINT NOT NULL,
                due_ms BIGINT NOT NULL,
                attempts INTEGER NOT NULL,
                last_error TEXT,
                state TEXT NOT NULL,
                claimant TEXT,
                lease_ms BIGINT,
                delivered_ms BIGINT
            )
            """,
            "CREATE INDEX notifications_due ON notifications (state, due_ms)",
            "ALTER TABLE audit_log ADD COLUMN token_activation_id TEXT",
            "ALTER TABLE issued_tokens ADD COLUMN activation_id TEXT",
            "CREATE INDEX issued_tokens_activation ON issued_tokens (activation_id)",
        ]),
        // The last good sync of each on-call source (`OnCallCacheStore`), as SQLite's version 6:
        // replicas share it, so one that starts during the paging system's outage has the data
        // another fetched. `data` is the sync's own encoding, opaque here.
        (5, [
            """
            CREATE TABLE oncall_cache (
                source TEXT PRIMARY KEY,
                synced_ms BIGINT NOT NULL,
                fingerprint TEXT,
                data BYTEA NOT NULL
            )
            """,
        ]),
        // On-call overrides and eligibility assignments made at run time (`DatedEntryStore`),
        // as SQLite's version 7.
        (6, [
            """
            CREATE TABLE dated_entries (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                state TEXT NOT NULL,
                scope TEXT NOT NULL,
                ends_ms BIGINT NOT NULL,
                version BIGINT NOT NULL,
                document TEXT NOT NULL
            )
            """,
            "CREATE INDEX dated_entries_kind ON dated_entries (kind, state)",
        ]),
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Names the lock that serialises migrations across processes: an arbitrary constant
    /// ("Tessera1" in ASCII). Another application taking advisory locks in the same database
    /// must not use it.
    static let advisoryLockKey: Int64 = 0x5465_7373_6572_6131

    /// Applies the pending migrations in one transaction.
    ///
    /// Replicas starting together all get here: the transaction-scoped advisory lock lets one in
    /// at a time, so the first applies the migrations and the others, once it has committed, find
    /// them applied. The lock is released with the transaction, even when the process dies.
    /// (CockroachDB has no advisory locks: see the README.)
    static func apply(on connection: PostgresConnection, logger: Logger) async throws {
        try await PostgresStorage.transaction(on: connection, logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(advisoryLockKey))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)", logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                let now = PostgresStorage.milliseconds(Date())
                try await connection.query(
                    "INSERT INTO schema_migrations (version, applied_ms) VALUES (\(migration.version), \(now))", logger: logger)
                logger.notice("applied a schema migration", metadata: ["tessera.schema_version": .stringConvertible(migration.version)])
            }
        }
    }
}
