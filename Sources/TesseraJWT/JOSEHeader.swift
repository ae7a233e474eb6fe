import TesseraCrypto

/// The protected header of a JWS, read before the signature is checked and therefore not
/// trusted for anything but choosing which trusted key to try.
///
/// `jku`, `x5u`, `jwk` and `x5c` are recorded only to say they were ignored: keys are never
/// fetched from, or taken out of, the token itself (RFC 8725 §3.10).
public struct JOSEHeader: Sendable, Hashable {
    public let algorithmName: String
    public let keyID: String?
    public let type: String?
    public let critical: [String]
    public let members: [String: JSONValue]

    init(bytes: [UInt8]) throws(JWTError) {
        let object: [String: JSONValue]
        do {
            object = try JSONParser.parseObject(bytes)
        } catch {
            throw JWTError(.malformed, "the JOSE header is not a JSON object: \(error)")
        }
        guard let alg = object["alg"]?.stringValue else {
            throw JWTError(.malformed, "the JOSE header has no \"alg\"")
        }
        algorithmName = alg
        if let kid = object["kid"] {
            guard let value = kid.stringValue else { throw JWTError(.malformed, "\"kid\" must be a string") }
            keyID = value
        } else {
            keyID = nil
        }
        if let typ = object["typ"] {
            guard let value = typ.stringValue else { throw JWTError(.malformed, "\"typ\" must be a string") }
            type = value
        } else {
            type = nil
        }
        if let crit = object["crit"] {
            // RFC 7515 §4.1.11: a non-empty array of names that appear in the header.
            guard let names = crit.arrayValue?.compactMap(\.stringValue), !names.isEmpty,
                  names.count == crit.arrayValue?.count
            else {
                throw JWTError(.malformed, "\"crit\" must be a non-empty array of strings")
            }
            critical = names
        } else {
            critical = []
        }
        members = object
    }

    /// Whether `typ` names the media type `expected`, comparing as RFC 7515 §4.1.9 says:
    /// case-insensitively, with an omitted `application/` prefix.
    public func hasType(_ expected: String) -> Bool {
        guard let type else { return false }
        func normalised(_ value: String) -> String {
            let lower = value.lowercased()
            return lower.hasPrefix("application/") ? String(lower.dropFirst("application/".count)) : lower
        }
        return normalised(type) == normalised(expected)
    }
}
