internal import COpenSSL

/// A public verification key: EC P-256, Ed25519 or RSA (at least 2048 bits).
///
/// Verification binds the algorithm to the key (RFC 8725 §3.1): `verifier(for:)` refuses an
/// algorithm the key family cannot use, so a token's header can never pick the algorithm.
public final class PublicKey: Sendable, Hashable {
    let key: EVPKey
    public let family: KeyFamily
    public let bits: Int
    /// DER SubjectPublicKeyInfo: the canonical identity of the key.
    public let spki: [UInt8]

    init(key: EVPKey) throws(CryptoError) {
        guard let family = key.family else {
            throw CryptoError(.unsupportedKey, "unsupported public key type: Tessera verifies EC P-256, Ed25519 or RSA keys")
        }
        if family == .rsa, key.bits < 2048 {
            throw CryptoError(.unsupportedKey, "RSA keys must have at least 2048 bits, this one has \(key.bits)")
        }
        self.key = key
        self.family = family
        self.bits = key.bits
        self.spki = try key.publicKeyDER()
    }

    /// Parses a DER SubjectPublicKeyInfo.
    public convenience init(spki: [UInt8]) throws(CryptoError) {
        try self.init(key: EVPKey(taking: parsePublicKeyDER(spki)))
    }

    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    public convenience init(pem: String) throws(CryptoError) {
        let parsed = try withMemoryBIO(Array(pem.utf8)) { bio throws(CryptoError) in
            try checkNotNil(PEM_read_bio_PUBKEY(bio, nil, refusePassphrase, nil), "reading a PEM public key", code: .invalidKey)
        }
        try self.init(key: EVPKey(taking: parsed))
    }

    /// The key as a PEM `PUBLIC KEY`, the form C verifiers such as libjwt take.
    public func pem() throws(CryptoError) -> String {
        let bytes = try collectingMemoryBIO { bio throws(CryptoError) in
            try key.withPointer { pointer throws(CryptoError) in
                try check(PEM_write_bio_PUBKEY(bio, pointer), "writing a PEM public key")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func supports(_ algorithm: SignatureAlgorithm) -> Bool {
        algorithm.keyFamily == family
    }

    /// A verifier for `algorithm`, with its OpenSSL context prepared once.
    public func verifier(for algorithm: SignatureAlgorithm) throws(CryptoError) -> SignatureVerifier {
        try SignatureVerifier(key: self, algorithm: algorithm)
    }

    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool { lhs.spki == rhs.spki }
    public func hash(into hasher: inout Hasher) { hasher.combine(spki) }
}

/// Verifies JWS signatures for one key and one algorithm.
///
/// Never answers true on an internal error: only an OpenSSL result of exactly 1 counts as a
/// valid signature, and every error path answers false after draining the error queue.
///
public final class SignatureVerifier: Sendable {
    public let algorithm: SignatureAlgorithm
    public let key: PublicKey
    private let contexts: PrehashContextPool?

    init(key: PublicKey, algorithm: SignatureAlgorithm) throws(CryptoError) {
        guard key.supports(algorithm) else {
            throw CryptoError(.unsupportedKey, "a \(key.family.rawValue) key cannot verify \(algorithm)")
        }
        self.key = key
        self.algorithm = algorithm
        self.contexts = algorithm == .edDSA ? nil : PrehashContextPool(template: try key.key.withPointer { pointer throws(CryptoError) in
            try makePrehashContext(key: pointer, algorithm: algorithm, forSigning: false)
        })
    }

    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        message.withUnsafeBytes { verify(signature: signature, message: $0) }
    }

    public func verify(signature: [UInt8], message: UnsafeRawBufferPointer) -> Bool {
        let valid: Bool
        switch algorithm {
        case .edDSA:
            valid = verifyEd25519(signature: signature, message: message)
        case .es256:
            guard let der = try? ECDSASignature.der(fromRaw: signature) else { return false }
            valid = verifyPrehashed(signature: der, message: message)
        case .rs256, .ps256:
            // RFC 7518 §3.3: the signature is exactly the modulus length.
            guard signature.count == (key.bits + 7) / 8 else { return false }
            valid = verifyPrehashed(signature: signature, message: message)
        }
        if !valid { drainOpenSSLErrors() }
        return valid
    }

    private func verifyPrehashed(signature: [UInt8], message: UnsafeRawBufferPointer) -> Bool {
        guard let contexts else { return false }
        let digest = SHA256.hash(buffer: message)
        // 1 is a valid signature, 0 an invalid one (the context stays usable); anything else is
        // an error, and the pool drops the context.
        let result = contexts.withContext { context -> Int32? in
            let status = EVP_PKEY_verify(context, signature, signature.count, digest, digest.count)
            return status == 0 || status == 1 ? status : nil
        }
        return result == 1
    }

    private func verifyEd25519(signature: [UInt8], message: UnsafeRawBufferPointer) -> Bool {
        guard signature.count == 64, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        let initialised = key.key.withPointer { EVP_DigestVerifyInit_ex(context, nil, nil, nil, nil, $0, nil) }
        guard initialised == 1 else { return false }
        let bytes = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
        return EVP_DigestVerify(context, signature, signature.count, bytes, message.count) == 1
    }
}

/// Parses a DER SubjectPublicKeyInfo completely (no trailing bytes) and checks the key, which
/// for EC means the point lies on the curve. The caller owns the returned key.
func parsePublicKeyDER(_ der: [UInt8]) throws(CryptoError) -> OpaquePointer {
    let parsed = try restoringCryptoError {
        try der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            let key = try checkNotNil(d2i_PUBKEY(nil, &cursor, buffer.count), "reading a DER public key", code: .invalidKey)
            guard cursor == buffer.baseAddress.map({ $0 + buffer.count }) else {
                EVP_PKEY_free(key)
                throw CryptoError(.invalidKey, "trailing bytes after the DER public key")
            }
            return key
        }
    }
    let checkContext = EVP_PKEY_CTX_new_from_pkey(nil, parsed, nil)
    defer { EVP_PKEY_CTX_free(checkContext) }
    guard let checkContext, EVP_PKEY_public_check(checkContext) == 1 else {
        EVP_PKEY_free(parsed)
        throw CryptoError.openSSL("checking the public key", code: .invalidKey)
    }
    return parsed
}
