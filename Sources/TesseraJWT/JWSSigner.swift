import TesseraCrypto

/// Produces compact JWS tokens with one key. The protected header
/// `{"alg":...,"typ":...,"kid":...}` is fixed per key and type, so it is encoded once, not per
/// token: for the default type and for `JWT`, the one type some older verifiers accept.
public struct JWSSigner: Sendable {
    /// RFC 9068 §2.1: access tokens are explicitly typed.
    public static let accessTokenType = "at+jwt"
    /// The generic type, for verifiers that refuse anything else (libjwt 1.x).
    public static let genericType = "JWT"

    public let keyID: String
    public let type: String
    private let signer: Signer
    private let encodedHeaders: [String: [UInt8]]

    public var algorithm: SignatureAlgorithm { signer.algorithm }

    public init(keyID: String, signer: Signer, type: String = JWSSigner.accessTokenType) {
        self.keyID = keyID
        self.type = type
        self.signer = signer
        var headers: [String: [UInt8]] = [:]
        for prepared in [type, Self.genericType] {
            headers[prepared] = Self.encodedHeader(algorithm: signer.algorithm, type: prepared, keyID: keyID)
        }
        self.encodedHeaders = headers
    }

    private static func encodedHeader(algorithm: SignatureAlgorithm, type: String, keyID: String) -> [UInt8] {
        var header = JSONWriter(capacity: 96)
        header.beginObject()
        header.key("alg"); header.string(algorithm.jwsName)
        header.key("typ"); header.string(type)
        header.key("kid"); header.string(keyID)
        header.endObject()
        return Array(Base64URL.encode(header.bytes).utf8)
    }

    public func sign(_ claims: AccessTokenClaims, type: String? = nil) throws(JWTError) -> String {
        try sign(payload: claims.jsonBytes(), type: type)
    }

    /// Signs any JSON payload; the caller is responsible for it being a JSON object. `type` is
    /// the header's `typ`, this signer's default when nil.
    public func sign(payload: [UInt8], type: String? = nil) throws(JWTError) -> String {
        let type = type ?? self.type
        var token = encodedHeaders[type] ?? Self.encodedHeader(algorithm: signer.algorithm, type: type, keyID: keyID)
        token.reserveCapacity(token.count + payload.count * 4 / 3 + 400)
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
