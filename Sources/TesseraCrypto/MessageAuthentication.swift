internal import COpenSSL

/// An HMAC-SHA256 key: authenticates data that is not secret but must not change without the
/// key (the database's signing-key set). The key bytes live in a buffer this type owns, zeroed
/// when the last copy goes away; they never leave it.
public struct MessageAuthenticationKey: Sendable {
    public static let tagCount = 32

    private let secret: SecretBytes

    init(secret: SecretBytes) {
        self.secret = secret
    }

    /// A key from bytes held elsewhere (a webhook signing secret read from the policy bundle);
    /// copied into a buffer of its own. An empty key is refused: `HMAC()` would read it as none.
    public init(bytes: [UInt8]) throws(CryptoError) {
        guard !bytes.isEmpty else { throw CryptoError(.invalidArgument, "HMAC-SHA256 needs a key") }
        self.init(secret: SecretBytes(copying: bytes))
    }

    /// HMAC-SHA256 of `message`.
    public func tag(_ message: [UInt8]) throws(CryptoError) -> [UInt8] {
        try secret.withBytes { key throws(CryptoError) in
            try restoringCryptoError { try message.withUnsafeBytes { message in try hmacSHA256(key: key, message: message) } }
        }
    }

    /// Whether `tag` is the HMAC of `message`, compared in constant time: a forger learns
    /// nothing from how long a wrong guess takes to refuse.
    public func isValid(_ tag: [UInt8], for message: [UInt8]) -> Bool {
        guard let expected = try? self.tag(message) else { return false }
        return ConstantTime.equals(expected, tag)
    }
}

/// HKDF-SHA256 (RFC 5869): extract with `salt` (none: 32 zero bytes, as the RFC says), then
/// expand with `info` to `count` bytes, returned in a buffer that zeroes itself. The
/// intermediate keys are zeroed before returning.
func hkdfSHA256(inputKey: UnsafeRawBufferPointer, salt: [UInt8], info: [UInt8], count: Int) throws(CryptoError) -> SecretBytes {
    guard count > 0, count <= 255 * SHA256.byteCount else {
        throw CryptoError(.invalidArgument, "HKDF-SHA256 derives 1 to \(255 * SHA256.byteCount) bytes, not \(count)")
    }
    let extractSalt = salt.isEmpty ? [UInt8](repeating: 0, count: SHA256.byteCount) : salt
    var pseudorandomKey = try restoringCryptoError { try extractSalt.withUnsafeBytes { salt in try hmacSHA256(key: salt, message: inputKey) } }
    defer { zero(&pseudorandomKey) }
    return try SecretBytes(count: count) { output throws(CryptoError) in
        var block: [UInt8] = []
        defer { zero(&block) }
        var written = 0
        var counter: UInt8 = 1
        while written < count {
            // T(i) = HMAC(PRK, T(i-1) | info | i)
            var message = block + info + [counter]
            defer { zero(&message) }
            block = try restoringCryptoError {
                try pseudorandomKey.withUnsafeBytes { key in try message.withUnsafeBytes { message in try hmacSHA256(key: key, message: message) } }
            }
            let taken = min(block.count, count - written)
            for index in 0..<taken { output[written + index] = block[index] }
            written += taken
            counter &+= 1
        }
    }
}

/// One-shot HMAC-SHA256 through OpenSSL's `HMAC()`. Keys here are never empty (a KEK, a
/// derived key, HKDF's 32-byte salt); an empty one is refused rather than passed as NULL,
/// which `HMAC()` reads as "no key".
func hmacSHA256(key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) throws(CryptoError) -> [UInt8] {
    guard let keyBytes = key.baseAddress, !key.isEmpty else {
        throw CryptoError(.invalidArgument, "HMAC-SHA256 needs a key")
    }
    var tag = [UInt8](repeating: 0, count: SHA256.byteCount)
    var length: UInt32 = 0
    // HMAC() takes a data pointer even for an empty message; any valid address does.
    let result = withUnsafeBytes(of: 0 as UInt8) { placeholder in
        HMAC(MessageDigests.sha256.pointer, keyBytes, Int32(key.count),
             (message.baseAddress ?? placeholder.baseAddress!).assumingMemoryBound(to: UInt8.self), message.count, &tag, &length)
    }
    guard result != nil, length == UInt32(SHA256.byteCount) else {
        throw CryptoError.openSSL("computing HMAC-SHA256")
    }
    return tag
}
