import TesseraCrypto

/// Produces compact JWS tokens with one key. The protected header
/// `{"alg":...,"typ":...,"kid":...}` is fixed per key, so it is encoded once, not per token.
public struct JWSSigner: Sendable {
    public let keyID: String
    public let type: String
    private let signer: Signer
    private let encodedHeader: [UInt8]

    public var algorithm: SignatureAlgorithm { signer.algorithm }

    public init(keyID: String, signer: Signer, type: String = "at+jwt") {
        self.keyID = keyID
        self.type = type
        self.signer = signer
        var header = JSONWriter(capacity: 96)
        header.beginObject()
        header.key("alg"); header.string(signer.algorithm.jwsName)
        header.key("typ"); header.string(type)
        header.key("kid"); header.string(keyID)
        header.endObject()
        self.encodedHeader = Array(Base64URL.encode(header.bytes).utf8)
    }

    public func sign(_ claims: AccessTokenClaims) throws(JWTError) -> String {
        try sign(payload: claims.jsonBytes())
    }

    /// Signs any JSON payload; the caller is responsible for it being a JSON object.
    public func sign(payload: [UInt8]) throws(JWTError) -> String {
        var token = encodedHeader
        token.reserveCapacity(encodedHeader.count + payload.count * 4 / 3 + 400)
        token.append(UInt8(ascii: "."))
        Base64URL.encode(payload, into: &token)
        let signature: [UInt8]
        do {
            signature = try signer.sign(token)
        } catch {
            throw JWTError(.signingFailed, "signing failed: \(error.message)")
        }
        token.append(UInt8(ascii: "."))
        Base64URL.encode(signature, into: &token)
        return String(decoding: token, as: UTF8.self)
    }
}
