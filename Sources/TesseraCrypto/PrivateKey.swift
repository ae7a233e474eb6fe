internal import COpenSSL

/// A private signing key, parsed once into an owned OpenSSL key and reused for every
/// signature (parsing PEM costs ~0.6 ms under OpenSSL 3; a signature ~30 us).
///
/// The private material never leaves this type except through `pkcs8PEM()`, which the key
/// store calls to write the key file.
public final class PrivateKey: Sendable {
    let key: EVPKey
    public let family: KeyFamily
    public let bits: Int

    private init(key: EVPKey) throws(CryptoError) {
        guard let family = key.family else {
            throw CryptoError(.unsupportedKey, "unsupported private key type: Tessera signs with EC P-256, Ed25519 or RSA keys")
        }
        if family == .rsa, key.bits < 2048 {
            throw CryptoError(.unsupportedKey, "RSA keys must have at least 2048 bits, this one has \(key.bits)")
        }
        self.key = key
        self.family = family
        self.bits = key.bits
    }

    /// Generates a new key with OpenSSL's CSPRNG.
    public static func generate(_ spec: KeySpec) throws(CryptoError) -> PrivateKey {
        let algorithmName: String = switch spec {
        case .p256: "EC"
        case .ed25519: "ED25519"
        case .rsa: "RSA"
        }
        let context = try checkNotNil(EVP_PKEY_CTX_new_from_name(nil, algorithmName, nil), "creating a \(algorithmName) key context")
        defer { EVP_PKEY_CTX_free(context) }
        try check(EVP_PKEY_keygen_init(context), "initialising key generation")
        switch spec {
        case .p256:
            try check(EVP_PKEY_CTX_set_group_name(context, "P-256"), "selecting curve P-256")
        case .ed25519:
            break
        case .rsa(let bits):
            guard bits == 2048 || bits == 3072 || bits == 4096 else {
                throw CryptoError(.unsupportedKey, "RSA keys are 2048, 3072 or 4096 bits, not \(bits)")
            }
            try check(EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(bits)), "setting the RSA key size")
        }
        var generated: OpaquePointer? = nil
        try check(EVP_PKEY_generate(context, &generated), "generating a key")
        return try PrivateKey(key: EVPKey(taking: checkNotNil(generated, "generating a key")))
    }

    /// Parses a PEM private key (PKCS#8 or the traditional SEC1/PKCS#1 forms).
    /// Encrypted PEM is refused with an error rather than prompting for a passphrase.
    public convenience init(pem: String) throws(CryptoError) {
        let parsed = try withMemoryBIO(Array(pem.utf8)) { bio throws(CryptoError) in
            try checkNotNil(PEM_read_bio_PrivateKey(bio, nil, refusePassphrase, nil), "reading a PEM private key", code: .invalidKey)
        }
        try self.init(key: EVPKey(taking: parsed))
    }

    /// Parses a DER private key (PKCS#8, or SEC1/PKCS#1).
    public convenience init(der: [UInt8]) throws(CryptoError) {
        let parsed = try restoringCryptoError {
            try der.withUnsafeBufferPointer { buffer in
                var cursor = buffer.baseAddress
                return try checkNotNil(d2i_AutoPrivateKey(nil, &cursor, buffer.count), "reading a DER private key", code: .invalidKey)
            }
        }
        try self.init(key: EVPKey(taking: parsed))
    }

    /// The key as unencrypted PKCS#8 PEM, for writing to a 0600 key file.
    public func pkcs8PEM() throws(CryptoError) -> String {
        let bytes = try collectingMemoryBIO { bio throws(CryptoError) in
            try key.withPointer { pointer throws(CryptoError) in
                try check(PEM_write_bio_PKCS8PrivateKey(bio, pointer, nil, nil, 0, nil, nil), "writing a PKCS#8 key")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The public half, as a separate key object that holds no private material.
    public func publicKey() throws(CryptoError) -> PublicKey {
        try PublicKey(spki: key.publicKeyDER())
    }

    /// Whether this key can sign with `algorithm`.
    public func supports(_ algorithm: SignatureAlgorithm) -> Bool {
        algorithm.keyFamily == family
    }
}
