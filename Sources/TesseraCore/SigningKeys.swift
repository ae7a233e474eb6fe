import Foundation
import TesseraCrypto
import TesseraJWT

/// The keys the issuer uses right now: the signer for new tokens, and the JWKS document of every
/// published key, serialised once when the set is built (never per request) with its ETag.
public struct SigningKeys: Sendable {
    public let signer: JWSSigner
    public let published: [KeyManifestEntry]
    /// `{"keys":[...]}`, exactly the bytes served at the JWKS endpoint.
    public let jwksDocument: [UInt8]
    /// A strong ETag derived from the document, so it changes exactly when the key set changes.
    public let jwksETag: String
    /// Keys that verify tokens this issuer signed (every published key).
    public let verificationKeys: VerificationKeySet

    /// The kid of the key that signs new tokens.
    public var currentKeyID: String { signer.keyID }

    public init(keys: [StoredSigningKey]) throws(KeyDirectoryError) {
        let current = keys.filter { $0.entry.state == .current }
        guard let signing = current.first else {
            throw KeyDirectoryError(path: "keys", message: "no key is in state current")
        }
        guard current.count == 1 else {
            throw KeyDirectoryError(path: "keys", message: "more than one key is in state current: \(current.map(\.entry.kid).joined(separator: ", "))")
        }
        do {
            signer = JWSSigner(keyID: signing.entry.kid, signer: try Signer(key: signing.privateKey, algorithm: signing.entry.alg))
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
        } catch let error as CryptoError {
            throw KeyDirectoryError(path: "keys", message: "cannot prepare signing keys: \(error.message)")
        } catch {
            throw KeyDirectoryError(path: "keys", message: "cannot prepare the JWKS: \(error)")
        }
    }
}
