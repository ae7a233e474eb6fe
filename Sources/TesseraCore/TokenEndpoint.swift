import Foundation
import Logging
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore
import TesseraText

/// The successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1).
public struct TokenResponse: Codable, Sendable, Hashable {
    public let accessToken: String
    public let tokenType: String
    public let expiresIn: Int
    public let scope: String?
    public let issuedTokenType: String?

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case scope
        case issuedTokenType = "issued_token_type"
    }

    /// The response body, written directly: `JSONEncoder` cost ~7% of a token request's CPU.
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter(capacity: accessToken.utf8.count + 128)
        writer.beginObject()
        writer.key("access_token"); writer.string(accessToken)
        writer.key("token_type"); writer.string(tokenType)
        writer.key("expires_in"); writer.integer(Int64(expiresIn))
        if let scope { writer.key("scope"); writer.string(scope) }
        if let issuedTokenType { writer.key("issued_token_type"); writer.string(issuedTokenType) }
        writer.endObject()
        return writer.bytes
    }
}

/// One grant type of the token endpoint. Grants decide what to issue; the endpoint does
/// everything they share (client authentication, minting, logging), so no grant can skip it.
public protocol Grant: Sendable {
    var grantType: String { get }
    func decide(_ request: GrantRequest) async throws(OAuthError) -> TokenGrantDecision
}

/// What a grant decides on: the form, the authenticated client, and where the request came from.
public struct GrantRequest: Sendable {
    public let form: FormParameters
    public let client: RegisteredClient
    /// The TCP peer and user agent (`remoteAddress` is the peer, not yet the client: see `forwarded`).
    public let origin: AuditActor
    /// The proxy headers as received, believed only from trusted proxies.
    public let forwarded: ForwardedHeaders

    public init(form: FormParameters, client: RegisteredClient, origin: AuditActor = AuditActor(),
                forwarded: ForwardedHeaders = ForwardedHeaders()) {
        self.form = form
        self.client = client
        self.origin = origin
        self.forwarded = forwarded
    }
}

/// `X-Forwarded-For` and `Forwarded` (RFC 7239) as the request carried them: each header's
/// field lines in the order received, not joined, so that one line's broken syntax cannot
/// reach into the next (a proxy that adds a line of its own writes the last one).
public struct ForwardedHeaders: Sendable, Hashable {
    public var xForwardedFor: [String]
    public var forwarded: [String]

    public init(xForwardedFor: [String] = [], forwarded: [String] = []) {
        self.xForwardedFor = xForwardedFor
        self.forwarded = forwarded
    }
}

/// The token endpoint as one pipeline: parse, pick the grant, authenticate the client,
/// let the grant decide, mint, log, respond.
public struct TokenEndpoint: Sendable {
    let grants: [String: any Grant]
    let authenticator: ClientAuthenticator
    let minter: TokenMinter
    let audit: AuditLog
    /// Where failures anyone can cause without credentials are recorded, bounded per source.
    let failures: FailureAuditThrottle
    /// Whether the audit log could not be written at the last try (said once per outage).
    let storeOutage = OutageFlag()
    /// Records tokens issued under an existing activation.
    let activations: ActivationService?

    public init(grants: [any Grant], authenticator: ClientAuthenticator, minter: TokenMinter, audit: AuditLog,
                failures: FailureAuditThrottle, activations: ActivationService? = nil) {
        self.activations = activations
        self.grants = Dictionary(grants.map { ($0.grantType, $0) }, uniquingKeysWith: { first, _ in first })
        self.authenticator = authenticator
        self.minter = minter
        self.audit = audit
        self.failures = failures
    }

    public var supportedGrantTypes: [String] { grants.keys.sorted() }

    /// Runs the pipeline. `origin` says where the request came from (address, user agent), for
    /// the audit log. The token is returned only after its audit entry is durable.
    public func handle(form: FormParameters, basic: (id: String, secret: String)?, origin: AuditActor = AuditActor(),
                       forwarded: ForwardedHeaders = ForwardedHeaders(), logger: Logger) async throws(OAuthError) -> TokenResponse {
        guard let grantType = form["grant_type"] else { throw .invalidRequest("grant_type is required") }
        guard let grant = grants[exactly: grantType] else {
            throw OAuthError(.unsupportedGrantType, "grant_type \"\(displayed(grantType))\" is not supported; supported: \(supportedGrantTypes.joined(separator: ", "))")
        }
        let client = try await authenticator.authenticate(ClientCredentialPresentation(basic: basic, form: form), origin: origin,
                                                          endpoint: "/token", failures: failures, logger: logger)
        var actor = origin
        actor.clientID = client.id
        let decision: TokenGrantDecision
        do {
            decision = try await grant.decide(GrantRequest(form: form, client: client, origin: actor, forwarded: forwarded))
        } catch {
            let event = AuditEvent.tokenDenied(error, grantType: grantType, actor: actor)
            // A rejected subject token needs no credentials of its own (public clients), so its
            // records are bounded per source like failed client authentication.
            if event.event == AuditEvent.upstreamTokenRejected {
                await failures.record(event)
            } else {
                await recordFailure(event, logger: logger)
            }
            throw error
        }
        let minted = try minter.mint(decision)
        actor.subject = decision.subject
        let record = IssuedTokenRecord(minted, decision: decision)
        let issued = AuditEvent.tokenIssued(minted, decision: decision, grantType: grantType, actor: actor)
        do {
            switch decision.activation {
            case nil:
                try await audit.record(issued, issuedToken: record)
            case .open(let activation, let events, let notifications)?:
                // The window, its start and its notices are written with the token, or nothing is.
                try await audit.record(together: [AuditChain.Prepared(issued, issuedToken: record, openedActivation: activation,
                                                                      notifications: notifications)] + events.map { AuditChain.Prepared($0) })
            case .use(let activation)?:
                guard let activations else { throw OAuthError(.serverError, "activations are not available") }
                try await activations.recordToken(issued, token: record, under: activation, audit: audit)
            }
        } catch let error as OAuthError {
            throw error
        } catch {
            // Once per outage: every request in it fails the same way.
            if storeOutage.set(true) {
                logger.error("the audit log cannot be written; tokens are withheld until the store answers",
                             metadata: ["tessera.error": .string("\(error)")])
            }
            throw OAuthError(.temporarilyUnavailable, "the token could not be recorded in the audit log, so it was not issued; try again",
                             status: 503)
        }
        if storeOutage.set(false) { logger.notice(Self.auditWrittenAgain) }
        logger.info("token issued", metadata: [
            "tessera.client": .string(client.id),
            "tessera.subject": .string(decision.subject),
            "tessera.jti": .string(minted.jwtID),
            "tessera.kid": .string(minted.keyID),
            "tessera.audience": .string(decision.audiences.joined(separator: " ")),
            "tessera.lifetime": .stringConvertible(minted.lifetimeSeconds),
        ])
        return TokenResponse(accessToken: minted.token, tokenType: "Bearer", expiresIn: minted.lifetimeSeconds,
                             scope: minted.claims.scope, issuedTokenType: decision.issuedTokenType)
    }

    static let auditWrittenAgain: Logger.Message = "the audit log is written again; tokens are issued"

    /// Why tokens cannot be issued now, nil when they can. Reads alone do not show a store that
    /// stopped taking writes (a read-only disk), so while the last audit append failed this
    /// writes one: an `audit.write_restored` entry, which records the outage's end when it
    /// lands. Without it, a server taken out of its load balancer would never see a request
    /// that could tell it the store is back.
    public func auditWriteFailure(logger: Logger) async -> String? {
        guard storeOutage.isSet else { return nil }
        do {
            try await audit.record(AuditEvent("audit.write_restored", outcome: .success, target: [:],
                                              reasons: ["the audit log took an entry again after failed appends"]))
        } catch {
            return "the audit log cannot be written: \(error)"
        }
        if storeOutage.set(false) { logger.notice(Self.auditWrittenAgain) }
        return nil
    }

    /// Refusals are audited too, but a failing audit store must not turn a refusal into a
    /// different answer: it is logged instead.
    private func recordFailure(_ event: AuditEvent, logger: Logger) async {
        do {
            try await audit.record(event)
        } catch {
            logger.error("audit log unavailable", metadata: ["tessera.error": .string("\(error)"), "tessera.event": .string(event.event)])
        }
    }
}

/// `grant_type=client_credentials` (RFC 6749 §4.4): a service acting for itself.
public struct ClientCredentialsGrant: Grant {
    public let grantType = "client_credentials"

    public init() {}

    public func decide(_ request: GrantRequest) throws(OAuthError) -> TokenGrantDecision {
        let form = request.form
        let definition = request.client.definition
        guard definition.authMethod != .none else {
            throw OAuthError(.unauthorizedClient, "client \(definition.id) is public: it may only exchange an identity token "
                             + "(grant_type urn:ietf:params:oauth:grant-type:token-exchange)")
        }
        let scopes = try RequestedScope.resolve(form["scope"], allowed: definition.scopes)
        let audiences = try RequestedAudience.resolve(resources: form.all("resource"), audiences: form.all("audience"),
                                                      allowed: definition.audiences)
        // RFC 9068 §2.2: with no resource owner, the subject is the client itself.
        return TokenGrantDecision(subject: definition.id, clientID: definition.id, audiences: audiences, scopes: scopes,
                                  lifetimeSeconds: definition.tokenLifetimeSeconds, typeHeader: definition.tokenTypeHeader,
                                  signingAlgorithm: definition.signingAlgorithm.flatMap(SignatureAlgorithm.init(jwsName:)))
    }
}

/// The `scope` parameter (RFC 6749 §3.3) checked against what the client may have.
public enum RequestedScope {
    /// Without a `scope` parameter the client gets every scope it is allowed (a documented
    /// default, as §3.3 permits); with one, every requested scope must be allowed.
    public static func resolve(_ parameter: String?, allowed: [String]) throws(OAuthError) -> [String] {
        guard let parameter else { return allowed }
        var requested: [String] = []
        for scope in parameter.split(separator: " ", omittingEmptySubsequences: true).map(String.init) where !requested.containsExactly(scope) {
            guard allowed.containsExactly(scope) else {
                throw OAuthError(.invalidScope, "scope \"\(scope)\" is not allowed for this client; allowed: \(allowed.joined(separator: " "))")
            }
            requested.append(scope)
        }
        guard !requested.isEmpty else { throw OAuthError(.invalidScope, "scope is empty") }
        return requested
    }
}

/// The audiences of a token: `resource` (RFC 8707) and `audience` (RFC 8693) values, each one
/// allowed for the client; without either, every audience the client is configured for.
public enum RequestedAudience {
    public static func resolve(resources: [String], audiences: [String], allowed: [String]) throws(OAuthError) -> [String] {
        for resource in resources {
            // RFC 8707 §2: an absolute URI without a fragment.
            guard let url = URL(string: resource), url.scheme != nil, url.fragment == nil else {
                throw OAuthError(.invalidTarget, "resource \"\(resource)\" must be an absolute URI without a fragment")
            }
        }
        var requested: [String] = []
        for value in resources + audiences where !requested.containsExactly(value) {
            guard allowed.containsExactly(value) else {
                throw OAuthError(.invalidTarget, "\"\(value)\" is not an audience this client may request; allowed: \(allowed.joined(separator: " "))")
            }
            requested.append(value)
        }
        return requested.isEmpty ? allowed : requested
    }
}
