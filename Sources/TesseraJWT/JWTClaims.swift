import Foundation
import TesseraText

/// The claim set of a token whose signature has been verified. Each time check takes the
/// current time as a parameter, so callers and tests control the clock.
public struct JWTClaims: Sendable, Hashable {
    public let members: [String: JSONValue]

    public init(members: [String: JSONValue]) {
        self.members = members
    }

    /// The claim named exactly `name` (a canonically equivalent name is another claim).
    public subscript(name: String) -> JSONValue? { members[exactly: name] }

    public var issuer: String? { self["iss"]?.stringValue }
    public var subject: String? { self["sub"]?.stringValue }
    public var jwtID: String? { self["jti"]?.stringValue }
    public var audiences: [String] { self["aud"]?.stringList ?? [] }
    public var expiresAt: Date? { date("exp") }
    public var notBefore: Date? { date("nbf") }
    public var issuedAt: Date? { date("iat") }

    public func string(_ name: String) -> String? { self[name]?.stringValue }

    /// A NumericDate claim (seconds since the epoch, RFC 7519 §2).
    public func date(_ name: String) -> Date? {
        self[name]?.numberValue.map { Date(timeIntervalSince1970: $0) }
    }

    /// Registered claims must have their registered types when present (RFC 7519 §4.1).
    func verifyRegisteredClaimTypes() throws(JWTError) {
        for name in ["iss", "sub", "jti"] {
            if let value = self[name], value.stringValue == nil {
                throw JWTError(.invalidClaim, "\"\(name)\" must be a string")
            }
        }
        for name in ["exp", "nbf", "iat"] {
            guard let value = self[name] else { continue }
            guard let seconds = value.numberValue else { throw JWTError(.invalidClaim, "\"\(name)\" must be a number") }
            guard NumericDate.isPlausible(seconds) else { throw JWTError(.invalidClaim, NumericDate.implausible(name)) }
        }
        if let aud = self["aud"], aud.stringList == nil {
            throw JWTError(.invalidClaim, "\"aud\" must be a string or an array of strings")
        }
    }

    public func verifyIssuer(_ expected: String) throws(JWTError) {
        guard let issuer else { throw JWTError(.missingClaim, "the token has no \"iss\"") }
        // Exact, case-sensitive comparison (RFC 8725 §3.8): no normalisation of any kind, not
        // even the canonical equivalence of `String ==`.
        guard issuer.isExactly(expected) else { throw JWTError(.invalidIssuer, "unexpected issuer \"\(displayed(issuer))\"") }
    }

    public func verifyAudience(acceptsAnyOf accepted: Set<String>) throws(JWTError) {
        let audiences = self.audiences
        guard !audiences.isEmpty else { throw JWTError(.missingClaim, "the token has no \"aud\"") }
        // A set lookup finds a canonically equivalent audience too; the bytes decide.
        guard audiences.contains(where: { accepted.containsExactly($0) }) else {
            throw JWTError(.invalidAudience, "the token is not meant for this audience")
        }
    }

    public func verifyNotExpired(currentDate: Date, leeway: TimeInterval) throws(JWTError) {
        guard let expiresAt else { throw JWTError(.missingClaim, "the token has no \"exp\"") }
        guard currentDate.timeIntervalSince(expiresAt) < leeway else {
            throw JWTError(.expired, "the token expired at \(Self.numericDate(expiresAt))")
        }
    }

    public func verifyNotBefore(currentDate: Date, leeway: TimeInterval) throws(JWTError) {
        guard let notBefore else { return }
        guard notBefore.timeIntervalSince(currentDate) <= leeway else {
            throw JWTError(.notYetValid, "the token is not valid before \(Self.numericDate(notBefore))")
        }
    }

    public func verifyIssuedInPast(currentDate: Date, leeway: TimeInterval, required: Bool) throws(JWTError) {
        guard let issuedAt else {
            if required { throw JWTError(.missingClaim, "the token has no \"iat\"") }
            return
        }
        guard issuedAt.timeIntervalSince(currentDate) <= leeway else {
            throw JWTError(.issuedInFuture, "the token claims to be issued in the future")
        }
    }

    /// A NumericDate for an error message. `Int64(_:)` would trap on a signed but absurd value
    /// such as `"exp":-1e300`, so whole seconds are printed only when they fit.
    private static func numericDate(_ date: Date) -> String { seconds(date.timeIntervalSince1970) }

    private static func seconds(_ seconds: TimeInterval) -> String {
        Int64(exactly: seconds.rounded(.towardZero)).map(String.init) ?? "\(seconds)"
    }

    /// Bounds how far in the future `exp` may lie, e.g. for short-lived client assertions.
    public func verifyLifetime(atMost maximum: TimeInterval, currentDate: Date, leeway: TimeInterval) throws(JWTError) {
        guard let expiresAt else { throw JWTError(.missingClaim, "the token has no \"exp\"") }
        guard expiresAt.timeIntervalSince(currentDate) <= maximum + leeway else {
            throw JWTError(.lifetimeTooLong, "the token expires too far in the future (at most \(Self.seconds(maximum)) s allowed)")
        }
    }
}
