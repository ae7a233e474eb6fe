internal import COpenSSL

/// One raw OpenSSL signature or verification with every per-key cost paid up front: the floor
/// Tessera's own signing and verification are measured against (DESIGN.md, performance model).
///
/// ES256, RS256 and PS256 call `EVP_PKEY_sign` / `EVP_PKEY_verify` on one reused, pre-initialised
/// `EVP_PKEY_CTX` over a precomputed SHA-256 digest, which is what `openssl speed` measures.
/// Ed25519 has no pre-hash form: one reused `EVP_MD_CTX` is re-initialised without a key (the
/// cheap path that keeps the fetched algorithm and key) and signs or verifies the whole message.
///
/// Benchmarks only: it is not `Sendable` and keeps mutable buffers, so use one per thread.
public final class OpenSSLBaseline {
    public enum Operation: String, Sendable {
        case sign
        case verify
    }

    public let algorithm: SignatureAlgorithm
    public let operation: Operation
    /// The private key for signing, its public half for verifying (as Tessera verifies).
    private let key: EVPKey
    private let message: [UInt8]
    private let digest: [UInt8]
    /// A valid signature of `message` in OpenSSL's form (DER for ECDSA), for verifying.
    private let signature: [UInt8]
    /// Reused output buffer, so signing allocates nothing per call.
    private var output: [UInt8]
    private let prehashContext: OpaquePointer?
    private let messageContext: OpaquePointer?

    /// Prepares `operation` for `algorithm` with `key` over `message` (pass a realistic JWS
    /// signing input: Ed25519 cost grows with it; the pre-hash algorithms sign its digest).
    public init(key: PrivateKey, algorithm: SignatureAlgorithm, operation: Operation, message: [UInt8]) throws(CryptoError) {
        self.algorithm = algorithm
        self.operation = operation
        self.message = message
        digest = SHA256.hash(message)
        let jwsSignature = try Signer(key: key, algorithm: algorithm).sign(message)
        signature = algorithm == .es256 ? try ECDSASignature.der(fromRaw: jwsSignature) : jwsSignature
        self.key = operation == .sign ? key.key : try key.publicKey().key
        output = [UInt8](repeating: 0, count: 1024)  // larger than any signature of a supported key

        if algorithm == .edDSA {
            prehashContext = nil
            messageContext = try Self.makeMessageContext(key: self.key, operation: operation)
        } else {
            messageContext = nil
            prehashContext = try self.key.withPointer { pointer throws(CryptoError) in
                try makePrehashContext(key: pointer, algorithm: algorithm, forSigning: operation == .sign)
            }
        }
        try run()  // fail here, not in the middle of a measurement
    }

    deinit {
        if let prehashContext { EVP_PKEY_CTX_free(prehashContext) }
        if let messageContext { EVP_MD_CTX_free(messageContext) }
    }

    /// The OpenSSL library in use, e.g. "OpenSSL 3.0.19 27 Jan 2026".
    public static var version: String {
        String(cString: OpenSSL_version(OPENSSL_VERSION))
    }

    /// Performs the operation once; throws if OpenSSL fails or a verification is not valid.
    public func run() throws(CryptoError) {
        switch (prehashContext, messageContext) {
        case (let context?, _): try runPrehashed(context)
        case (_, let context?): try runEd25519(context)
        default: preconditionFailure("a baseline always holds one context")
        }
    }

    private func runPrehashed(_ context: OpaquePointer) throws(CryptoError) {
        switch operation {
        case .sign:
            var length = output.count
            try check(EVP_PKEY_sign(context, &output, &length, digest, digest.count), "raw signing")
        case .verify:
            try check(EVP_PKEY_verify(context, signature, signature.count, digest, digest.count), "raw verification")
        }
    }

    private func runEd25519(_ context: OpaquePointer) throws(CryptoError) {
        // A one-shot EVP_DigestSign/Verify finishes the context; a key-less re-init reuses it.
        switch operation {
        case .sign:
            try check(EVP_DigestSignInit_ex(context, nil, nil, nil, nil, nil, nil), "re-initialising Ed25519 signing")
            var length = output.count
            try check(EVP_DigestSign(context, &output, &length, message, message.count), "raw Ed25519 signing")
        case .verify:
            try check(EVP_DigestVerifyInit_ex(context, nil, nil, nil, nil, nil, nil), "re-initialising Ed25519 verification")
            try check(EVP_DigestVerify(context, signature, signature.count, message, message.count), "raw Ed25519 verification")
        }
    }

    private static func makeMessageContext(key: EVPKey, operation: Operation) throws(CryptoError) -> OpaquePointer {
        let context = try checkNotNil(EVP_MD_CTX_new(), "allocating a digest context")
        do {
            try key.withPointer { pointer throws(CryptoError) in
                switch operation {
                case .sign:
                    try check(EVP_DigestSignInit_ex(context, nil, nil, nil, nil, pointer, nil), "initialising Ed25519 signing")
                case .verify:
                    try check(EVP_DigestVerifyInit_ex(context, nil, nil, nil, nil, pointer, nil), "initialising Ed25519 verification")
                }
            }
            return context
        } catch {
            EVP_MD_CTX_free(context)
            throw error
        }
    }
}
