import Foundation
import Logging
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore
import TesseraText

/// How a request presented client credentials, as found by the HTTP layer.
public struct ClientCredentialPresentation: Sendable {
    /// `Authorization: Basic` user and password, already decoded (RFC 6749 §2.3.1).
    public var basic: (id: String, secret: String)?
    /// `client_id` from the body.
    public var formClientID: String?
    /// `client_secret` from the body.
    public var formClientSecret: String?
    public var assertionType: String?
    public var assertion: String?

    public init(basic: (id: String, secret: String)? = nil, form: FormParameters) {
        self.basic = basic
        self.formClientID = form["client_id"]
        self.formClientSecret = form["client_secret"]
        self.assertionType = form["client_assertion_type"]
        self.assertion = form["client_assertion"]
    }
}

/// Authenticates clients with the method each one registered: `client_secret_basic`,
/// `client_secret_post` or `private_key_jwt` (RFC 7523 §2.2).
public struct ClientAuthenticator: Sendable {
    public static let jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// Assertions are one-shot: they may not be valid for longer than this.
    public static let maximumAssertionLifetime: TimeInterval = 300
    public static let assertionLeeway: TimeInterval = 30

    /// Replaced when the policy bundle is reloaded.
    let clients: CurrentValue<ClientRegistry>
    var registry: ClientRegistry { clients.value }
    let issuer: String
    let tokenEndpoint: String
    let replayStore: any AssertionReplayStore
    let timeSource: any TimeSource
    /// How long recording an assertion's jti may wait for the store before the request is answered 503.
    let storeTimeout: Duration

    public init(registry: ClientRegistry, issuer: String, tokenEndpoint: String, replayStore: any AssertionReplayStore,
                timeSource: any TimeSource, storeTimeout: Duration = IssuerConfiguration.defaultStoreTimeout) {
        self.init(clients: CurrentValue(registry), issuer: issuer, tokenEndpoint: tokenEndpoint, replayStore: replayStore,
                  timeSource: timeSource, storeTimeout: storeTimeout)
    }

    /// Reads the clients from `clients` at every request, so a reload takes effect at once.
    public init(clients: CurrentValue<ClientRegistry>, issuer: String, tokenEndpoint: String, replayStore: any AssertionReplayStore,
                timeSource: any TimeSource, storeTimeout: Duration = IssuerConfiguration.defaultStoreTimeout) {
        self.clients = clients
        self.issuer = issuer
        self.tokenEndpoint = tokenEndpoint
        self.replayStore = replayStore
        self.timeSource = timeSource
        self.storeTimeout = storeTimeout
    }

    /// The authenticated client, or `invalid_client` (401) saying what went wrong. Unknown
    /// clients and wrong secrets get the same answer, so ids cannot be told apart by probing.
    public func authenticate(_ presentation: ClientCredentialPresentation) async throws(OAuthError) -> RegisteredClient {
        // An assertion type alone still names private_key_jwt, so it counts as a method.
        let methods = [presentation.basic != nil, presentation.formClientSecret != nil,
                       presentation.assertion != nil || presentation.assertionType != nil]
        guard methods.filter({ $0 }).count <= 1 else {
            throw .invalidRequest("use exactly one client authentication method (RFC 6749 §2.3)")
        }
        if let basic = presentation.basic {
            if let formID = presentation.formClientID, !formID.isExactly(basic.id) {
                throw .invalidRequest("client_id in the body does not match the Authorization header")
            }
            return try authenticateSecret(id: basic.id, secret: basic.secret, method: .clientSecretBasic)
        }
        if let secret = presentation.formClientSecret {
            guard let id = presentation.formClientID else {
                throw .invalidRequest("client_secret needs client_id in the body")
            }
            return try authenticateSecret(id: id, secret: secret, method: .clientSecretPost)
        }
        if let assertion = presentation.assertion {
            return try await authenticateAssertion(assertion, type: presentation.assertionType, claimedID: presentation.formClientID)
        }
        if presentation.assertionType != nil {
            throw .invalidRequest("client_assertion_type was sent without client_assertion")
        }
        if let id = presentation.formClientID, let client = registry.client(id: id), client.definition.authMethod == .none {
            return client
        }
        throw .invalidClient("client authentication is required: client_secret_basic, client_secret_post or private_key_jwt")
    }

    private static let authenticationFailed = OAuthError.invalidClient("client authentication failed")

    /// A refused assertion of a known client answers exactly as an unknown client does, so
    /// client ids cannot be found by probing; the reason goes to the audit entry and the log.
    private static func assertionRejected(_ reason: String) -> OAuthError {
        OAuthError(.invalidClient, "client authentication failed", auditDetails: ["reason": .string("client_assertion rejected: " + reason)])
    }

    private func authenticateSecret(id: String, secret: String, method: ClientAuthMethod) throws(OAuthError) -> RegisteredClient {
        guard let client = registry.client(id: id), let expected = client.secretHash else {
            throw Self.authenticationFailed
        }
        guard ConstantTime.equals(SHA256.hash(Array(secret.utf8)), expected) else { throw Self.authenticationFailed }
        guard client.definition.authMethod == method else {
            throw .invalidClient("this client is registered for \(client.definition.authMethod.rawValue), not \(method.rawValue)")
        }
        return client
    }

    private func authenticateAssertion(_ assertion: String, type: String?, claimedID: String?) async throws(OAuthError) -> RegisteredClient {
        guard type == Self.jwtBearerAssertionType else {
            throw .invalidRequest("client_assertion_type must be \(Self.jwtBearerAssertionType)")
        }
        let jws: UnverifiedJWS
        do {
            jws = try UnverifiedJWS(compact: assertion, maximumBytes: 8 * 1024)
        } catch {
            throw .invalidClient("client_assertion is not a valid JWT: \(error.message)")
        }
        // The issuer names the client; it is checked against the signature just below.
        guard let id = jws.unverifiedClaims()?.issuer ?? claimedID else {
            throw .invalidClient("client_assertion has no iss naming the client")
        }
        if let claimedID, !claimedID.isExactly(id) {
            throw .invalidClient("client_id does not match the assertion's iss")
        }
        guard let client = registry.client(id: id), let keys = client.assertionKeys,
              client.definition.authMethod == .privateKeyJWT
        else {
            throw Self.assertionRejected("no client with this id uses private_key_jwt")
        }
        let now = timeSource.now()
        let verifier = JWTVerifier(policy: VerificationPolicy(
            issuer: id, audiences: [issuer, tokenEndpoint], leeway: Self.assertionLeeway, maximumTokenBytes: 8 * 1024,
            maximumLifetime: Self.maximumAssertionLifetime))
        let verified: VerifiedJWT
        do {
            verified = try verifier.verify(jws, keys: keys, now: now)
        } catch {
            throw Self.assertionRejected(error.message)
        }
        guard verified.claims.subject?.isExactly(id) == true else {
            throw Self.assertionRejected("sub must equal iss (the client id)")
        }
        guard let jti = verified.claims.jwtID, !jti.isEmpty, let expiresAt = verified.claims.expiresAt else {
            throw Self.assertionRejected("jti is required")
        }
        let firstUse = try await StoreDeadline.request(storeTimeout, "recording the assertion jti") { [replayStore] in
            try await replayStore.recordFirstUse(jti: jti, clientID: id, expiresAt: expiresAt.addingTimeInterval(Self.assertionLeeway), now: now)
        }
        guard firstUse else { throw Self.assertionRejected("this jti was already used") }
        return client
    }
}

extension ClientAuthenticator {
    /// The client id to record for a request: as given when a client has exactly that id,
    /// otherwise bounded and fingerprinted (`AuditText.unknownClientID`), so an unauthenticated
    /// request never writes its own text (or a pasted secret) into the log and the sinks.
    public func auditedClientID(_ presented: String) -> String {
        registry.client(id: presented) != nil ? presented : AuditText.unknownClientID(presented)
    }

    /// `authenticate`, and on failure one log line and a bounded audit record
    /// (`client.authentication_failed`, through `failures`), for every endpoint that
    /// authenticates clients (`/token`, `/introspect`, `/revoke`), so a guessing attack is seen
    /// on each of them.
    func authenticate(_ presentation: ClientCredentialPresentation, origin: AuditActor, endpoint: String,
                      failures: FailureAuditThrottle, logger: Logger) async throws(OAuthError) -> RegisteredClient {
        do {
            return try await authenticate(presentation)
        } catch {
            var actor = origin
            actor.clientID = (presentation.basic?.id ?? presentation.formClientID).map(auditedClientID)
            logger.notice("client authentication failed", metadata: [
                "tessera.endpoint": .string(endpoint),
                "tessera.client": .string(actor.clientID ?? "-"),
                "tessera.error": .string(error.auditDetails["reason"]?.stringValue ?? error.errorDescription),
            ])
            var event = AuditEvent.clientAuthenticationFailed(error, actor: actor)
            event.target["endpoint"] = .string(endpoint)
            await failures.record(event)
            throw error
        }
    }
}
