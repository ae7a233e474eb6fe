import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The approval workflow's tables in the shared store. A transition takes the audit log's
/// table lock first (as a contended append does), so transitions and appends of every replica
/// are serialised, and two replicas deciding on one request meet at its version: the UPDATE
/// of the second waits for the first's row lock, then finds the version moved and changes
/// nothing.
extension PostgresStorage {
    public func activationRequest(id: String) async throws -> ActivationRequestRecord? {
        try await storeOperation("activation_requests") {
            let rows = try await self.client.query("SELECT document FROM activation_requests WHERE id = \(id)", logger: self.logger)
            for try await document in rows.decode(String.self) {
                return try StoredDocument.decode(ActivationRequestRecord.self, document, table: "activation_requests")
            }
            return nil
        }
    }

    public func activationRequests(matching query: ActivationRequestQuery) async throws -> [ActivationRequestRecord] {
        var filter = Filter()
        filter.within("state", query.states?.map(\.rawValue))
        filter.equal("requester", query.requester)
        filter.within("role", query.roles)
        filter.deadline(dueBy: query.dueBy)
        filter.after(query.after)
        return try await documents(ActivationRequestRecord.self, filter.select(from: "activation_requests", limit: query.limit),
                                   table: "activation_requests")
    }

    public func activation(id: String) async throws -> ActivationRecord? {
        try await storeOperation("activations") {
            let rows = try await self.client.query("SELECT document FROM activations WHERE id = \(id)", logger: self.logger)
            for try await document in rows.decode(String.self) {
                return try StoredDocument.decode(ActivationRecord.self, document, table: "activations")
            }
            return nil
        }
    }

    public func activations(matching query: ActivationQuery) async throws -> [ActivationRecord] {
        var filter = Filter()
        filter.within("state", query.states?.map(\.rawValue))
        filter.equal("holder", query.holder)
        filter.within("role", query.roles)
        filter.deadline(dueBy: query.dueBy)
        if query.awaitingReview { filter.conditions.append("awaiting_review") }
        filter.after(query.after)
        return try await documents(ActivationRecord.self, filter.select(from: "activations", limit: query.limit), table: "activations")
    }

    private func documents<T: Decodable>(_ type: T.Type, _ query: PostgresQuery, table: String) async throws -> [T] {
        try await storeOperation(table) {
            var records: [T] = []
            for try await document in try await self.client.query(query, logger: self.logger).decode(String.self) {
                records.append(try StoredDocument.decode(type, document, table: table))
            }
            return records
        }
    }

    public func commit(_ change: ActivationChange,
                       seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry]? {
        let requests = try change.requests.map { ($0, try StoredDocument.encode($0)) }
        let activations = try change.activations.map { ($0, try StoredDocument.encode($0)) }
        let written: [SealedAuditEntry]?
        do {
            written = try await client.withConnection { connection -> [SealedAuditEntry]? in
                do {
                    return try await Self.transaction(on: connection, logger: self.logger) { connection -> [SealedAuditEntry] in
                        try await connection.query("LOCK TABLE audit_log IN EXCLUSIVE MODE", logger: self.logger)
                        for (request, document) in requests {
                            guard try await Self.write(request: request, document: document, on: connection, logger: self.logger) else {
                                throw LostRace()
                            }
                        }
                        for (activation, document) in activations {
                            guard try await Self.write(activation: activation, document: document, on: connection, logger: self.logger) else {
                                throw LostRace()
                            }
                        }
                        for entry in change.datedEntries {
                            guard try await Self.write(datedEntry: entry, on: connection, logger: self.logger) else { throw LostRace() }
                        }
                        let entries = try seal(try await Self.readHead(on: connection, logger: self.logger))
                        try await Self.insertWithinTransaction(entries, on: connection, logger: self.logger)
                        try await Self.write(activations: entries.compactMap(\.openedActivation), on: connection, logger: self.logger)
                        try await Self.insert(notifications: change.notifications + entries.flatMap(\.notifications), on: connection,
                                              logger: self.logger)
                        let time = Self.milliseconds(change.time)
                        for id in change.revokeTokensOf {
                            try await connection.query("""
                                UPDATE issued_tokens SET revoked_at_ms = \(time)
                                WHERE activation_id = \(id) AND revoked_at_ms IS NULL AND expires_at_ms > \(time)
                                """, logger: self.logger)
                        }
                        return entries
                    }
                } catch is LostRace {
                    return nil
                }
            }
        } catch let error as PSQLError {
            throw StoreError("activations: the transition was refused: \(Self.describe(error))")
        }
        // The head moved under this process's cache: the next append reads it again.
        headCache.withLock { $0 = nil }
        return written
    }

    static func insert(notifications: [OutboxNotification], on connection: PostgresConnection, logger: Logger) async throws {
        for notification in notifications {
            try await connection.query("""
                INSERT INTO notifications (id, event, sink, payload, created_ms, due_ms, attempts, last_error, state)
                VALUES (\(notification.id), \(notification.event), \(notification.sink), \(notification.payload),
                        \(milliseconds(notification.createdAt)), \(milliseconds(notification.dueAt)),
                        \(Int32(clamping: notification.attempts)), \(notification.lastError), 'pending')
                """, logger: logger)
        }
    }

    /// A version check that failed: the transaction is rolled back and the caller told.
    private struct LostRace: Error {}

    /// A compare-and-swap of one request: an INSERT for version 1 (nothing when the id is
    /// taken), else an UPDATE over the previous version. False when it changed nothing.
    private static func write(request: ActivationRequestRecord, document: String, on connection: PostgresConnection,
                              logger: Logger) async throws -> Bool {
        let deadline = request.deadline.map(milliseconds)
        let rows = if request.version == 1 {
            try await connection.query("""
                INSERT INTO activation_requests (id, version, state, requester, role, created_ms, deadline_ms, document)
                VALUES (\(request.id), 1, \(request.state.rawValue), \(request.requester), \(request.role),
                        \(milliseconds(request.createdAt)), \(deadline), \(document))
                ON CONFLICT (id) DO NOTHING RETURNING 1
                """, logger: logger)
        } else {
            try await connection.query("""
                UPDATE activation_requests SET version = \(request.version), state = \(request.state.rawValue),
                    requester = \(request.requester), role = \(request.role), deadline_ms = \(deadline), document = \(document)
                WHERE id = \(request.id) AND version = \(request.version - 1) RETURNING 1
                """, logger: logger)
        }
        return try await !rows.collect().isEmpty
    }

    private static func write(activation: ActivationRecord, document: String, on connection: PostgresConnection,
                              logger: Logger) async throws -> Bool {
        let deadline = activation.deadline.map(milliseconds)
        let rows = if activation.version == 1 {
            try await connection.query("""
                INSERT INTO activations (id, version, state, holder, role, created_ms, deadline_ms, awaiting_review, document)
                VALUES (\(activation.id), 1, \(activation.state.rawValue), \(activation.holder), \(activation.role),
                        \(milliseconds(activation.createdAt)), \(deadline), \(activation.awaitsReview), \(document))
                ON CONFLICT (id) DO NOTHING RETURNING 1
                """, logger: logger)
        } else {
            try await connection.query("""
                UPDATE activations SET version = \(activation.version), state = \(activation.state.rawValue),
                    holder = \(activation.holder), role = \(activation.role), deadline_ms = \(deadline),
                    awaiting_review = \(activation.awaitsReview), document = \(document)
                WHERE id = \(activation.id) AND version = \(activation.version - 1) RETURNING 1
                """, logger: logger)
        }
        return try await !rows.collect().isEmpty
    }

    /// Counts the tokens of `entries` on the activations they are issued under, in the
    /// caller's transaction, which has written its audit rows already: it holds audit_log
    /// before the activations' row locks, in the order a transition takes them (its table lock,
    /// then its UPDATE), so the two cannot deadlock. Throws `ActivationNoLongerCovers` when
    /// an activation does not cover its tokens.
    static func countTokens(of entries: [SealedAuditEntry], on connection: PostgresConnection, logger: Logger) async throws {
        let ids = ActivationTokenCount.activationIDs(entries)
        guard !ids.isEmpty else { return }
        var current: [String: ActivationRecord] = [:]
        let rows = try await connection.query("SELECT document FROM activations WHERE id = ANY(\(ids)) FOR UPDATE", logger: logger)
        for try await document in rows.decode(String.self) {
            let activation = try StoredDocument.decode(ActivationRecord.self, document, table: "activations")
            current[activation.id] = activation
        }
        let counted = try ActivationTokenCount.counted(entries, current: current)
        guard !counted.isEmpty else { return }
        // One statement for the group's activations: only the version and the document move.
        var binds = PostgresBindings(capacity: counted.count * 3)
        var values: [String] = []
        for activation in counted {
            values.append("($\(binds.count + 1), $\(binds.count + 2)::BIGINT, $\(binds.count + 3))")
            binds.append(activation.id)
            binds.append(activation.version)
            binds.append(try StoredDocument.encode(activation))
        }
        let updated = try await connection.query(PostgresQuery(unsafeSQL: """
            UPDATE activations SET version = counted.version, document = counted.document
            FROM (VALUES \(values.joined(separator: ", "))) AS counted (id, version, document)
            WHERE activations.id = counted.id AND activations.version = counted.version - 1 RETURNING 1
            """, binds: binds), logger: logger).collect()
        guard updated.count == counted.count else {
            throw StoreError("activations: an activation changed under its row lock")
        }
    }

    /// New activations riding with audit entries; an id already taken fails the transaction.
    static func write(activations: [ActivationRecord], on connection: PostgresConnection, logger: Logger) async throws {
        for activation in activations {
            guard activation.version == 1,
                  try await write(activation: activation, document: try StoredDocument.encode(activation), on: connection, logger: logger)
            else {
                throw StoreError("activations: activation \(activation.id) was already recorded")
            }
        }
    }

    // MARK: NotificationOutbox

    /// `FOR UPDATE SKIP LOCKED`: replicas claiming at the same moment take different rows.
    public func claimNotifications(now: Date, claimant: String, leaseUntil: Date, limit: Int) async throws -> [OutboxNotification] {
        let (time, lease) = (Self.milliseconds(now), Self.milliseconds(leaseUntil))
        return try await storeOperation("notifications") {
            let rows = try await self.client.query("""
                UPDATE notifications SET claimant = \(claimant), lease_ms = \(lease)
                WHERE id IN (
                    SELECT id FROM notifications
                    WHERE state = 'pending' AND due_ms <= \(time) AND (lease_ms IS NULL OR lease_ms <= \(time))
                    ORDER BY created_ms, id LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED
                )
                RETURNING id, event, sink, payload, created_ms, due_ms, attempts, last_error
                """, logger: self.logger)
            var claimed: [OutboxNotification] = []
            for try await (id, event, sink, payload, created, due, attempts, error)
                in rows.decode((String, String, String, String, Int64, Int64, Int32, String?).self) {
                claimed.append(OutboxNotification(id: id, event: event, sink: sink, payload: payload, createdAt: Self.date(created),
                                                  dueAt: Self.date(due), attempts: Int(attempts), lastError: error))
            }
            return claimed.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    public func finishNotification(id: String, claimant: String, outcome: NotificationDeliveryOutcome) async throws -> Bool {
        try await storeOperation("notifications") {
            let rows = switch outcome {
            case .delivered(let time):
                try await self.client.query("""
                    UPDATE notifications SET state = 'delivered', delivered_ms = \(Self.milliseconds(time)), attempts = attempts + 1,
                        claimant = NULL, lease_ms = NULL
                    WHERE id = \(id) AND claimant = \(claimant) AND state = 'pending' RETURNING 1
                    """, logger: self.logger)
            case .retry(let time, let attempts, let error):
                try await self.client.query("""
                    UPDATE notifications SET due_ms = \(Self.milliseconds(time)), attempts = \(attempts), last_error = \(error),
                        claimant = NULL, lease_ms = NULL
                    WHERE id = \(id) AND claimant = \(claimant) AND state = 'pending' RETURNING 1
                    """, logger: self.logger)
            case .failed(let attempts, let error):
                try await self.client.query("""
                    UPDATE notifications SET state = 'failed', attempts = \(attempts), last_error = \(error), claimant = NULL, lease_ms = NULL
                    WHERE id = \(id) AND claimant = \(claimant) AND state = 'pending' RETURNING 1
                    """, logger: self.logger)
            }
            return try await !rows.collect().isEmpty
        }
    }

    public func notifications(in state: NotificationState, limit: Int) async throws -> [OutboxNotification] {
        try await storeOperation("notifications") {
            let rows = try await self.client.query("""
                SELECT id, event, sink, payload, created_ms, due_ms, attempts, last_error FROM notifications
                WHERE state = \(state.rawValue) ORDER BY created_ms, id LIMIT \(Int64(limit))
                """, logger: self.logger)
            var found: [OutboxNotification] = []
            for try await (id, event, sink, payload, created, due, attempts, error)
                in rows.decode((String, String, String, String, Int64, Int64, Int32, String?).self) {
                found.append(OutboxNotification(id: id, event: event, sink: sink, payload: payload, createdAt: Self.date(created),
                                                dueAt: Self.date(due), attempts: Int(attempts), lastError: error))
            }
            return found
        }
    }

    /// The WHERE clause of a listing, built from the filters that are set.
    struct Filter {
        var conditions: [String] = []
        var binds = PostgresBindings()

        private mutating func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }

        mutating func equal(_ column: String, _ value: String?) {
            guard let value else { return }
            conditions.append("\(column) = \(bind(value))")
        }

        mutating func within(_ column: String, _ values: [String]?) {
            guard let values else { return }
            conditions.append("\(column) = ANY(\(bind(values)))")
        }

        mutating func deadline(dueBy time: Date?) {
            guard let time else { return }
            conditions.append("deadline_ms <= \(bind(milliseconds(time)))")
        }

        mutating func after(_ cursor: ActivationCursor?) {
            guard let cursor else { return }
            let created = bind(milliseconds(cursor.createdAt))
            conditions.append("(created_ms > \(created) OR (created_ms = \(created) AND id COLLATE \"C\" > \(bind(cursor.id))))")
        }

        mutating func select(from table: String, limit: Int) -> PostgresQuery {
            let clause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            let limitPlaceholder = bind(Int64(max(limit, 0)))
            return PostgresQuery(unsafeSQL: "SELECT document FROM \(table)\(clause) ORDER BY created_ms, id COLLATE \"C\" LIMIT \(limitPlaceholder)",
                                 binds: binds)
        }
    }
}
