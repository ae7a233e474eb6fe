import Foundation
import Synchronization

/// The approval workflow's tables in the embedded store. A transition is one `BEGIN
/// IMMEDIATE` transaction: the write lock is taken first, so the version checks, the audit
/// entries (sealed on the head read inside it) and the outbox rows commit together or not at all.
/// Reads take the reader connection: a version read there is at worst one that a transition
/// has since replaced, which its compare-and-swap then refuses.
extension SQLiteStorage {
    public func activationRequest(id: String) async throws -> ActivationRequestRecord? {
        try await read { connection in
            let rows = try await connection.query("SELECT document FROM activation_requests WHERE id = ?", [.text(id)])
            return try rows.first.map { try Self.document(ActivationRequestRecord.self, $0, table: "activation_requests") }
        }
    }

    public func activationRequests(matching query: ActivationRequestQuery) async throws -> [ActivationRequestRecord] {
        var filter = Self.Filter()
        filter.states(query.states?.map(\.rawValue))
        filter.equal("requester", query.requester)
        filter.within("role", query.roles)
        filter.deadline(dueBy: query.dueBy)
        filter.after(query.after)
        let (sql, binds) = filter.select(from: "activation_requests", limit: query.limit)
        return try await read { connection in
            try await connection.query(sql, binds).map { try Self.document(ActivationRequestRecord.self, $0, table: "activation_requests") }
        }
    }

    public func activation(id: String) async throws -> ActivationRecord? {
        try await read { connection in
            let rows = try await connection.query("SELECT id, document FROM activations WHERE id = ?", [.text(id)])
            return try rows.first.map { try self.activationDocuments.record($0) }
        }
    }

    public func activations(matching query: ActivationQuery) async throws -> [ActivationRecord] {
        var filter = Self.Filter()
        filter.states(query.states?.map(\.rawValue))
        filter.equal("holder", query.holder)
        filter.within("role", query.roles)
        filter.deadline(dueBy: query.dueBy)
        if query.awaitingReview { filter.conditions.append("awaiting_review = 1") }
        filter.after(query.after)
        let (sql, binds) = filter.select(from: "activations", limit: query.limit)
        return try await read { connection in
            try await connection.query(sql, binds).map { try self.activationDocuments.record($0) }
        }
    }

    public func commit(_ change: ActivationChange,
                       seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry]? {
        let requests = try change.requests.map { ($0, try StoredDocument.encode($0)) }
        let activations = try change.activations.map { ($0, try activationDocuments.encode($0)) }
        let written: [SealedAuditEntry]? = try await gate.run {
            try await self.ungatedTransaction { connection -> [SealedAuditEntry]? in
                for (request, document) in requests {
                    guard try await Self.write(request: request, document: document, on: connection) else { return nil }
                }
                for (activation, document) in activations {
                    guard try await Self.write(activation: activation, document: document, on: connection) else { return nil }
                }
                for entry in change.datedEntries {
                    guard try await Self.write(datedEntry: entry, on: connection) else { return nil }
                }
                // Read inside the transaction, which holds the write lock: the head cannot move.
                let entries = try seal(try await Self.head(connection))
                if !entries.isEmpty { try await self.insert(entries, inTransaction: true) }
                try await Self.write(activations: entries.compactMap(\.openedActivation), documents: self.activationDocuments, on: connection)
                try await Self.insert(notifications: change.notifications + entries.flatMap(\.notifications), on: connection)
                for id in change.revokeTokensOf {
                    let time = Self.integer(Self.milliseconds(change.time))
                    _ = try await connection.query(
                        "UPDATE issued_tokens SET revoked_at_ms = ? WHERE activation_id = ? AND revoked_at_ms IS NULL AND expires_at_ms > ?",
                        [time, .text(id), time])
                }
                return entries
            }
        }
        if let last = written?.last { headCache.withLock { $0 = .some(last.head) } }
        return written
    }

    /// A compare-and-swap of one request: an INSERT for version 1 (refused when the id is
    /// taken), else an UPDATE over the previous version. False when it changed nothing.
    private static func write(request: ActivationRequestRecord, document: String, on connection: SQLiteConnection) async throws -> Bool {
        let binds: [SQLiteData] = [.text(request.state.rawValue), .text(request.requester), .text(request.role),
                                   integer(milliseconds(request.createdAt)), request.deadline.map { integer(milliseconds($0)) } ?? .null,
                                   .text(document), integer(request.version), .text(request.id)]
        if request.version == 1 {
            _ = try await connection.query("""
                INSERT OR IGNORE INTO activation_requests (state, requester, role, created_ms, deadline_ms, document, version, id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, binds)
        } else {
            _ = try await connection.query("""
                UPDATE activation_requests SET state = ?, requester = ?, role = ?, created_ms = ?, deadline_ms = ?, document = ?, version = ?
                WHERE id = ? AND version = ?
                """, binds + [integer(request.version - 1)])
        }
        return try await changes(connection) == 1
    }

    private static func write(activation: ActivationRecord, document: String, on connection: SQLiteConnection) async throws -> Bool {
        let binds: [SQLiteData] = [.text(activation.state.rawValue), .text(activation.holder), .text(activation.role),
                                   integer(milliseconds(activation.createdAt)), activation.deadline.map { integer(milliseconds($0)) } ?? .null,
                                   integer(activation.awaitsReview ? 1 : 0), .text(document), integer(activation.version), .text(activation.id)]
        if activation.version == 1 {
            _ = try await connection.query("""
                INSERT OR IGNORE INTO activations (state, holder, role, created_ms, deadline_ms, awaiting_review, document, version, id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, binds)
        } else {
            _ = try await connection.query("""
                UPDATE activations SET state = ?, holder = ?, role = ?, created_ms = ?, deadline_ms = ?, awaiting_review = ?, document = ?,
                    version = ?
                WHERE id = ? AND version = ?
                """, binds + [integer(activation.version - 1)])
        }
        return try await changes(connection) == 1
    }

    /// Counts the tokens of `entries` on the activations (`ids`) they are issued under, each
    /// one's next version over the one read here: the caller's transaction holds the write
    /// lock, so that version is current. Throws `ActivationNoLongerCovers` when one is not covered.
    static func countTokens(of entries: [SealedAuditEntry], activations ids: [String], documents: ActivationDocuments,
                            on connection: SQLiteConnection) async throws {
        guard !ids.isEmpty else { return }
        var current: [ActivationRecord] = []
        for chunk in chunks(ids) {
            let rows = try await connection.query("SELECT id, document FROM activations WHERE id IN " + placeholders(rows: 1, columns: chunk.count),
                                                  chunk.map { .text($0) })
            current += try rows.map { try documents.record($0) }
        }
        let counted = try ActivationTokenCount.counted(entries, current: Dictionary(current.map { ($0.id, $0) }) { first, _ in first })
        // One statement for the group's activations: only the version and the document move.
        for chunk in chunks(counted) {
            let binds = try chunk.flatMap { activation -> [SQLiteData] in
                [.text(activation.id), integer(activation.version), .text(try documents.encode(activation))]
            }
            _ = try await connection.query("""
                WITH counted (id, version, document) AS (VALUES \(placeholders(rows: chunk.count, columns: 3)))
                UPDATE activations SET version = counted.version, document = counted.document FROM counted
                WHERE activations.id = counted.id AND activations.version = counted.version - 1
                """, binds)
            guard try await changes(connection) == chunk.count else {
                throw StoreError("activations: an activation changed inside a transaction")
            }
        }
    }

    /// New activations riding with audit entries; an id already taken fails the transaction.
    static func write(activations: [ActivationRecord], documents: ActivationDocuments, on connection: SQLiteConnection) async throws {
        for activation in activations {
            guard activation.version == 1, try await write(activation: activation, document: try documents.encode(activation),
                                                           on: connection) else {
                throw StoreError("activations: activation \(activation.id) was already recorded")
            }
        }
    }

    static func insert(notifications: [OutboxNotification], on connection: SQLiteConnection) async throws {
        for notification in notifications {
            _ = try await connection.query("""
                INSERT INTO notifications (id, event, sink, payload, created_ms, due_ms, attempts, last_error, state)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')
                """, [.text(notification.id), .text(notification.event), .text(notification.sink), .text(notification.payload),
                      integer(milliseconds(notification.createdAt)), integer(milliseconds(notification.dueAt)),
                      integer(Int64(notification.attempts)), text(notification.lastError)])
        }
    }

    // MARK: NotificationOutbox

    public func claimNotifications(now: Date, claimant: String, leaseUntil: Date, limit: Int) async throws -> [OutboxNotification] {
        let nowMilliseconds = Self.integer(Self.milliseconds(now))
        // Polled every second: the write lock is taken only when something is due.
        let due = try await gate.run {
            try await self.connection.query("""
                SELECT 1 FROM notifications WHERE state = 'pending' AND due_ms <= ? AND (lease_ms IS NULL OR lease_ms <= ?) LIMIT 1
                """, [nowMilliseconds, nowMilliseconds])
        }
        guard !due.isEmpty else { return [] }
        return try await transaction { connection in
            let rows = try await connection.query("""
                SELECT * FROM notifications WHERE state = 'pending' AND due_ms <= ? AND (lease_ms IS NULL OR lease_ms <= ?)
                ORDER BY created_ms, id LIMIT ?
                """, [nowMilliseconds, nowMilliseconds, Self.integer(Int64(limit))])
            let claimed = try rows.map(Self.notification)
            for notification in claimed {
                _ = try await connection.query("UPDATE notifications SET claimant = ?, lease_ms = ? WHERE id = ?",
                                               [.text(claimant), Self.integer(Self.milliseconds(leaseUntil)), .text(notification.id)])
            }
            return claimed
        }
    }

    public func finishNotification(id: String, claimant: String, outcome: NotificationDeliveryOutcome) async throws -> Bool {
        let (sql, binds): (String, [SQLiteData]) = switch outcome {
        case .delivered(let time):
            ("state = 'delivered', delivered_ms = ?, attempts = attempts + 1", [Self.integer(Self.milliseconds(time))])
        case .retry(let time, let attempts, let error):
            ("due_ms = ?, attempts = ?, last_error = ?", [Self.integer(Self.milliseconds(time)), Self.integer(Int64(attempts)), .text(error)])
        case .failed(let attempts, let error):
            ("state = 'failed', attempts = ?, last_error = ?", [Self.integer(Int64(attempts)), .text(error)])
        }
        return try await transaction { connection in
            _ = try await connection.query(
                "UPDATE notifications SET \(sql), claimant = NULL, lease_ms = NULL WHERE id = ? AND claimant = ? AND state = 'pending'",
                binds + [.text(id), .text(claimant)])
            return try await Self.changes(connection) == 1
        }
    }

    public func notifications(in state: NotificationState, limit: Int) async throws -> [OutboxNotification] {
        try await gate.run {
            try await self.connection.query("SELECT * FROM notifications WHERE state = ? ORDER BY created_ms, id LIMIT ?",
                                            [.text(state.rawValue), Self.integer(Int64(limit))]).map(Self.notification)
        }
    }

    private static func notification(_ row: SQLiteRow) throws -> OutboxNotification {
        guard let id = row.column("id")?.string, let event = row.column("event")?.string, let sink = row.column("sink")?.string,
              let payload = row.column("payload")?.string, let created = row.column("created_ms")?.integer,
              let due = row.column("due_ms")?.integer, let attempts = row.column("attempts")?.integer
        else {
            throw StoreError("notifications: unreadable row")
        }
        return OutboxNotification(id: id, event: event, sink: sink, payload: payload, createdAt: date(Int64(created)),
                                  dueAt: date(Int64(due)), attempts: Int(attempts), lastError: row.column("last_error")?.string)
    }

    private static func document<T: Decodable>(_ type: T.Type, _ row: SQLiteRow, table: String) throws -> T {
        guard let text = row.column("document")?.string else { throw StoreError("\(table): unreadable row") }
        return try StoredDocument.decode(type, text, table: table)
    }

    /// The WHERE clause of a listing, built from the filters that are set.
    struct Filter {
        var conditions: [String] = []
        var binds: [SQLiteData] = []

        mutating func states(_ states: [String]?) {
            within("state", states)
        }

        mutating func equal(_ column: String, _ value: String?) {
            guard let value else { return }
            conditions.append("\(column) = ?")
            binds.append(.text(value))
        }

        mutating func within(_ column: String, _ values: [String]?) {
            guard let values else { return }
            guard !values.isEmpty else {
                conditions.append("0")
                return
            }
            conditions.append("\(column) IN (" + values.map { _ in "?" }.joined(separator: ", ") + ")")
            binds.append(contentsOf: values.map(SQLiteData.text))
        }

        mutating func deadline(dueBy time: Date?) {
            guard let time else { return }
            conditions.append("deadline_ms <= ?")
            binds.append(integer(milliseconds(time)))
        }

        mutating func after(_ cursor: ActivationCursor?) {
            guard let cursor else { return }
            conditions.append("(created_ms > ? OR (created_ms = ? AND id > ?))")
            let created = integer(milliseconds(cursor.createdAt))
            binds.append(contentsOf: [created, created, .text(cursor.id)])
        }

        func select(from table: String, limit: Int) -> (String, [SQLiteData]) {
            let clause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            return ("SELECT id, document FROM \(table)\(clause) ORDER BY created_ms, id LIMIT ?", binds + [integer(Int64(limit))])
        }
    }
}

extension ActivationDocuments {
    /// The record of an `activations` row read with its `id` and `document`.
    func record(_ row: SQLiteRow) throws -> ActivationRecord {
        guard let text = row.column("document")?.string else { throw StoreError("activations: unreadable row") }
        return try record(id: row.column("id")?.string, text: text, table: "activations")
    }
}
