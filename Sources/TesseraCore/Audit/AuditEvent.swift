import Foundation
import TesseraJWT

/// Who caused an audit event, as far as Tessera knows.
public struct AuditActor: Sendable, Hashable {
    public var subject: String?
    public var clientID: String?
    public var remoteAddress: String?
    public var userAgent: String?

    /// `userAgent` is whatever the request sent: it is kept cleaned and at most
    /// `AuditText.maximumUserAgentBytes` long, since it reaches the log before any authentication.
    public init(subject: String? = nil, clientID: String? = nil, remoteAddress: String? = nil, userAgent: String? = nil) {
        self.subject = subject
        self.clientID = clientID
        self.remoteAddress = remoteAddress
        self.userAgent = userAgent.map { AuditText.bounded($0, maximumBytes: AuditText.maximumUserAgentBytes) }
    }
}

/// One thing that happened, before it is sealed into the chain. Never contains a token, a
/// secret or an assertion: only their identifiers (`jti`, `kid`, client id).
public struct AuditEvent: Sendable, Hashable {
    public enum Outcome: String, Sendable {
        case success
        case failure
    }

    public var event: String
    public var outcome: Outcome
    public var actor: AuditActor
    public var target: [String: JSONValue]
    public var reasons: [String]

    public init(_ event: String, outcome: Outcome, actor: AuditActor = AuditActor(), target: [String: JSONValue] = [:],
                reasons: [String] = []) {
        self.event = event
        self.outcome = outcome
        self.actor = actor
        self.target = target
        self.reasons = reasons
    }
}

extension AuditEvent {
    /// A subject token that failed upstream verification.
    public static let upstreamTokenRejected = "upstream.token_rejected"

    public static func tokenIssued(_ minted: MintedToken, decision: TokenGrantDecision, grantType: String,
                                   actor: AuditActor) -> AuditEvent {
        // Set in place, in one table sized once: merging a literal built a second table and
        // rehashed both, about 2% of a client_credentials token.
        var target: [String: JSONValue] = decision.auditDetails
        target.reserveCapacity(target.count + 9)
        target["role"] = decision.role.map(JSONValue.string)
        target["jti"] = .string(minted.jwtID)
        target["kid"] = .string(minted.keyID)
        target["subject"] = .string(decision.subject)
        target["client_id"] = .string(decision.clientID)
        target["audiences"] = .array(decision.audiences.map(JSONValue.string))
        target["scopes"] = .array(decision.scopes.map(JSONValue.string))
        target["lifetime_seconds"] = .number(Double(minted.lifetimeSeconds))
        target["grant_type"] = .string(grantType)
        return AuditEvent("token.issued", outcome: .success, actor: actor, target: target)
    }

    public static func tokenDenied(_ error: OAuthError, grantType: String?, actor: AuditActor) -> AuditEvent {
        var target = error.auditDetails
        target["grant_type"] = grantType.map(JSONValue.string)
        return AuditEvent(error.auditEvent ?? "token.denied", outcome: .failure, actor: actor, target: target,
                   reasons: ["\(error.code): \(error.errorDescription)"])
    }

    public static func clientAuthenticationFailed(_ error: OAuthError, actor: AuditActor) -> AuditEvent {
        AuditEvent("client.authentication_failed", outcome: .failure, actor: actor, target: error.auditDetails,
                   reasons: ["\(error.code): \(error.errorDescription)"])
    }
}
