import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// The admin API's operations, behind `AdminAccess`: every call is authorized first, and
/// every call, allowed or refused, is itself audited.
public struct AdminAPI: Sendable {
    let access: AdminAccess
    let store: any AuditStore
    let audit: AuditLog
    /// The engine of the current policy bundle (nil: no roles to explain).
    let policy: CurrentValue<AccessPolicy>?
    /// Rotates and revokes signing keys (nil: the key operations answer 503).
    let keyManager: KeyManager?
    let timeSource: any TimeSource
    /// Failed admin authentication needs no credentials: its records are bounded per source.
    let failures: FailureAuditThrottle
    /// Who is on call, for the on-call conditions of an explained decision.
    let onCall: OnCallService?
    /// On-call overrides made at run time (nil when the bundle has no schedules).
    let onCallOverrides: OnCallOverrides?
    /// Eligibility assignments made at run time.
    let assignments: EligibilityAssignmentBook?

    public init(access: AdminAccess, store: any AuditStore, audit: AuditLog, failures: FailureAuditThrottle,
                policy: CurrentValue<AccessPolicy>? = nil, keyManager: KeyManager? = nil, timeSource: any TimeSource = SystemTimeSource(),
                onCall: OnCallService? = nil, onCallOverrides: OnCallOverrides? = nil, assignments: EligibilityAssignmentBook? = nil) {
        self.assignments = assignments
        self.onCall = onCall
        self.onCallOverrides = onCallOverrides
        self.keyManager = keyManager
        self.access = access
        self.store = store
        self.audit = audit
        self.failures = failures
        self.policy = policy
        self.timeSource = timeSource
    }

    /// `POST /admin/explain`: what the policy engine would decide for a hypothetical identity,
    /// context and request (the shape of a policy test case, as JSON), rule by rule. Issues
    /// nothing; the question itself is audited (`admin.explain`).
    public func explain(authorization: String?, body: String, origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let admin = try await authorize(authorization, origin: origin)
        let current = policy?.value
        let engine = current?.engine ?? PolicyEngine(roles: [])
        let trustedProxies = current?.trustedProxies ?? TrustedProxies()
        let question: PolicyQuestion
        do {
            question = try PolicyQuestion.parse(body, file: "request body", now: timeSource.now(), trustedProxies: trustedProxies)
        } catch {
            throw .invalidRequest(error.description)
        }
        var context = question.context(actual: onCall?.state, configuration: onCall?.configurationValue ?? OnCallConfiguration())
        context.assignments = assignments?.snapshot.value
        let decision = engine.decide(identity: question.identity, request: question.request, context: context)
        let actor = admin.acting(from: origin)
        do {
            try await audit.record(AuditEvent("admin.explain", outcome: .success, actor: actor, target: [
                "token_jti": .string(admin.jwtID), "asked_role": .string(question.request.role),
                "asked_subject": .string("\(question.identity.upstream):\(question.identity.subject)"),
                "decision": .string(decision.outcomeText),
            ]))
        } catch {
            throw .unavailable
        }
        var writer = JSONWriter()
        writer.value(decision.explanation(role: question.request.role))
        return writer.bytes
    }

    /// `GET /admin/audit`: one page of entries matching the query parameters, as
    /// `{"entries":[<audit line>...],"next_after":N}` (`next_after` is null on the last page).
    public func auditEntries(authorization: String?, parameters: [(String, String)], origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let admin = try await authorize(authorization, origin: origin)
        let query = try AuditQuery(parameters: parameters)
        let actor = admin.acting(from: origin)
        do {
            try await audit.record(AuditEvent("admin.audit_read", outcome: .success, actor: actor,
                                              target: ["filters": .object(query.auditFilters), "token_jti": .string(admin.jwtID)]))
        } catch {
            // An admin action that cannot be audited does not happen.
            throw .unavailable
        }
        let entries: [SealedAuditEntry]
        do {
            // Filtered on the hashed bodies (see AuditReader): an index column edited in the
            // database fails the read rather than hide an entry from the page.
            entries = try await StoreDeadline.run(audit.storeTimeout, "reading the audit log") { [store] in
                try await AuditReader.entries(matching: query, in: store)
            }
        } catch {
            throw .unavailable
        }
        let next = entries.count == query.limit ? entries.last.map { String($0.sequence) } ?? "null" : "null"
        let body = #"{"entries":["# + entries.map(AuditLine.json).joined(separator: ",") + #"],"next_after":\#(next)}"#
        return Array(body.utf8)
    }

    func authorize(_ authorization: String?, origin: AuditActor) async throws(AdminAccessError) -> AdminPrincipal {
        do {
            return try await access.authorize(authorization: authorization)
        } catch {
            if error != .unavailable {
                await failures.record(AuditEvent("admin.authentication_failed", outcome: .failure, actor: origin,
                                                 reasons: [error.description]))
            }
            throw error
        }
    }
}

/// One audit entry as a JSON line, the one format of `audit tail`, `audit export`, the admin
/// API and the SIEM sinks: `{"entry":<stored canonical JSON>,"hash":"<hex>"}`. The stored
/// JSON is canonical, so re-serialising `entry` canonically gives back the bytes the hash
/// covers, and anyone can recompute the chain from an export.
public enum AuditLine {
    public static func json(_ entry: SealedAuditEntry) -> String {
        #"{"entry":\#(entry.body),"hash":"\#(entry.hash)"}"#
    }
}

extension AuditQuery {
    public static let maximumPageSize = 1000

    /// The admin API's query parameters: `subject`, `client_id`, `role`, `event`, `since` and
    /// `until` (RFC 3339), `after` (a sequence number, the page cursor) and `limit` (1 to 1000,
    /// default 100). Unknown or repeated parameters are refused rather than ignored, so a typo
    /// never widens a query silently.
    public init(parameters: [(String, String)]) throws(AdminAccessError) {
        self.init()
        var seen: Set<String> = []
        for (name, value) in parameters {
            guard seen.insert(name).inserted else { throw .invalidRequest("parameter \(name) is repeated") }
            switch name {
            case "subject": subject = value
            case "client_id": clientID = value
            case "role": role = value
            case "event": event = value
            case "since": since = try Self.time(value, name)
            case "until": until = try Self.time(value, name)
            case "after":
                guard let after = Int64(value), after >= 0 else { throw .invalidRequest("after must be a sequence number") }
                afterSequence = after
            case "limit":
                guard let limit = Int(value), (1...Self.maximumPageSize).contains(limit) else {
                    throw .invalidRequest("limit must be 1 to \(Self.maximumPageSize)")
                }
                self.limit = limit
            default:
                throw .invalidRequest("unknown parameter \(displayed(name)); known: subject, client_id, role, event, since, until, after, limit")
            }
        }
    }

    /// An RFC 3339 time, with or without fractional seconds.
    public static func time(_ text: String, _ name: String) throws(AdminAccessError) -> Date {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
        throw .invalidRequest("\(name) must be an RFC 3339 time such as 2026-11-24T12:00:00Z")
    }

    /// The filters, as the `admin.audit_read` entry records them (nested, so that the `role`
    /// filter is not taken for the role the entry concerns).
    var auditFilters: [String: JSONValue] {
        var target: [String: JSONValue] = ["after": .number(Double(afterSequence)), "limit": .number(Double(limit))]
        target["subject"] = subject.map(JSONValue.string)
        target["client_id"] = clientID.map(JSONValue.string)
        target["role"] = role.map(JSONValue.string)
        target["event"] = event.map(JSONValue.string)
        target["since"] = since.map { .string($0.formatted(.iso8601)) }
        target["until"] = until.map { .string($0.formatted(.iso8601)) }
        return target
    }
}
