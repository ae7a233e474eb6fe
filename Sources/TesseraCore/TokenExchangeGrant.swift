import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore
import TesseraText

/// Turns a subject token from an upstream identity provider into a verified `Identity`; the
/// upstream registry does it for configured IdPs (and the dev upstream under `--dev`).
public protocol SubjectTokenVerifier: Sendable {
    func verify(subjectToken: String, now: Date) async throws(UpstreamVerificationError) -> Identity
}

extension AccessDecision {
    /// `allow`, `approval_required` or `deny`, as the admin API and the audit log name it.
    public var outcomeName: String {
        switch outcome {
        case .allow: "allow"
        case .approvalRequired: "approval_required"
        case .deny: "deny"
        }
    }

    /// The what-if answer of `POST /admin/explain` and `tessera policy explain --json`.
    public func explanation(role: String) -> JSONValue {
        var object: [String: JSONValue] = ["role": .string(role), "outcome": .string(outcomeName), "rules": rulesJSON, "trace": .string(trace)]
        object["lifetime_seconds"] = lifetimeSeconds.map { .number(Double($0)) }
        return .object(object)
    }

    /// Every rule with its status and reason, as the audit log and the admin API record them.
    public var rulesJSON: JSONValue {
        .array(rules.map { .object(["rule": .string($0.rule), "status": .string($0.status.rawValue), "reason": .string($0.reason)]) })
    }
}

/// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): an identity token
/// from an upstream IdP in, a short-lived access token for one role out, when the role's
/// conditional-access rules all hold.
///
/// Parameters: `subject_token` and `subject_token_type` (`id_token`, `jwt` or `access_token`
/// URNs), optional `requested_token_type` (only `access_token`), `scope` naming exactly one role,
/// optional `audience`/`resource` narrowing the role's audiences, and Tessera's extension
/// parameters `requested_lifetime` (a duration: `900`, `15m`), `justification`, `ticket`,
/// `request_id` (an approved request's id, to collect its token) and `break_glass=true`.
///
/// Every token belongs to an activation (`act_id`): the holder's open one for the role, the
/// one an approved request opened, or a new one when the rules allow the exchange outright.
public struct TokenExchangeGrant: Grant {
    public static let grantTypeURN = "urn:ietf:params:oauth:grant-type:token-exchange"
    public static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
    public static let subjectTokenTypes: Set<String> = [
        "urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt", accessTokenType,
    ]
    public let grantType = Self.grantTypeURN

    /// Replaced when the policy bundle is reloaded; each request reads one version.
    let policy: CurrentValue<AccessPolicy>
    let timeSource: any TimeSource
    let activations: ActivationService
    /// Who is on call, for on-call conditions (nil: no schedules, the conditions fail).
    let onCall: OnCallService?
    /// Eligibility assignments made at run time (nil: none).
    let assignments: CurrentValue<EligibilityAssignments?>?

    public init(policy: CurrentValue<AccessPolicy>, timeSource: any TimeSource, activations: ActivationService, onCall: OnCallService? = nil,
                assignments: CurrentValue<EligibilityAssignments?>? = nil) {
        self.assignments = assignments
        self.policy = policy
        self.timeSource = timeSource
        self.activations = activations
        self.onCall = onCall
    }

    /// The `sub` of an exchanged token: the upstream id, a colon, the upstream's subject. Client
    /// ids cannot contain a colon, so no person or workload can ever collide with a client, nor
    /// `alice` of one IdP with `alice` of another.
    public static func namespacedSubject(_ identity: Identity) -> String {
        "\(identity.upstream):\(identity.subject)"
    }

    public func decide(_ request: GrantRequest) async throws(OAuthError) -> TokenGrantDecision {
        let policy = policy.value
        let (upstreams, engine, trustedProxies) = (policy.upstreams, policy.engine, policy.trustedProxies)
        let form = request.form
        let now = timeSource.now()
        let roleName = try Self.requestedRole(form["scope"])
        if let requested = form["requested_token_type"], !requested.isExactly(Self.accessTokenType) {
            throw OAuthError(.invalidRequest, "requested_token_type must be \(Self.accessTokenType): Tessera issues access tokens")
        }
        guard let subjectToken = form["subject_token"], !subjectToken.isEmpty else { throw .invalidRequest("subject_token is required") }
        guard let tokenType = form["subject_token_type"] else { throw .invalidRequest("subject_token_type is required") }
        guard Self.subjectTokenTypes.containsExactly(tokenType) else {
            throw .invalidRequest("subject_token_type must be one of \(Self.subjectTokenTypes.sorted().joined(separator: ", "))")
        }
        let lifetime = try form["requested_lifetime"].map { text throws(OAuthError) -> Int in
            guard let seconds = DurationText.seconds(text), seconds > 0 else {
                throw .invalidRequest("requested_lifetime must be a duration such as 900 or 15m")
            }
            return seconds
        }

        var accessRequest: AccessRequest
        do {
            // The rules, the token and the audit log all see the cleaned text, never the raw one.
            accessRequest = AccessRequest(role: roleName, lifetimeSeconds: lifetime,
                                          justification: try RequestText.justification(form["justification"]),
                                          ticket: try RequestText.ticket(form["ticket"]), breakGlass: try Self.breakGlass(form["break_glass"]))
        } catch {
            throw .invalidRequest(error.message)
        }

        let identity: Identity
        do {
            identity = try await upstreams.verify(subjectToken: subjectToken, now: now)
        } catch {
            // The reason, never the token.
            throw OAuthError(.invalidGrant, "subject_token rejected: \(error.message)", auditEvent: AuditEvent.upstreamTokenRejected,
                             auditDetails: ["reason": .string(error.message), "code": .string(error.code.rawValue),
                                            "role": .string(roleName)])
        }
        var asked: ActivationRequestRecord?
        if let id = form["request_id"] {
            let record = try await askedRequest(id, identity: identity, role: roleName)
            asked = record
            // The token carries what was approved: the request's justification and ticket,
            // unless the exchange gives its own (which the rules then judge).
            accessRequest.justification = accessRequest.justification ?? record.justification
            accessRequest.ticket = accessRequest.ticket ?? record.ticket
        }
        let peer = request.origin.remoteAddress.flatMap(IPAddress.init)
        let clientAddress = peer.flatMap {
            trustedProxies.clientAddress(peer: $0, xForwardedFor: request.forwarded.xForwardedFor, forwarded: request.forwarded.forwarded)
        }
        let decision = engine.decide(identity: identity, request: accessRequest,
                                     context: DecisionContext(clientID: request.client.id, clientAddress: clientAddress, now: now,
                                                              onCall: onCall?.state, assignments: assignments?.value))
        var details: [String: JSONValue] = [
            "role": .string(roleName),
            "upstream": .string(identity.upstream),
            "subject": .string(Self.namespacedSubject(identity)),
            "decision": .string(decision.outcomeText),
            "rules": decision.rulesJSON,
        ]
        details["client_address"] = clientAddress.map { .string($0.description) }
        details["justification"] = accessRequest.justification.map(JSONValue.string)
        details["ticket"] = accessRequest.ticket.map(JSONValue.string)

        if case .deny = decision.outcome {
            throw OAuthError(.accessDenied, "role \(roleName) denied: \(decision.failureSummary)", status: 403, auditDetails: details)
        }
        guard let role = decision.role, let decided = decision.lifetimeSeconds else {
            throw OAuthError(.serverError, "the decision allowed an unknown role")
        }
        let audiences = try RequestedAudience.resolve(resources: form.all("resource"), audiences: form.all("audience"), allowed: role.audiences)
        let activation = try await activationFor(identity: identity, request: accessRequest, decision: decision, lifetime: decided,
                                                 asked: asked, client: request.client.id,
                                                 clientAddress: clientAddress?.description, now: now, details: details)
        var seconds = decided
        if case .use(let existing) = activation {
            guard let remaining = ActivationService.remainingSeconds(of: existing, now: now) else {
                throw OAuthError(.accessDenied, "activation \(existing.id) has ended; ask for role \(roleName) again", status: 403, auditDetails: details)
            }
            seconds = min(seconds, remaining)
        }
        details["activation_id"] = .string(activation.id)
        details["break_glass"] = accessRequest.breakGlass ? .bool(true) : nil
        details["auto_approved"] = decision.autoApproval.map(JSONValue.string)
        var claims = Self.claims(identity: identity, role: roleName, request: accessRequest, activation: activation.id)
        if accessRequest.breakGlass { claims["break_glass"] = .bool(true) }
        var grant = TokenGrantDecision(
            subject: Self.namespacedSubject(identity), clientID: request.client.id, audiences: audiences, scopes: role.scopes,
            lifetimeSeconds: seconds, extensions: claims, role: roleName, auditDetails: details, issuedTokenType: Self.accessTokenType,
            // The role's algorithm, else the client's (a resource server's limits follow the audience).
            signingAlgorithm: (role.signingAlgorithm ?? request.client.definition.signingAlgorithm).flatMap(SignatureAlgorithm.init(jwsName:)))
        grant.activation = activation
        return grant
    }

    /// The activation this exchange issues under: the approved request's (`request_id`), the
    /// holder's open one for the role, or a new one when the rules allow the exchange. When the
    /// role needs approval and none exists, the requester's pending request (created if need
    /// be) is answered as `approval_required` with its id.
    func activationFor(identity: Identity, request: AccessRequest, decision: AccessDecision, lifetime: Int, asked: ActivationRequestRecord?,
                       client: String, clientAddress: String?, now: Date, details: [String: JSONValue]) async throws(OAuthError) -> TokenActivation {
        let subject = Self.namespacedSubject(identity)
        do {
            if let record = asked {
                switch record.state {
                case .pending:
                    throw approvalRequired(record, details: details)
                case .approved:
                    guard let id = record.activationID else { throw OAuthError(.serverError, "approved request \(record.id) has no activation") }
                    return .use(try await activations.activation(id))
                case .denied, .cancelled, .expired:
                    let by = record.closedBy.map { " by \($0)" } ?? ""
                    let comment = record.closingComment.map { ": \($0)" } ?? ""
                    throw OAuthError(.accessDenied, "request \(record.id) was \(record.state.rawValue)\(by)\(comment)", status: 403,
                                     auditDetails: details)
                }
            }
            if !request.breakGlass, let open = try await activations.openActivation(holder: subject, role: request.role, now: now) {
                return .use(open)
            }
            if case .approvalRequired(let plan) = decision.outcome {
                let origin = RequestOrigin(identity: identity, request: request, lifetimeSeconds: lifetime, clientID: client,
                                           clientAddress: clientAddress, rules: decision.rulesJSON)
                throw approvalRequired(try await activations.requestApproval(origin, plan: plan), details: details)
            }
        } catch let error as OAuthError {
            throw error
        } catch let error as ActivationError {
            throw OAuthError(error.status >= 500 ? .serverError : .invalidRequest, error.message, status: error.status == 503 ? 500 : error.status,
                             auditDetails: details)
        } catch {
            throw OAuthError(.serverError, "the activation could not be read", auditDetails: details)
        }
        return activations.opening(identity: identity, request: request, clientID: client, lifetimeSeconds: lifetime,
                                   autoApproval: decision.autoApproval, now: now)
    }

    /// The request `request_id` names: it must be this person's, for this role.
    func askedRequest(_ id: String, identity: Identity, role: String) async throws(OAuthError) -> ActivationRequestRecord {
        let subject = Self.namespacedSubject(identity)
        let record: ActivationRequestRecord
        do {
            record = try await activations.request(id)
        } catch {
            throw OAuthError(error.status >= 500 ? .serverError : .invalidGrant, error.message, status: error.status >= 500 ? 500 : 400)
        }
        guard record.requester.isExactly(subject), record.role.isExactly(role) else {
            throw OAuthError(.invalidGrant, "request \(displayed(id)) is not \(subject)'s request for role \(role)")
        }
        return record
    }

    /// `403 approval_required` naming the request, its state and what it still waits for.
    func approvalRequired(_ record: ActivationRequestRecord, details: [String: JSONValue]) -> OAuthError {
        let plan = policy.value.engine.role(named: record.role)?.conditions.approval
        var error = OAuthError(.approvalRequired, "role \(record.role) needs approval (\(plan?.description ?? "its plan")) before it activates; "
                               + "request \(record.id) is \(record.state.rawValue)", status: 403, auditDetails: details)
        error.auditDetails["request_id"] = .string(record.id)
        error.fields = ActivationJSON.approvalRequired(record, plan: plan, uri: activations.requestURI(record.id))
        return error
    }

    /// `break_glass`: `true` or `false` (absent is false).
    static func breakGlass(_ value: String?) throws(RequestText.Refusal) -> Bool {
        switch value {
        case nil, "false": false
        case "true": true
        default: throw RequestText.Refusal(message: "break_glass must be true or false")
        }
    }

    /// `scope` names exactly one role: a token is for one role, so its rules are one set.
    static func requestedRole(_ scope: String?) throws(OAuthError) -> String {
        let names = (scope ?? "").split(separator: " ").map(String.init)
        guard names.count == 1, let role = names.first else {
            throw OAuthError(.invalidScope, "scope must name exactly one role (for example scope=db-admin)")
        }
        // Checked before anything records it: the role name goes into audit entries.
        guard RoleDefinition.isValidName(role) else {
            throw OAuthError(.invalidScope, "no role is named \"\(displayed(role))\": role names use lowercase letters, digits, '-', '_' and '.'")
        }
        return role
    }

    /// The claims an exchanged token carries besides RFC 9068's: the role, how the person
    /// authenticated upstream, why the access was asked for, and the activation it belongs to.
    static func claims(identity: Identity, role: String, request: AccessRequest, activation: String) -> [String: JSONValue] {
        var claims: [String: JSONValue] = [
            "roles": .array([.string(role)]),
            "idp": .string(identity.upstream),
            "act_id": .string(activation),
        ]
        if !identity.authenticationMethods.isEmpty { claims["amr"] = .array(identity.authenticationMethods.map(JSONValue.string)) }
        claims["acr"] = identity.authenticationContext.map(JSONValue.string)
        claims["auth_time"] = identity.authenticatedAt.map { .number($0.timeIntervalSince1970.rounded(.down)) }
        claims["email"] = identity.email.map(JSONValue.string)
        claims["justification"] = request.justification.map(JSONValue.string)
        claims["ticket"] = request.ticket.map(JSONValue.string)
        return claims
    }
}

extension UpstreamRegistry: SubjectTokenVerifier {}

/// What token exchange decides with, from one version of the policy bundle.
public struct AccessPolicy: Sendable {
    public let upstreams: UpstreamRegistry
    public let engine: PolicyEngine
    public let trustedProxies: TrustedProxies
    /// Key rotation timing and algorithms, from `keys.yaml` and the longest token lifetimes.
    public let keyTimings: KeyTimings

    public init(upstreams: UpstreamRegistry, engine: PolicyEngine, trustedProxies: TrustedProxies,
                keyTimings: KeyTimings = KeyTimings(prepublish: 3600, retention: 3600 + KeyTimings.clockLeeway)) {
        self.upstreams = upstreams
        self.engine = engine
        self.trustedProxies = trustedProxies
        self.keyTimings = keyTimings
    }
}
