import Foundation
import TesseraCrypto
import TesseraJWT

/// The keys the issuer uses right now: a signer per algorithm for new tokens, and the JWKS
/// document of every published key, serialised once when the set is built (never per request)
/// with its ETag. A rotation builds a new value; requests read whichever value is current.
/// A class, so reading the current value on every token and JWKS request is one reference.
public final class SigningKeys: Sendable {
    /// The current key of each algorithm.
    public let signers: [SignatureAlgorithm: JWSSigner]
    /// What signs when a token's role and client name no algorithm.
    public let defaultAlgorithm: SignatureAlgorithm
    public let published: [SigningKeyEntry]
    /// `{"keys":[...]}`, exactly the bytes served at the JWKS endpoint.
    public let jwksDocument: [UInt8]
    /// A strong ETag derived from the document, so it changes exactly when the key set changes.
    public let jwksETag: String
    /// Keys that verify tokens this issuer signed (every published key).
    public let verificationKeys: VerificationKeySet

    /// The signer of the default algorithm.
    public var signer: JWSSigner { signers[defaultAlgorithm]! }  // init guarantees it

    /// The kid of the key that signs new tokens by default.
    public var currentKeyID: String { signer.keyID }

    /// The signer for `algorithm`, or the default's when nil.
    public func signer(for algorithm: SignatureAlgorithm?) -> JWSSigner? {
        signers[algorithm ?? defaultAlgorithm]
    }

    /// `defaultAlgorithm` nil: ES256 when it has a current key, else the first algorithm that has one.
    public init(keys: [StoredSigningKey], defaultAlgorithm: SignatureAlgorithm? = nil) throws(KeyDirectoryError) {
        var signers: [SignatureAlgorithm: JWSSigner] = [:]
        do {
            for key in keys where key.entry.state == .current {
                guard signers[key.entry.alg] == nil else {
                    let kids = keys.filter { $0.entry.state == .current && $0.entry.alg == key.entry.alg }.map(\.entry.kid)
                    throw KeyDirectoryError(path: "keys", message: "more than one \(key.entry.alg) key is in state current: \(kids.joined(separator: ", "))")
                }
                signers[key.entry.alg] = JWSSigner(keyID: key.entry.kid, signer: try Signer(key: key.privateKey, algorithm: key.entry.alg))
            }
            let algorithms = signers.keys.sorted { $0.jwsName < $1.jwsName }
            guard let chosen = defaultAlgorithm ?? (signers[.es256] != nil ? .es256 : algorithms.first) else {
                throw KeyDirectoryError(path: "keys", message: "no key is in state current")
            }
            guard signers[chosen] != nil else {
                throw KeyDirectoryError(path: "keys", message: "no \(chosen) key is in state current, and \(chosen) is the default algorithm")
            }
            self.signers = signers
            self.defaultAlgorithm = chosen
            let publishedKeys = keys.filter { $0.entry.state.isPublished }
            var jwks: [PublicJWK] = []
            var verification: [VerificationKey] = []
            for key in publishedKeys {
                let publicKey = try key.privateKey.publicKey()
                jwks.append(try publicKey.jwk(algorithm: key.entry.alg))
                verification.append(try VerificationKey(keyID: key.entry.kid, key: publicKey, algorithm: key.entry.alg))
            }
            published = publishedKeys.map(\.entry)
            verificationKeys = VerificationKeySet(verification)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            jwksDocument = Array(try encoder.encode(PublicJWKSet(keys: jwks)))
            jwksETag = "\"\(Base64URL.encode(SHA256.hash(jwksDocument).prefix(16)))\""
        } catch let error as KeyDirectoryError {
            throw error
        } catch let error as CryptoError {
            throw KeyDirectoryError(path: "keys", message: "cannot prepare signing keys: \(error.message)")
        } catch {
            throw KeyDirectoryError(path: "keys", message: "cannot prepare the JWKS: \(error)")
        }
    }
}
