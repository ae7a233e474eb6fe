import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraStore

/// What a grant asks the minter to put in a token.
public struct TokenGrantDecision: Sendable {
    public var subject: String
    public var clientID: String
    public var audiences: [String]
    public var scopes: [String]
    public var lifetimeSeconds: Int
    public var extensions: [String: JSONValue]
    /// The token's `typ` header.
    public var typeHeader: String
    /// The role the token activates (token exchange), recorded in the audit entry.
    public var role: String?
    /// What else the `token.issued` entry records (the decision's rules, the upstream...).
    public var auditDetails: [String: JSONValue]
    /// RFC 8693 `issued_token_type` of the response, for token exchange.
    public var issuedTokenType: String?
    /// The algorithm the role or client asks for (`signing_alg`); nil: the default algorithm.
    public var signingAlgorithm: SignatureAlgorithm?
    /// The activation the token is issued under (token exchange), and what issuing it writes.
    public var activation: TokenActivation?

    /// The end of the active window the token is issued under, which it may not outlive.
    public var expiresNoLaterThan: Date? {
        guard case .use(let window)? = activation, window.state == .active else { return nil }
        return window.endsAt
    }

    public init(subject: String, clientID: String, audiences: [String], scopes: [String], lifetimeSeconds: Int,
                extensions: [String: JSONValue] = [:], typeHeader: String = JWSSigner.accessTokenType, role: String? = nil,
                auditDetails: [String: JSONValue] = [:], issuedTokenType: String? = nil, signingAlgorithm: SignatureAlgorithm? = nil) {
        self.signingAlgorithm = signingAlgorithm
        self.subject = subject
        self.clientID = clientID
        self.audiences = audiences
        self.scopes = scopes
        self.lifetimeSeconds = lifetimeSeconds
        self.extensions = extensions
        self.typeHeader = typeHeader
        self.role = role
        self.auditDetails = auditDetails
        self.issuedTokenType = issuedTokenType
    }
}

/// A token just signed, with the facts the audit log and the response need.
public struct MintedToken: Sendable {
    public let token: String
    public let jwtID: String
    public let keyID: String
    public let issuedAt: Date
    public let expiresAt: Date
    public let claims: AccessTokenClaims

    /// What `expires_in` says: the decision's lifetime, or less where the window ends first.
    public var lifetimeSeconds: Int { Int(expiresAt.timeIntervalSince(issuedAt)) }
}

/// Turns a grant decision into a signed RFC 9068 access token with the current key of its algorithm.
public struct TokenMinter: Sendable {
    public let issuer: String
    /// Replaced by key rotation; each token is signed with the keys current when it is minted.
    let keys: CurrentValue<SigningKeys>
    let timeSource: any TimeSource
    let random: any RandomSource

    public init(issuer: String, keys: CurrentValue<SigningKeys>, timeSource: any TimeSource, random: any RandomSource = BufferedSecureRandom()) {
        self.issuer = issuer
        self.keys = keys
        self.timeSource = timeSource
        self.random = random
    }

    /// A minter whose keys never change (tools and tests).
    public init(issuer: String, keys: SigningKeys, timeSource: any TimeSource, random: any RandomSource = BufferedSecureRandom()) {
        self.init(issuer: issuer, keys: CurrentValue(keys), timeSource: timeSource, random: random)
    }

    public func mint(_ decision: TokenGrantDecision) throws(OAuthError) -> MintedToken {
        let now = timeSource.now()
        let issuedAt = Int64(now.timeIntervalSince1970.rounded(.down))
        var expiresAt = issuedAt + Int64(decision.lifetimeSeconds)
        // The decision counted the window's rest from its own clock reading; a second boundary
        // passed since must not carry the token past the window's end.
        if let windowEnd = decision.expiresNoLaterThan {
            expiresAt = min(expiresAt, Int64(windowEnd.timeIntervalSince1970.rounded(.down)))
        }
        // Unique (RFC 9068 §2.2), and ordered by time for the store's index (`TokenIdentifier`).
        let jti = TokenIdentifier.make(time: now, random: random.bytes(count: TokenIdentifier.randomByteCount))
        let claims = AccessTokenClaims(
            issuer: issuer, subject: decision.subject, audiences: decision.audiences, expiresAt: expiresAt,
            issuedAt: issuedAt, jwtID: jti, clientID: decision.clientID,
            scope: decision.scopes.isEmpty ? nil : decision.scopes.joined(separator: " "), extensions: decision.extensions)
        guard let signer = keys.value.signer(for: decision.signingAlgorithm) else {
            throw OAuthError(.serverError, "no \(decision.signingAlgorithm?.jwsName ?? "default") signing key is current")
        }
        let token: String
        do {
            token = try signer.sign(claims, type: decision.typeHeader)
        } catch {
            throw OAuthError(.serverError, "the token could not be signed")
        }
        return MintedToken(token: token, jwtID: jti, keyID: signer.keyID,
                           issuedAt: Date(timeIntervalSince1970: TimeInterval(issuedAt)),
                           expiresAt: Date(timeIntervalSince1970: TimeInterval(expiresAt)), claims: claims)
    }
}

extension IssuedTokenRecord {
    /// What the store keeps of a token just minted, for introspection and revocation.
    public init(_ minted: MintedToken, decision: TokenGrantDecision) {
        self.init(jwtID: minted.jwtID, subject: decision.subject, clientID: decision.clientID, audiences: decision.audiences,
                  scope: minted.claims.scope, keyID: minted.keyID, issuedAt: minted.issuedAt, expiresAt: minted.expiresAt,
                  activationID: decision.activation?.id)
    }
}
