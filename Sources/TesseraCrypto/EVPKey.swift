internal import COpenSSL

/// Owns one `EVP_PKEY` and frees it exactly once. The pointer is reachable only inside
/// `withPointer`, so no caller can keep it past the owner's life.
///
/// `@unchecked Sendable` is safe because the key is never mutated after init: OpenSSL 3
/// allows concurrent sign and verify operations on a shared, read-only `EVP_PKEY`.
final class EVPKey: @unchecked Sendable {
    private let pointer: OpaquePointer

    /// Takes ownership of a key the caller just obtained from OpenSSL.
    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    func withPointer<R, E: Error>(_ body: (OpaquePointer) throws(E) -> R) throws(E) -> R {
        try body(pointer)
    }

    /// The key family, or nil for a key type Tessera does not sign with.
    var family: KeyFamily? {
        withPointer { key in
            if EVP_PKEY_is_a(key, "ED25519") == 1 { return .ed25519 }
            if EVP_PKEY_is_a(key, "RSA") == 1 { return .rsa }
            if EVP_PKEY_is_a(key, "EC") == 1 {
                var name = [CChar](repeating: 0, count: 64)
                var length = 0
                guard EVP_PKEY_get_utf8_string_param(key, "group", &name, name.count, &length) == 1 else {
                    drainOpenSSLErrors()
                    return nil
                }
                let group = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                return (group == "prime256v1" || group == "P-256") ? .p256 : nil
            }
            return nil
        }
    }

    var bits: Int {
        withPointer { Int(EVP_PKEY_get_bits($0)) }
    }

    /// DER SubjectPublicKeyInfo of the public half: the one way public material leaves a key.
    func publicKeyDER() throws(CryptoError) -> [UInt8] {
        try withPointer { key throws(CryptoError) in
            let length = i2d_PUBKEY(key, nil)
            guard length > 0 else { throw CryptoError.openSSL("encoding the public key") }
            var bytes = [UInt8](repeating: 0, count: Int(length))
            let written = bytes.withUnsafeMutableBufferPointer { buffer -> Int32 in
                var cursor = buffer.baseAddress
                return i2d_PUBKEY(key, &cursor)
            }
            guard written == length else { throw CryptoError.openSSL("encoding the public key") }
            return bytes
        }
    }

    /// Reads a big-number parameter (`n`, `e`, `qx`, ...) as unsigned big-endian bytes.
    func bigNumberParameter(_ name: String, paddedTo width: Int = 0) throws(CryptoError) -> [UInt8] {
        try withPointer { key throws(CryptoError) in
            var number: OpaquePointer? = nil
            try check(EVP_PKEY_get_bn_param(key, name, &number), "reading key parameter \(name)")
            guard let number else { throw CryptoError.openSSL("reading key parameter \(name)") }
            defer { BN_free(number) }
            let natural = (Int(BN_num_bits(number)) + 7) / 8
            let size = max(natural, width)
            var bytes = [UInt8](repeating: 0, count: size)
            guard BN_bn2binpad(number, &bytes, Int32(size)) == Int32(size) else {
                throw CryptoError.openSSL("reading key parameter \(name)")
            }
            return bytes
        }
    }

    /// Reads an octet-string parameter such as an Ed25519 public key (`pub`).
    func octetParameter(_ name: String) throws(CryptoError) -> [UInt8] {
        try withPointer { key throws(CryptoError) in
            var length = 0
            try check(EVP_PKEY_get_octet_string_param(key, name, nil, 0, &length), "reading key parameter \(name)")
            var bytes = [UInt8](repeating: 0, count: length)
            try check(EVP_PKEY_get_octet_string_param(key, name, &bytes, length, &length), "reading key parameter \(name)")
            return Array(bytes.prefix(length))
        }
    }
}

/// Runs `body` over a read-only memory BIO holding `bytes`, freeing the BIO afterwards.
func withMemoryBIO<R>(_ bytes: [UInt8], _ body: (OpaquePointer) throws(CryptoError) -> R) throws(CryptoError) -> R {
    try restoringCryptoError {
        try bytes.withUnsafeBytes { buffer -> R in
            let bio = try checkNotNil(BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)), "allocating a memory BIO")
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }
}

/// Runs `body` with a writable memory BIO and returns what it wrote.
func collectingMemoryBIO(_ body: (OpaquePointer) throws(CryptoError) -> Void) throws(CryptoError) -> [UInt8] {
    let bio = try checkNotNil(BIO_new(BIO_s_mem()), "allocating a memory BIO")
    defer { BIO_free(bio) }
    try body(bio)
    var data: UnsafeMutablePointer<CChar>? = nil
    let length = tessera_BIO_get_mem_data(bio, &data)
    guard length > 0, let data else { return [] }
    return data.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
}

/// PEM password callback that refuses: encrypted PEM must never make OpenSSL prompt on a
/// terminal (the default behaviour with a nil callback), so it fails with a clear error instead.
let refusePassphrase: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { _, _, _, _ in -1 }
