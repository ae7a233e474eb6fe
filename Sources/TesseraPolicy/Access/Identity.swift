import Foundation
import TesseraText

/// A claim of a verified identity token, as the policy engine sees it (JSON, without the
/// JWT layer: the engine is pure and depends on nothing but this module).
public enum ClaimValue: Sendable, Hashable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([ClaimValue])
    case object([String: ClaimValue])
    case null

    /// Equality with strings compared as exact UTF-8 bytes (`==` on `String` would accept a
    /// canonically equivalent spelling), at every depth.
    public func isExactly(_ other: ClaimValue) -> Bool {
        switch (self, other) {
        case (.string(let mine), .string(let theirs)): mine.isExactly(theirs)
        case (.array(let mine), .array(let theirs)): mine.count == theirs.count && zip(mine, theirs).allSatisfy { $0.isExactly($1) }
        case (.object(let mine), .object(let theirs)):
            mine.count == theirs.count && mine.allSatisfy { key, value in theirs[exactly: key].map(value.isExactly) ?? false }
        default: self == other
        }
    }
}

/// Who is asking, as an upstream identity provider vouched for it: the output of upstream
/// verification, the input of the policy engine.
public struct Identity: Sendable, Hashable {
    /// The `id` of the upstream (policies/upstreams.yaml) whose token this came from.
    public var upstream: String
    /// The upstream's subject (the mapped subject claim, `sub` by default), not yet namespaced.
    public var subject: String
    public var email: String?
    public var groups: [String]
    /// `amr` values (RFC 8176), from the mapped claim.
    public var authenticationMethods: [String]
    /// `acr`, from the mapped claim.
    public var authenticationContext: String?
    /// `auth_time`: when the person last actually authenticated.
    public var authenticatedAt: Date?
    /// Whether the upstream says the device is compliant; nil when it says nothing.
    public var deviceCompliant: Bool?
    /// Every claim of the verified token, for conditions on arbitrary claims.
    public var claims: [String: ClaimValue]

    public init(upstream: String, subject: String, email: String? = nil, groups: [String] = [], authenticationMethods: [String] = [],
                authenticationContext: String? = nil, authenticatedAt: Date? = nil, deviceCompliant: Bool? = nil,
                claims: [String: ClaimValue] = [:]) {
        self.upstream = upstream
        self.subject = subject
        self.email = email
        self.groups = groups
        self.authenticationMethods = authenticationMethods
        self.authenticationContext = authenticationContext
        self.authenticatedAt = authenticatedAt
        self.deviceCompliant = deviceCompliant
        self.claims = claims
    }
}
