import Foundation
import TesseraJWT
import TesseraStore
import TesseraText

/// Who may call the admin API, and how they prove it.
///
/// Admin access is itself just-in-time: the admin API accepts only a short-lived access token
/// this issuer signed for its own admin audience (`<issuer>/admin`) with the scope
/// `tessera:admin`, recorded in the issued-token store when it was issued (so it is audited,
/// can be introspected and revoked) and not revoked since. No client may be configured for
/// that audience (`Issuer.load` refuses it), so `client_credentials` can never yield one.
///
/// The bootstrap is `tessera admin token`, run on a machine holding the keys folder: whoever
/// can read the signing keys can mint any token already, so the command grants no new power,
/// and every token it mints is audited as `admin.token_issued`.
public struct AdminAccess: Sendable {
    public static let scope = "tessera:admin"
    /// The `client_id` of the tokens `tessera admin token` mints.
    public static let bootstrapClientID = "tessera-cli"
    public static let defaultLifetimeSeconds = 900
    public static let maximumLifetimeSeconds = 3600

    let urls: IssuerURLs
    let keys: CurrentValue<SigningKeys>
    let store: any IssuedTokenStore
    let timeSource: any TimeSource
    /// How long the token's record may take to read before the request is answered 503.
    let storeTimeout: Duration

    public init(urls: IssuerURLs, keys: CurrentValue<SigningKeys>, store: any IssuedTokenStore, timeSource: any TimeSource,
                storeTimeout: Duration = IssuerConfiguration.defaultStoreTimeout) {
        self.urls = urls
        self.keys = keys
        self.store = store
        self.timeSource = timeSource
        self.storeTimeout = storeTimeout
    }

    /// The admin a request's `Authorization` header proves, or why it proves none.
    public func authorize(authorization header: String?) async throws(AdminAccessError) -> AdminPrincipal {
        guard let header, !header.isEmpty else { throw .missingToken }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw .invalidRequest("the admin API takes Authorization: Bearer <admin token>")
        }
        let verifier = JWTVerifier(policy: VerificationPolicy(
            issuer: urls.issuer, audiences: [urls.adminAudience], expectedType: JWSSigner.accessTokenType, requireIssuedAt: true,
            maximumLifetime: TimeInterval(Self.maximumLifetimeSeconds)))
        let claims: JWTClaims
        do {
            claims = try verifier.verify(String(parts[1]), keys: keys.value.verificationKeys, now: timeSource.now()).claims
        } catch {
            throw .invalidToken(error.message)
        }
        guard let subject = claims.subject, let jwtID = claims.jwtID else { throw .invalidToken("the token lacks sub or jti") }
        guard (claims.string("scope") ?? "").split(separator: " ").map(String.init).containsExactly(Self.scope) else {
            throw .insufficientScope
        }
        let record: IssuedTokenRecord?
        do {
            record = try await StoreDeadline.run(storeTimeout, "reading the admin token's record") { [store] in
                try await store.issuedToken(jwtID: jwtID)
            }
        } catch {
            throw .unavailable
        }
        // Signed by our key but never recorded means it was not issued through an audited path.
        guard let record else { throw .invalidToken("the token was not issued by this Tessera") }
        guard record.revokedAt == nil else { throw .invalidToken("the token was revoked") }
        return AdminPrincipal(subject: subject, clientID: record.clientID, jwtID: jwtID)
    }

    /// Mints an admin token for `subject` and records it (`admin.token_issued`) before
    /// returning it: the bootstrap path of `tessera admin token`.
    public static func issueToken(subject: String, lifetimeSeconds: Int, reason: String?, urls: IssuerURLs, keys: SigningKeys,
                                  audit: AuditLog, timeSource: any TimeSource) async throws -> MintedToken {
        guard (1...maximumLifetimeSeconds).contains(lifetimeSeconds) else {
            throw AdminAccessError.invalidRequest("an admin token lives at most \(maximumLifetimeSeconds / 60) minutes")
        }
        let decision = TokenGrantDecision(subject: subject, clientID: bootstrapClientID, audiences: [urls.adminAudience],
                                          scopes: [scope], lifetimeSeconds: lifetimeSeconds)
        let minted = try TokenMinter(issuer: urls.issuer, keys: keys, timeSource: timeSource).mint(decision)
        var target: [String: JSONValue] = [
            "jti": .string(minted.jwtID), "kid": .string(minted.keyID), "lifetime_seconds": .number(Double(lifetimeSeconds)),
        ]
        if let reason { target["reason"] = .string(reason) }
        let actor = AuditActor(subject: subject, clientID: bootstrapClientID, userAgent: "tessera admin token")
        try await audit.record(AuditEvent("admin.token_issued", outcome: .success, actor: actor, target: target),
                               issuedToken: IssuedTokenRecord(minted, decision: decision))
        return minted
    }
}

extension AdminAccess {
    /// Revokes an admin token (`tessera admin revoke`), recording `admin.token_revoked`. Only
    /// admin tokens: other tokens are revoked by their client through `/revoke`.
    public static func revokeToken(jwtID: String, store: any IssuedTokenStore, audit: AuditLog,
                                   timeSource: any TimeSource) async throws -> RevocationOutcome {
        let outcome = try await store.revokeToken(jwtID: jwtID, clientID: bootstrapClientID, at: timeSource.now())
        if outcome == .revoked {
            try await audit.record(AuditEvent("admin.token_revoked", outcome: .success,
                                              actor: AuditActor(clientID: bootstrapClientID, userAgent: "tessera admin revoke"),
                                              target: ["jti": .string(jwtID)]))
        }
        return outcome
    }
}

/// The holder of a valid admin token.
public struct AdminPrincipal: Sendable, Hashable {
    public let subject: String
    public let clientID: String
    public let jwtID: String

    public init(subject: String, clientID: String, jwtID: String) {
        self.subject = subject
        self.clientID = clientID
        self.jwtID = jwtID
    }

    /// The audit actor of a call this admin made from `origin` (address, user agent).
    func acting(from origin: AuditActor) -> AuditActor {
        var actor = origin
        actor.subject = subject
        actor.clientID = clientID
        return actor
    }
}

/// Why a request gets no admin access, as RFC 6750 §3 describes it.
public enum AdminAccessError: Error, Sendable, Hashable, CustomStringConvertible {
    case missingToken
    case invalidRequest(String)
    case invalidToken(String)
    case insufficientScope
    /// The token store could not be read: neither yes nor no.
    case unavailable
    /// What the request names does not exist.
    case notFound(String)
    /// What the request names changed under it, or can no longer change.
    case conflict(String)

    public var httpStatus: Int {
        switch self {
        case .missingToken, .invalidToken: 401
        case .invalidRequest: 400
        case .insufficientScope: 403
        case .unavailable: 503
        case .notFound: 404
        case .conflict: 409
        }
    }

    /// The RFC 6750 error code; none when no token was presented (§3.1).
    public var code: String? {
        switch self {
        case .missingToken: nil
        case .invalidRequest: "invalid_request"
        case .invalidToken: "invalid_token"
        case .insufficientScope: "insufficient_scope"
        case .unavailable: "temporarily_unavailable"
        case .notFound: "not_found"
        case .conflict: "conflict"
        }
    }

    public var description: String {
        switch self {
        case .missingToken: "the admin API needs an admin token: Authorization: Bearer <token from `tessera admin token`>"
        case .invalidRequest(let reason), .notFound(let reason), .conflict(let reason): reason
        case .invalidToken(let reason): "invalid admin token: \(reason)"
        case .insufficientScope: "the token lacks the scope \(AdminAccess.scope)"
        case .unavailable: "the token store is unavailable; try again"
        }
    }

    /// The `WWW-Authenticate` challenge of a 401 or 403.
    public var challenge: String? {
        switch self {
        case .missingToken: #"Bearer realm="tessera-admin""#
        case .invalidToken: #"Bearer realm="tessera-admin", error="invalid_token""#
        case .insufficientScope: #"Bearer realm="tessera-admin", error="insufficient_scope", scope="\#(AdminAccess.scope)""#
        case .invalidRequest, .unavailable, .notFound, .conflict: nil
        }
    }
}
