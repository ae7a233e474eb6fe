import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraText

/// Turns an upstream's JWK Set into verification keys with the strict importer of
/// `TesseraCrypto` (EC points on the curve, RSA >= 2048 bits, no private members).
///
/// Keys Tessera cannot use for this upstream's signatures (`use: enc`, P-384, an `alg` outside
/// the upstream's algorithms, a weak RSA key) are skipped, not fatal: IdPs such as Keycloak
/// publish encryption keys next to signing keys. A skipped key can verify nothing. A set holding
/// private key material is refused as a whole: something is badly wrong at the upstream.
///
/// Public for `tessera verify`, which imports Tessera's own JWK Set the same way.
public enum UpstreamJWKS {
    static let maximumKeys = 100

    public struct Imported: Sendable {
        public var keys: VerificationKeySet
        /// Why each skipped key was skipped, for the log.
        public var skipped: [String]
    }

    public static func keySet(from body: [UInt8], algorithms: [SignatureAlgorithm]) throws(UpstreamFetchError) -> Imported {
        let object: [String: JSONValue]
        do {
            object = try JSONParser.parseObject(body)
        } catch {
            throw UpstreamFetchError("the JWK Set is not a JSON object: \(error)")
        }
        guard let members = object["keys"]?.arrayValue else { throw UpstreamFetchError("the JWK Set has no \"keys\" array") }
        guard members.count <= maximumKeys else {
            throw UpstreamFetchError("the JWK Set has \(members.count) keys, more than \(maximumKeys)")
        }
        var keys: [VerificationKey] = []
        var skipped: [String] = []
        for (index, member) in members.enumerated() {
            guard let jwkObject = member.objectValue else {
                skipped.append("keys[\(index)]: not an object")
                continue
            }
            if let leaked = jwkObject.keys.first(where: { ["d", "p", "q", "dp", "dq", "qi", "oth", "k"].contains($0) }) {
                throw UpstreamFetchError("the JWK Set publishes private key material (member \"\(leaked)\" of keys[\(index)]); refusing it")
            }
            let name = "keys[\(index)]" + (jwkObject["kid"]?.stringValue.map { " (kid \(displayed($0)))" } ?? "")
            do {
                keys += try verificationKeys(jwkObject, algorithms: algorithms)
            } catch {
                skipped.append("\(name): \(error.message)")
            }
        }
        guard !keys.isEmpty else {
            let reasons = skipped.isEmpty ? "" : ": " + skipped.prefix(3).joined(separator: "; ")
            throw UpstreamFetchError("the JWK Set has no usable signing key for \(algorithms.map(\.jwsName).joined(separator: ", "))\(reasons)")
        }
        return Imported(keys: VerificationKeySet(keys), skipped: skipped)
    }

    private static func verificationKeys(_ object: [String: JSONValue], algorithms: [SignatureAlgorithm]) throws(CryptoError) -> [VerificationKey] {
        func member(_ name: String) throws(CryptoError) -> String? {
            guard let value = object[name] else { return nil }
            guard let string = value.stringValue else { throw CryptoError(.invalidJWK, "\"\(name)\" must be a string") }
            return string
        }
        guard let kty = try member("kty") else { throw CryptoError(.invalidJWK, "no \"kty\"") }
        let jwk = PublicJWK(kty: kty, crv: try member("crv"), x: try member("x"), y: try member("y"), n: try member("n"),
                            e: try member("e"), kid: try member("kid"), alg: try member("alg"), use: try member("use"))
        if let use = jwk.use, use != "sig" { throw CryptoError(.invalidJWK, "\"use\" is \"\(displayed(use))\", not \"sig\"") }
        if let alg = jwk.alg {
            guard let algorithm = SignatureAlgorithm(jwsName: alg), algorithms.contains(algorithm) else {
                throw CryptoError(.invalidJWK, "\"alg\" \(displayed(alg)) is not allowed for this upstream")
            }
        }
        let publicKey = try PublicKey(jwk: jwk)
        let usable = algorithms.filter { algorithm in
            publicKey.supports(algorithm) && (jwk.alg == nil || jwk.alg == algorithm.jwsName)
        }
        guard !usable.isEmpty else { throw CryptoError(.invalidJWK, "a \(publicKey.family.rawValue) key fits none of the allowed algorithms") }
        var keys: [VerificationKey] = []
        for algorithm in usable {
            keys.append(try VerificationKey(keyID: jwk.kid, key: publicKey, algorithm: algorithm))
        }
        return keys
    }

    /// The `jwks_uri` of an OpenID Connect discovery document, which must name `issuer` exactly
    /// (OpenID Connect Discovery §4.3): a document for another issuer is an impersonation attempt.
    static func jwksURI(fromDiscovery body: [UInt8], issuer: String) throws(UpstreamFetchError) -> String {
        let object: [String: JSONValue]
        do {
            object = try JSONParser.parseObject(body)
        } catch {
            throw UpstreamFetchError("the discovery document is not a JSON object: \(error)")
        }
        guard object[exactly: "issuer"]?.stringValue?.isExactly(issuer) == true else {
            throw UpstreamFetchError("the discovery document names issuer \"\(displayed(object["issuer"]?.stringValue ?? ""))\", not \"\(issuer)\"")
        }
        guard let uri = object["jwks_uri"]?.stringValue, UpstreamDefinition.isAcceptableURL(uri) else {
            throw UpstreamFetchError("the discovery document has no jwks_uri that is https (or http on loopback)")
        }
        return uri
    }
}
