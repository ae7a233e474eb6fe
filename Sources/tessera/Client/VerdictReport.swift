import Foundation
import TesseraCrypto
import TesseraJWT

/// How `tessera verify` prints a verdict: lines for a person, or one JSON object for a script
/// (`{"valid", "error", "claims", "active"}`, every member always present, null when it does
/// not apply).
enum VerdictReport {
    static func json(_ verdict: TokenVerdict) -> String {
        var writer = JSONWriter(capacity: 1024)
        writer.value(.object([
            "valid": .bool(verdict.isValid),
            "error": verdict.failure.map(JSONValue.string) ?? .null,
            "claims": verdict.claims.map { .object($0.members) } ?? .null,
            "active": verdict.active.map(JSONValue.bool) ?? .null,
        ]))
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// For a check that never happened (exit 69): the same shape, so a script reads one format.
    static func json(unreachable: Unreachable) -> String {
        json(TokenVerdict(failure: unreachable.message))
    }

    /// One column for values whatever the token holds: the longest label and two spaces.
    static let labelWidth = "justification".count + 2

    /// `valid` or `invalid: <why>`, then the claims the signature vouches for.
    static func text(_ verdict: TokenVerdict, now: Date) -> String {
        var lines = [verdict.failure.map { "invalid: \(printable($0))" } ?? "valid"]
        var fields: [(String, String)] = []
        if let claims = verdict.claims { fields = claimFields(claims, now: now) }
        if let key = verdict.key {
            fields.append(("signed by", "\(key.algorithm.jwsName) key \(printable(key.keyID ?? "(no kid)"))"))
        }
        if let active = verdict.active { fields.append(("introspection", active ? "active" : "inactive")) }
        for (label, value) in fields {
            lines.append("  " + label.padding(toLength: labelWidth, withPad: " ", startingAt: 0) + value)
        }
        return lines.joined(separator: "\n")
    }

    /// The claims a person asks about first, in that order; absent ones are left out.
    static func claimFields(_ claims: JWTClaims, now: Date) -> [(String, String)] {
        var fields: [(String, String)] = []
        func add(_ label: String, _ value: String?) {
            if let value, !value.isEmpty { fields.append((label, printable(value))) }
        }
        add("subject", claims.subject)
        add("role", claims["roles"]?.stringList?.joined(separator: ", "))
        add("scopes", claims.string("scope"))
        add("audiences", claims.audiences.joined(separator: ", "))
        add("issuer", claims.issuer)
        if let iat = claims.issuedAt {
            add("issued", "\(TimeText.instant(iat)) (\(TimeText.duration(now.timeIntervalSince(iat))) ago)")
        }
        if let exp = claims.expiresAt {
            let left = exp.timeIntervalSince(now)
            add("expires in", left > 0 ? "\(TimeText.duration(left)) (at \(TimeText.instant(exp)))"
                : "expired \(TimeText.duration(-left)) ago (at \(TimeText.instant(exp)))")
        }
        if let nbf = claims.notBefore { add("not before", TimeText.instant(nbf)) }
        add("activation", claims.string("act_id"))
        add("break-glass", claims["break_glass"]?.boolValue.map { $0 ? "yes" : "no" })
        add("justification", claims.string("justification"))
        add("ticket", claims.string("ticket"))
        add("client_id", claims.string("client_id"))
        add("jti", claims.jwtID)
        return fields
    }

    /// Text from a token, made safe for a terminal: control characters and bidirectional
    /// controls are escaped, so a claim cannot rewrite the lines around it.
    static func printable(_ text: String) -> String {
        var shown = ""
        for scalar in text.unicodeScalars {
            let value = scalar.value
            let control = value < 0x20 || (0x7F...0x9F).contains(value) || (0x202A...0x202E).contains(value)
                || (0x2066...0x2069).contains(value) || value == 0x200E || value == 0x200F
            if control {
                shown += "\\u{" + String(value, radix: 16) + "}"
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }
}
