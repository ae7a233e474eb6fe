import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore
import TesseraText

/// The HTTP API of requests and activations, without HTTP: who is calling (RFC 6750 bearer
/// tokens: a person's identity token from a configured upstream, verified exactly as a subject
/// token is, or an admin token), what they may see and do, and the JSON answers.
public struct ActivationAPI: Sendable {
    /// The longest long poll (`?wait=`).
    public static let maximumWaitSeconds = 60
    public static let maximumPageSize = 200

    let service: ActivationService
    let policy: CurrentValue<AccessPolicy>
    let adminAccess: AdminAccess
    let timeSource: any TimeSource
    /// How often a long poll rereads the store, to see changes made by other replicas (its own
    /// node's wake it at once). With PostgreSQL replicas a second; a SQLite file is normally
    /// one node's, so there it is only a safety net and costs little with many waiters.
    let rereadInterval: Duration

    public static let replicaRereadInterval: Duration = .seconds(1)
    public static let singleNodeRereadInterval: Duration = .seconds(10)

    public init(service: ActivationService, policy: CurrentValue<AccessPolicy>, adminAccess: AdminAccess, timeSource: any TimeSource,
                rereadInterval: Duration = ActivationAPI.replicaRereadInterval) {
        self.service = service
        self.policy = policy
        self.adminAccess = adminAccess
        self.timeSource = timeSource
        self.rereadInterval = rereadInterval
    }

    /// The caller of one request: tried as an identity token first, then as an admin token.
    public func authenticate(_ header: String?) async throws(ActivationError) -> ActivationActor {
        let challenge = #"Bearer realm="tessera""#
        guard let header, !header.isEmpty else {
            throw ActivationError(status: 401, code: "invalid_request",
                                  "this API needs Authorization: Bearer <identity token from your IdP, or an admin token>", challenge: challenge)
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw ActivationError(status: 400, code: "invalid_request", "the Authorization header must be Bearer <token>")
        }
        let token = String(parts[1])
        let personError: UpstreamVerificationError
        do {
            return ActivationActor(identity: try await policy.value.upstreams.verify(subjectToken: token, now: timeSource.now()))
        } catch {
            personError = error
        }
        do {
            let admin = try await adminAccess.authorize(authorization: header)
            return ActivationActor(adminSubject: "admin:\(admin.subject)")
        } catch .invalidToken, .missingToken, .invalidRequest {
            throw ActivationError(status: 401, code: "invalid_token", "the token is neither a valid identity token (\(personError.message)) "
                                  + "nor an admin token", challenge: challenge + #", error="invalid_token""#)
        } catch .insufficientScope {
            throw ActivationError(status: 403, code: "insufficient_scope", "the token lacks the scope \(AdminAccess.scope)")
        } catch {
            throw .unavailable("the token store is unavailable; try again")
        }
    }

    // MARK: Requests

    /// `GET /requests/{id}[?wait=30s]`: answers at once, or when the request next changes.
    public func request(_ id: String, authorization: String?, wait: String?) async throws(ActivationError) -> [UInt8] {
        let actor = try await authenticate(authorization)
        var record = try await visible(id, actor: actor)
        if let wait {
            guard let seconds = DurationText.seconds(wait), seconds >= 0, seconds <= Self.maximumWaitSeconds else {
                throw .invalid("wait must be a duration of at most \(Self.maximumWaitSeconds)s, such as 30s")
            }
            let deadline = ContinuousClock.now + .seconds(seconds)
            let version = record.version
            // Woken at once by a change on this node; another replica's within `rereadInterval`.
            // Every change answers (an approval of one stage, an escalation, the decision), so a
            // waiting client can show progress; it polls again while the state is pending.
            while record.version == version, ContinuousClock.now < deadline {
                if let committed = await service.waiters.wait(for: id, timeout: min(deadline - ContinuousClock.now, rereadInterval)) {
                    record = committed
                } else {
                    record = try await service.request(id)
                }
            }
        }
        return json(requestJSON(record))
    }

    /// `GET /requests?mine=true | to_approve=true [&state=pending] [&limit=N] [&after=CURSOR]`.
    public func requests(authorization: String?, query: [String: String]) async throws(ActivationError) -> [UInt8] {
        let actor = try await authenticate(authorization)
        var filter = ActivationRequestQuery(limit: try limit(query["limit"]) + 1)
        if let state = query["state"] {
            guard let parsed = ActivationRequestState(rawValue: state) else {
                throw .invalid("state must be one of \(ActivationRequestState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.states = [parsed]
        }
        filter.after = try cursor(query["after"])
        let (toApprove, mine) = (try flag(query, "to_approve"), try flag(query, "mine"))
        if toApprove {
            guard let identity = actor.identity else { throw .invalid("to_approve lists a person's requests to approve; admins list all") }
            filter.roles = service.rolesApprovable(by: identity)
            filter.states = filter.states ?? [.pending]
        } else if mine || !actor.isAdmin {
            filter.requester = actor.subject
        }
        var records = try await service.read { [filter] in try await service.store.activationRequests(matching: filter) }
        if toApprove {
            records = records.filter { !$0.requester.isExactly(actor.subject) && !$0.approvals.contains { $0.approver.isExactly(actor.subject) } }
        }
        return json(page(records, limit: filter.limit - 1, render: requestJSON, cursor: { ($0.createdAt, $0.id) }))
    }

    /// `POST /requests/{id}/approve|deny|cancel` with an optional `comment`, and `review`. A
    /// break-glass use asks nobody, so it has no request: its review item is the activation,
    /// and `/requests/{activation id}/review` is the same as `/activations/{id}/review`.
    public func decide(_ id: String, action: String, authorization: String?, form: [String: String]) async throws(ActivationError) -> [UInt8] {
        let actor = try await authenticate(authorization)
        if action == "review" {
            let activation = id.hasPrefix("act_") ? id : try await visible(id, actor: actor).activationID
            guard let activation else { throw .conflict("request \(id) opened no activation, so there is nothing to review") }
            return json(ActivationJSON.activation(try await service.review(activation, by: actor, comment: form["comment"])))
        }
        _ = try await visible(id, actor: actor)
        let record: ActivationRequestRecord = switch action {
        case "approve": try await service.approve(id, by: actor, comment: form["comment"])
        case "deny": try await service.deny(id, by: actor, comment: form["comment"])
        case "cancel": try await service.cancel(id, by: actor, comment: form["comment"])
        default: throw .notFound("no such action: \(displayed(action)); use approve, deny, cancel or review")
        }
        return json(requestJSON(record))
    }

    // MARK: Activations

    /// `GET /activations[?state=active][&awaiting_review=true][&mine=true]`.
    public func activations(authorization: String?, query: [String: String]) async throws(ActivationError) -> [UInt8] {
        let actor = try await authenticate(authorization)
        var filter = ActivationQuery(limit: try limit(query["limit"]) + 1)
        if let state = query["state"] {
            guard let parsed = ActivationState(rawValue: state) else {
                throw .invalid("state must be one of \(ActivationState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.states = [parsed]
        }
        filter.awaitingReview = try flag(query, "awaiting_review")
        filter.after = try cursor(query["after"])
        if try flag(query, "mine") {
            filter.holder = actor.subject
        } else if let identity = actor.identity {
            // A person sees their own, and those of the roles they approve.
            let roles = service.rolesApprovable(by: identity)
            if roles.isEmpty { filter.holder = actor.subject }
            let records = try await service.read { [filter] in try await service.store.activations(matching: filter) }
                .filter { $0.holder.isExactly(actor.subject) || roles.containsExactly($0.role) }
            return json(page(records, limit: filter.limit - 1, render: ActivationJSON.activation, cursor: { ($0.createdAt, $0.id) }))
        }
        let records = try await service.read { [filter] in try await service.store.activations(matching: filter) }
        return json(page(records, limit: filter.limit - 1, render: ActivationJSON.activation, cursor: { ($0.createdAt, $0.id) }))
    }

    /// `GET /activations/{id}`.
    public func activation(_ id: String, authorization: String?) async throws(ActivationError) -> [UInt8] {
        let actor = try await authenticate(authorization)
        let record = try await service.activation(id)
        guard service.maySee(record, actor: actor) else { throw .forbidden("activation \(id) is not yours, and you do not approve its role") }
        return json(ActivationJSON.activation(record))
    }

    /// `POST /activations/{id}/end|extend|review`.
    public func act(_ id: String, action: String, authorization: String?, form: [String: String]) async throws(ActivationError) -> [UInt8] {
        let actor = try await authenticate(authorization)
        switch action {
        case "end":
            return json(ActivationJSON.activation(try await service.end(id, by: actor, reason: form["reason"] ?? form["comment"])))
        case "review":
            return json(ActivationJSON.activation(try await service.review(id, by: actor, comment: form["comment"])))
        case "extend":
            guard let text = form["by"] ?? form["lifetime"], let seconds = DurationText.seconds(text) else {
                throw .invalid("extend needs by=<duration>, such as by=30m")
            }
            let (activation, request) = try await service.extend(id, by: actor, seconds: seconds, justification: form["justification"])
            guard let request else { return json(ActivationJSON.activation(activation)) }
            return json(.object(["activation": ActivationJSON.activation(activation), "request": requestJSON(request)]))
        default:
            throw .notFound("no such action: \(displayed(action)); use end, extend or review")
        }
    }

    // MARK: Helpers

    func visible(_ id: String, actor: ActivationActor) async throws(ActivationError) -> ActivationRequestRecord {
        let record = try await service.request(id)
        guard service.maySee(record, actor: actor) else {
            throw .forbidden("request \(id) is not yours, and you are not an approver of role \(record.role)")
        }
        return record
    }

    func requestJSON(_ record: ActivationRequestRecord) -> JSONValue {
        ActivationJSON.request(record, plan: policy.value.engine.role(named: record.role)?.conditions.approval, uri: service.requestURI(record.id))
    }

    func limit(_ text: String?) throws(ActivationError) -> Int {
        guard let text else { return 50 }
        guard let value = Int(text), (1...Self.maximumPageSize).contains(value) else {
            throw .invalid("limit must be a whole number from 1 to \(Self.maximumPageSize)")
        }
        return value
    }

    /// A yes/no query parameter: absent is false; anything but `true` or `false` is refused, so
    /// a misspelt `mine=yes` does not quietly list everything.
    func flag(_ query: [String: String], _ name: String) throws(ActivationError) -> Bool {
        switch query[name] {
        case nil, "false": false
        case "true": true
        default: throw .invalid("\(name) must be true or false")
        }
    }

    /// Cursors are `<created milliseconds>.<id>`, as `next` gives them.
    func cursor(_ text: String?) throws(ActivationError) -> ActivationCursor? {
        guard let text else { return nil }
        let parts = text.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let milliseconds = Int64(parts[0]) else { throw .invalid("after must be a cursor from a previous page's next") }
        return ActivationCursor(createdAt: Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000), id: String(parts[1]))
    }

    func page<T>(_ records: [T], limit: Int, render: (T) -> JSONValue, cursor: (T) -> (Date, String)) -> JSONValue {
        var object: [String: JSONValue] = ["items": .array(records.prefix(limit).map(render))]
        if records.count > limit, let last = records.prefix(limit).last {
            let (created, id) = cursor(last)
            object["next"] = .string("\(created.millisecondsSince1970).\(id)")
        }
        return .object(object)
    }

    func json(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter(capacity: 1024)
        writer.value(value)
        return writer.bytes
    }
}
