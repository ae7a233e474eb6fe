/// The JWS algorithms Tessera signs and verifies with (RFC 7518, RFC 8037). HMAC and `none`
/// are deliberately absent: a JWS naming them can never find a key (RFC 8725 §3.1, §3.2).
public enum SignatureAlgorithm: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case es256 = "ES256"
    case edDSA = "EdDSA"
    case rs256 = "RS256"
    case ps256 = "PS256"

    public var description: String { rawValue }

    /// Parses a JWS `alg` value; exact and case-sensitive as RFC 7515 requires.
    public init?(jwsName: String) {
        self.init(rawValue: jwsName)
    }

    public var jwsName: String { rawValue }

    /// The key family this algorithm needs.
    public var keyFamily: KeyFamily {
        switch self {
        case .es256: .p256
        case .edDSA: .ed25519
        case .rs256, .ps256: .rsa
        }
    }
}

/// The kind of key material behind a key, independent of how it is used to sign.
public enum KeyFamily: String, Sendable, Hashable {
    case p256 = "EC P-256"
    case ed25519 = "Ed25519"
    case rsa = "RSA"
}

/// Parameters for generating a new signing key.
public enum KeySpec: Sendable, Hashable {
    case p256
    case ed25519
    case rsa(bits: Int)

    /// The default spec for an algorithm: RSA keys are 2048 bits unless asked otherwise.
    public static func defaultSpec(for algorithm: SignatureAlgorithm, rsaBits: Int = 2048) -> KeySpec {
        switch algorithm.keyFamily {
        case .p256: .p256
        case .ed25519: .ed25519
        case .rsa: .rsa(bits: rsaBits)
        }
    }
}
