import Foundation
import Logging
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// Introspection (RFC 7662) and revocation (RFC 7009) of the tokens this issuer signed.
/// A token is active when its signature verifies with a published key, it has not expired,
/// it was recorded when issued, and it has not been revoked.
public struct TokenInspection: Sendable {
    /// An expired token needs no revocation, but one that expired within the usual clock skew
    /// may still be accepted by a resource server, so it is revoked too.
    static let revocationLeeway: TimeInterval = 60

    let authenticator: ClientAuthenticator
    let issuer: String
    let keys: CurrentValue<SigningKeys>
    /// Every audience Tessera issues for; replaced when the policy bundle is reloaded.
    let audiences: CurrentValue<Set<String>>
    let store: any IssuedTokenStore
    let audit: AuditLog
    let timeSource: any TimeSource
    /// Failed client authentication is recorded here, bounded per source, as on `/token`.
    let failures: FailureAuditThrottle

    public init(authenticator: ClientAuthenticator, issuer: String, keys: CurrentValue<SigningKeys>, audiences: CurrentValue<Set<String>>,
                store: any IssuedTokenStore, audit: AuditLog, timeSource: any TimeSource, failures: FailureAuditThrottle) {
        self.authenticator = authenticator
        self.issuer = issuer
        self.keys = keys
        self.audiences = audiences
        self.store = store
        self.audit = audit
        self.timeSource = timeSource
        self.failures = failures
    }

    /// The introspection answer as JSON: the token's claims with `active: true`, or only
    /// `{"active":false}` for a token that is expired, revoked, unknown or not Tessera's.
    public func introspect(form: FormParameters, basic: (id: String, secret: String)?, origin: AuditActor,
                           logger: Logger) async throws(OAuthError) -> [UInt8] {
        let client = try await authenticator.authenticate(ClientCredentialPresentation(basic: basic, form: form), origin: origin,
                                                          endpoint: "/introspect", failures: failures, logger: logger)
        // A public client proves nothing about itself; the bundle refuses the combination, and
        // this holds even for a definition built elsewhere.
        guard client.definition.canIntrospect, client.definition.authMethod != .none else {
            throw OAuthError(.unauthorizedClient, "client \(client.id) may not introspect tokens (set can_introspect: true in clients.yaml)",
                             status: 403)
        }
        guard let token = form["token"] else { throw .invalidRequest("token is required") }
        guard let verified = try? verify(token, leeway: 0), let jwtID = verified.claims.jwtID,
              let record = try await lookUp(jwtID), record.revokedAt == nil
        else {
            return Array(#"{"active":false}"#.utf8)
        }
        var members = verified.claims.members
        members["active"] = true
        members["token_type"] = "Bearer"
        members["client_id"] = .string(record.clientID)
        var writer = JSONWriter(capacity: 512)
        writer.value(.object(members))
        return writer.bytes
    }

    /// Revokes a token the requesting client was issued. Idempotent; tokens that are not
    /// Tessera's, or already expired, need no revocation and succeed too (RFC 7009 §2.2).
    public func revoke(form: FormParameters, basic: (id: String, secret: String)?, origin: AuditActor,
                       logger: Logger) async throws(OAuthError) {
        let client = try await authenticator.authenticate(ClientCredentialPresentation(basic: basic, form: form), origin: origin,
                                                          endpoint: "/revoke", failures: failures, logger: logger)
        guard let token = form["token"] else { throw .invalidRequest("token is required") }
        guard let verified = try? verify(token, leeway: Self.revocationLeeway), let jwtID = verified.claims.jwtID else { return }
        let now = timeSource.now()
        let outcome = try await StoreDeadline.request(audit.storeTimeout, "recording the revocation") { [store] in
            try await store.revokeToken(jwtID: jwtID, clientID: client.id, at: now)
        }
        switch outcome {
        case .notOwner:
            throw OAuthError(.unauthorizedClient, "this token was issued to another client, which alone may revoke it")
        case .revoked:
            var actor = origin
            actor.clientID = client.id
            actor.subject = verified.claims.subject
            do {
                try await audit.record(AuditEvent("token.revoked", outcome: .success, actor: actor, target: ["jti": .string(jwtID)]))
            } catch {
                logger.error("audit log unavailable", metadata: ["tessera.error": .string("\(error)"), "tessera.event": "token.revoked"])
            }
        case .alreadyRevoked, .unknown:
            break
        }
    }

    private func verify(_ token: String, leeway: TimeInterval) throws -> VerifiedJWT {
        let verifier = JWTVerifier(policy: VerificationPolicy(issuer: issuer, audiences: audiences.value, leeway: leeway,
                                                              expectedType: nil))
        return try verifier.verify(token, keys: keys.value.verificationKeys, now: timeSource.now())
    }

    private func lookUp(_ jwtID: String) async throws(OAuthError) -> IssuedTokenRecord? {
        // Unknown is not the same as inactive: a store failure must not be answered as either.
        try await StoreDeadline.request(audit.storeTimeout, "looking the token up") { [store] in try await store.issuedToken(jwtID: jwtID) }
    }
}
