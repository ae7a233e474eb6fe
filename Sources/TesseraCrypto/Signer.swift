internal import COpenSSL

/// Signs messages with one key and one JWS algorithm, producing signatures in JWS form.
///
/// For ES256, RS256 and PS256 the OpenSSL signing context (algorithm fetch, digest, padding) is
/// prepared once and pooled, which is much cheaper than a fresh `EVP_DigestSignInit` per
/// signature under OpenSSL 3. Ed25519 has no pre-hash form and signs in one shot.
public final class Signer: Sendable {
    public let algorithm: SignatureAlgorithm
    private let key: PrivateKey
    private let contexts: PrehashContextPool?
    /// `EVP_PKEY_get_size`: an upper bound for any signature of this key.
    private let maximumSignatureSize: Int

    public init(key: PrivateKey, algorithm: SignatureAlgorithm) throws(CryptoError) {
        guard key.supports(algorithm) else {
            throw CryptoError(.unsupportedKey, "a \(key.family.rawValue) key cannot sign \(algorithm)")
        }
        self.key = key
        self.algorithm = algorithm
        self.maximumSignatureSize = Int(key.key.withPointer { EVP_PKEY_get_size($0) })
        self.contexts = algorithm == .edDSA ? nil : PrehashContextPool(template: try key.key.withPointer { pointer throws(CryptoError) in
            try makePrehashContext(key: pointer, algorithm: algorithm, forSigning: true)
        })
    }

    public func sign(_ message: [UInt8]) throws(CryptoError) -> [UInt8] {
        try restoringCryptoError { try message.withUnsafeBytes { buffer in try sign(buffer: buffer) } }
    }

    public func sign(buffer message: UnsafeRawBufferPointer) throws(CryptoError) -> [UInt8] {
        guard let contexts else { return try signEd25519(message) }
        let digest = SHA256.hash(buffer: message)
        // The key's maximum signature size is known since init: no sizing call per signature.
        var signature = [UInt8](repeating: 0, count: maximumSignatureSize)
        var length = signature.count
        let signed = contexts.withContext { context in
            EVP_PKEY_sign(context, &signature, &length, digest, digest.count) == 1 ? true : nil
        }
        guard signed != nil else { throw CryptoError.openSSL("signing") }
        signature.removeSubrange(length...)
        return algorithm == .es256 ? try ECDSASignature.raw(fromDER: signature) : signature
    }

    private func signEd25519(_ message: UnsafeRawBufferPointer) throws(CryptoError) -> [UInt8] {
        let context = try checkNotNil(EVP_MD_CTX_new(), "allocating a digest context")
        defer { EVP_MD_CTX_free(context) }
        try key.key.withPointer { pointer throws(CryptoError) in
            try check(EVP_DigestSignInit_ex(context, nil, nil, nil, nil, pointer, nil), "initialising Ed25519 signing")
        }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = signature.count
        let bytes = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
        try check(EVP_DigestSign(context, &signature, &length, bytes, message.count), "signing with Ed25519")
        return Array(signature.prefix(length))
    }
}

/// A context for signing or verifying a SHA-256 digest with ECDSA or RSA, configured for the
/// JWS algorithm (RFC 7518: PKCS#1 v1.5 for RS256; PSS with MGF1-SHA-256 and a 32-byte salt
/// for PS256). The caller owns the returned context.
func makePrehashContext(key: OpaquePointer, algorithm: SignatureAlgorithm, forSigning: Bool) throws(CryptoError) -> OpaquePointer {
    let context = try checkNotNil(EVP_PKEY_CTX_new_from_pkey(nil, key, nil), "creating a signature context")
    do {
        if forSigning {
            try check(EVP_PKEY_sign_init(context), "initialising signing")
        } else {
            try check(EVP_PKEY_verify_init(context), "initialising verification")
        }
        try check(EVP_PKEY_CTX_set_signature_md(context, MessageDigests.sha256.pointer), "selecting SHA-256")
        switch algorithm {
        case .rs256:
            try check(EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING), "selecting PKCS#1 v1.5 padding")
        case .ps256:
            try check(EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PSS_PADDING), "selecting PSS padding")
            try check(EVP_PKEY_CTX_set_rsa_pss_saltlen(context, RSA_PSS_SALTLEN_DIGEST), "setting the PSS salt length")
            try check(EVP_PKEY_CTX_set_rsa_mgf1_md(context, MessageDigests.sha256.pointer), "selecting MGF1-SHA-256")
        case .es256, .edDSA:
            break
        }
        return context
    } catch {
        EVP_PKEY_CTX_free(context)
        throw error
    }
}
