internal import COpenSSL

/// A public JSON Web Key (RFC 7517) for the key types Tessera uses.
///
/// The type has no field for private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`), so
/// no value of it can ever serialise private material; decoding one that carries such a
/// member fails, because a "public" key set holding a private key is a leak to stop, not use.
public struct PublicJWK: Codable, Hashable, Sendable {
    public var kty: String
    public var crv: String?
    public var x: String?
    public var y: String?
    public var n: String?
    public var e: String?
    public var kid: String?
    public var alg: String?
    public var use: String?

    public init(kty: String, crv: String? = nil, x: String? = nil, y: String? = nil, n: String? = nil, e: String? = nil,
                kid: String? = nil, alg: String? = nil, use: String? = nil) {
        self.kty = kty
        self.crv = crv
        self.x = x
        self.y = y
        self.n = n
        self.e = e
        self.kid = kid
        self.alg = alg
        self.use = use
    }

    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    private enum CodingKeys: String, CodingKey {
        case kty, crv, x, y, n, e, kid, alg, use
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        if let leaked = all.allKeys.first(where: { Self.privateMembers.contains($0.stringValue) }) {
            throw CryptoError(.invalidJWK, "a public JWK must not contain the private member \"\(leaked.stringValue)\"")
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kty = try container.decode(String.self, forKey: .kty)
        crv = try container.decodeIfPresent(String.self, forKey: .crv)
        x = try container.decodeIfPresent(String.self, forKey: .x)
        y = try container.decodeIfPresent(String.self, forKey: .y)
        n = try container.decodeIfPresent(String.self, forKey: .n)
        e = try container.decodeIfPresent(String.self, forKey: .e)
        kid = try container.decodeIfPresent(String.self, forKey: .kid)
        alg = try container.decodeIfPresent(String.self, forKey: .alg)
        use = try container.decodeIfPresent(String.self, forKey: .use)
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order,
    /// base64url-encoded. Member values are checked to be base64url or fixed names first, so
    /// no JSON escaping is ever needed.
    public func thumbprint() throws(CryptoError) -> String {
        for value in [crv, x, y, n, e].compactMap({ $0 }) where !value.utf8.allSatisfy(Self.isBase64URLByte) {
            throw CryptoError(.invalidJWK, "JWK member value \"\(value)\" is not base64url")
        }
        let canonical: String
        switch kty {
        case "EC":
            guard let crv, let x, let y else { throw CryptoError(.invalidJWK, "an EC JWK needs crv, x and y") }
            canonical = #"{"crv":"\#(crv)","kty":"EC","x":"\#(x)","y":"\#(y)"}"#
        case "RSA":
            guard let n, let e else { throw CryptoError(.invalidJWK, "an RSA JWK needs n and e") }
            canonical = #"{"e":"\#(e)","kty":"RSA","n":"\#(n)"}"#
        case "OKP":
            guard let crv, let x else { throw CryptoError(.invalidJWK, "an OKP JWK needs crv and x") }
            canonical = #"{"crv":"\#(crv)","kty":"OKP","x":"\#(x)"}"#
        default:
            throw CryptoError(.invalidJWK, "unsupported JWK key type \"\(kty)\"")
        }
        return Base64URL.encode(SHA256.hash(Array(canonical.utf8)))
    }

    private static func isBase64URLByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == 0x2D || byte == 0x5F
    }
}

/// A JWK Set (RFC 7517 §5).
public struct PublicJWKSet: Codable, Hashable, Sendable {
    public var keys: [PublicJWK]
    public init(keys: [PublicJWK]) { self.keys = keys }
}

extension PublicKey {
    /// The public JWK, with `kid` set to the RFC 7638 thumbprint, `use: "sig"`, and `alg` when given.
    public func jwk(algorithm: SignatureAlgorithm? = nil) throws(CryptoError) -> PublicJWK {
        var jwk: PublicJWK
        switch family {
        case .p256:
            jwk = PublicJWK(kty: "EC", crv: "P-256",
                            x: Base64URL.encode(try key.bigNumberParameter("qx", paddedTo: 32)),
                            y: Base64URL.encode(try key.bigNumberParameter("qy", paddedTo: 32)))
        case .ed25519:
            jwk = PublicJWK(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(try key.octetParameter("pub")))
        case .rsa:
            jwk = PublicJWK(kty: "RSA", n: Base64URL.encode(try key.bigNumberParameter("n")),
                            e: Base64URL.encode(try key.bigNumberParameter("e")))
        }
        jwk.kid = try jwk.thumbprint()
        jwk.alg = algorithm?.jwsName
        jwk.use = "sig"
        return jwk
    }

    /// The RFC 7638 thumbprint of this key, Tessera's `kid`.
    public func thumbprint() throws(CryptoError) -> String {
        try jwk().thumbprint()
    }

    /// Imports a public JWK (EC P-256, OKP Ed25519, RSA >= 2048 bits). EC points are checked to
    /// lie on the curve.
    public convenience init(jwk: PublicJWK) throws(CryptoError) {
        if let use = jwk.use, use != "sig" {
            throw CryptoError(.invalidJWK, "JWK \"use\" is \"\(use)\", expected \"sig\"")
        }
        let spki: [UInt8]
        switch (jwk.kty, jwk.crv) {
        case ("EC", "P-256"):
            guard let x = jwk.x.flatMap(Base64URL.decode), let y = jwk.y.flatMap(Base64URL.decode),
                  x.count == 32, y.count == 32
            else {
                throw CryptoError(.invalidJWK, "an EC P-256 JWK needs x and y of 32 bytes each, base64url-encoded")
            }
            spki = SubjectPublicKeyInfo.p256(x: x, y: y)
        case ("OKP", "Ed25519"):
            guard let x = jwk.x.flatMap(Base64URL.decode), x.count == 32 else {
                throw CryptoError(.invalidJWK, "an Ed25519 JWK needs x of 32 bytes, base64url-encoded")
            }
            spki = SubjectPublicKeyInfo.ed25519(x)
        case ("RSA", _):
            guard let n = jwk.n.flatMap(Base64URL.decode), let e = jwk.e.flatMap(Base64URL.decode),
                  !n.isEmpty, !e.isEmpty, n.count <= 2048, e.count <= 8
            else {
                throw CryptoError(.invalidJWK, "an RSA JWK needs n and e, base64url-encoded")
            }
            spki = SubjectPublicKeyInfo.rsa(modulus: n, exponent: e)
        default:
            throw CryptoError(.invalidJWK, "unsupported JWK: kty \"\(jwk.kty)\" crv \"\(jwk.crv ?? "")\"; Tessera accepts EC P-256, OKP Ed25519 and RSA")
        }
        let parsed: OpaquePointer
        do {
            parsed = try parsePublicKeyDER(spki)
        } catch {
            throw CryptoError(.invalidJWK, "the \(jwk.kty) JWK is not a valid public key: \(error.message)")
        }
        try self.init(key: EVPKey(taking: parsed))
        if let alg = jwk.alg {
            guard let algorithm = SignatureAlgorithm(jwsName: alg), supports(algorithm) else {
                throw CryptoError(.invalidJWK, "JWK \"alg\" \"\(alg)\" is not a supported signature algorithm for this key")
            }
        }
    }
}

/// Encodes public keys as DER SubjectPublicKeyInfo (RFC 5280, RFC 5480, RFC 8410, RFC 8017),
/// the one form OpenSSL parses with full validation. Building DER here avoids handing OpenSSL
/// parameter builders pointers whose lifetime Swift does not guarantee.
enum SubjectPublicKeyInfo {
    /// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING header } for a 65-byte point.
    private static let p256Prefix: [UInt8] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01,
        0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ]
    /// SEQUENCE { SEQUENCE { id-Ed25519 }, BIT STRING header } for a 32-byte key.
    private static let ed25519Prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
    /// SEQUENCE { rsaEncryption, NULL }.
    private static let rsaAlgorithm: [UInt8] = [
        0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00,
    ]

    static func p256(x: [UInt8], y: [UInt8]) -> [UInt8] {
        p256Prefix + [0x04] + x + y
    }

    static func ed25519(_ x: [UInt8]) -> [UInt8] {
        ed25519Prefix + x
    }

    static func rsa(modulus: [UInt8], exponent: [UInt8]) -> [UInt8] {
        let publicKey = tlv(0x30, integer(modulus) + integer(exponent))
        return tlv(0x30, rsaAlgorithm + tlv(0x03, [0x00] + publicKey))
    }

    private static func integer(_ magnitude: [UInt8]) -> [UInt8] {
        var content = Array(magnitude.drop { $0 == 0 })
        if content.isEmpty { content = [0] }
        if content[0] & 0x80 != 0 { content.insert(0, at: 0) }
        return tlv(0x02, content)
    }

    private static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        [tag] + length(content.count) + content
    }

    private static func length(_ count: Int) -> [UInt8] {
        if count < 0x80 { return [UInt8(count)] }
        var bytes: [UInt8] = []
        var remaining = count
        while remaining > 0 {
            bytes.insert(UInt8(remaining & 0xFF), at: 0)
            remaining >>= 8
        }
        return [0x80 | UInt8(bytes.count)] + bytes
    }
}
