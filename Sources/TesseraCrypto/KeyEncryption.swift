internal import COpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The key-encryption key (KEK): 32 bytes that seal signing keys at rest. Never stored beside what it seals.
///
/// Sealing is AES-256-GCM through OpenSSL's EVP interface. A sealed key is
/// `"TKE1" | fingerprint (8) | nonce (12) | ciphertext | tag (16)`; the GCM additional data is the
/// 12-byte header (magic and fingerprint) followed by the caller's `associatedData`, so neither the
/// format version nor the record the key belongs to can be changed without the tag failing.
///
/// The key bytes live in a buffer this type owns, zeroed when the last copy of the key goes away;
/// they leave it only through `encoded` (for writing a new KEK file).
public struct KeyEncryptionKey: Sendable {
    public static let byteCount = 32
    static let magic: [UInt8] = Array("TKE1".utf8)
    static let fingerprintCount = 8
    static let nonceCount = 12
    static let tagCount = 16
    static let headerCount = magic.count + fingerprintCount
    /// Magic, fingerprint, nonce and tag: what sealing adds to the plaintext.
    static let overhead = headerCount + nonceCount + tagCount

    private let secret: SecretBytes
    private let fingerprintBytes: [UInt8]

    private init(secret: SecretBytes) {
        self.secret = secret
        self.fingerprintBytes = secret.withBytes { Array(SHA256.hash(buffer: $0).prefix(Self.fingerprintCount)) }
    }

    /// Exactly 32 bytes, else a clear error (which gives the length, never the bytes).
    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw CryptoError(.invalidKeyEncryptionKey, "a key-encryption key is \(Self.byteCount) bytes, not \(bytes.count)")
        }
        self.init(secret: SecretBytes(copying: bytes))
    }

    /// Text of a KEK file or environment variable: base64 (standard or url-safe, padding optional) of 32 bytes,
    /// or 64 hex digits; surrounding whitespace ignored. Errors never echo the secret.
    public init(encoded: String) throws(CryptoError) {
        var text = Array(encoded.utf8)
        defer { zero(&text) }
        try self.init(utf8: text[...])
    }

    /// The text forms of `init(encoded:)`, from bytes the caller zeroes.
    init(utf8 text: ArraySlice<UInt8>) throws(CryptoError) {
        let trimmed = Self.trimmingWhitespace(text)
        guard !trimmed.isEmpty else {
            throw CryptoError(.invalidKeyEncryptionKey,
                              "the key-encryption key is empty: expected base64 of \(Self.byteCount) bytes or \(Self.byteCount * 2) hex digits")
        }
        // 64 hex digits cannot be the base64 of 32 bytes (43 or 44 characters), so the forms never overlap.
        guard var bytes = Self.decodeHex(trimmed) ?? Self.decodeBase64(trimmed) else {
            throw CryptoError(.invalidKeyEncryptionKey, "the key-encryption key is neither base64 nor \(Self.byteCount * 2) hex digits "
                                  + "(\(trimmed.count) characters)")
        }
        defer { zero(&bytes) }
        guard bytes.count == Self.byteCount else {
            throw CryptoError(.invalidKeyEncryptionKey,
                              "the key-encryption key decodes to \(bytes.count) bytes; it must be \(Self.byteCount)")
        }
        self.init(secret: SecretBytes(copying: bytes))
    }

    /// Reads a KEK file; refuses a file readable by group or others (like private keys), naming the path.
    ///
    /// The mode is checked on the opened file (`fstat`), so the file checked is the file read.
    public static func load(path: String) throws(CryptoError) -> KeyEncryptionKey {
        var contents = try readPrivateFile(path: path, what: "key-encryption key file", limit: 4096)
        defer { zero(&contents) }
        do throws(CryptoError) {
            return try KeyEncryptionKey(utf8: contents[...])
        } catch {
            throw CryptoError(error.code, "\(path): \(error.message)")
        }
    }

    public static func generate() throws(CryptoError) -> KeyEncryptionKey {
        let secret = try SecretBytes(count: byteCount) { buffer throws(CryptoError) in
            guard RAND_bytes(buffer.baseAddress, Int32(buffer.count)) == 1 else {
                throw CryptoError.openSSL("generating a key-encryption key", code: .randomFailure)
            }
        }
        return KeyEncryptionKey(secret: secret)
    }

    /// Base64url without padding, for writing a new KEK.
    public var encoded: String {
        secret.withBytes { Base64URL.encode($0) }
    }

    /// A short public identifier (first 8 bytes of SHA-256 over the key, hex), safe to log.
    public var fingerprint: String {
        Self.hex(fingerprintBytes)
    }

    /// A key for `purpose`, derived from the KEK with HKDF-SHA256 (RFC 5869, no salt, `purpose`
    /// as the info). The raw KEK keys AES-GCM only; every other use gets a key of its own, so no
    /// key serves two algorithms, and tags made for one purpose mean nothing for another.
    public func authenticationKey(purpose: String) throws(CryptoError) -> MessageAuthenticationKey {
        let derived = try secret.withBytes { key throws(CryptoError) in
            try hkdfSHA256(inputKey: key, salt: [], info: Array(purpose.utf8), count: MessageAuthenticationKey.tagCount)
        }
        return MessageAuthenticationKey(secret: derived)
    }

    /// Seals `plaintext`: "TKE1" magic (4 bytes) | fingerprint bytes (8) | random 12-byte nonce | ciphertext | 16-byte tag.
    /// `associatedData` (e.g. the kid) is authenticated, so a sealed key cannot be swapped to another record.
    ///
    /// The nonce is random: with 96 bits, the chance of a repeat stays negligible for far more
    /// seals than a key store ever makes under one KEK.
    public func seal(_ plaintext: [UInt8], associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard plaintext.count <= Self.maximumPlaintext else {
            throw CryptoError(.invalidArgument, "cannot seal \(plaintext.count) bytes: at most \(Self.maximumPlaintext)")
        }
        var nonce = [UInt8](repeating: 0, count: Self.nonceCount)
        guard RAND_bytes(&nonce, Int32(nonce.count)) == 1 else {
            throw CryptoError.openSSL("generating a nonce", code: .randomFailure)
        }
        let header = Self.magic + fingerprintBytes
        var sealed = header + nonce
        let context = try gcmContext(encrypting: true, nonce: nonce, authenticated: header + associatedData)
        defer { EVP_CIPHER_CTX_free(context) }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count)
        var written: Int32 = 0
        if !plaintext.isEmpty {
            try check(EVP_EncryptUpdate(context, &ciphertext, &written, plaintext, Int32(plaintext.count)), "encrypting")
        }
        var finalCount: Int32 = 0
        var end = [UInt8](repeating: 0, count: 16)
        try check(EVP_EncryptFinal_ex(context, &end, &finalCount), "finishing encryption")
        guard Int(written) + Int(finalCount) == plaintext.count else {
            throw CryptoError(.openSSL, "AES-256-GCM wrote \(Int(written) + Int(finalCount)) bytes for \(plaintext.count)")
        }
        var tag = [UInt8](repeating: 0, count: Self.tagCount)
        try check(EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(Self.tagCount), &tag), "reading the GCM tag")
        sealed += ciphertext
        sealed += tag
        return sealed
    }

    /// Opens what `seal` produced. Distinct, clear errors: not sealed by Tessera (bad magic/too short);
    /// sealed with a different key-encryption key (fingerprint mismatch: say which fingerprint it expects);
    /// authentication failed (tampered, or wrong associated data).
    public func open(_ sealed: [UInt8], associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard Self.isSealed(sealed) else {
            throw CryptoError(.notSealed, "not a key sealed by Tessera (expected \"TKE1\" and at least \(Self.overhead) bytes)")
        }
        let sealedFingerprint = Array(sealed[Self.magic.count..<Self.headerCount])
        guard sealedFingerprint == fingerprintBytes else {
            throw CryptoError(.wrongKeyEncryptionKey, "the key was sealed with the key-encryption key of fingerprint "
                                  + "\(Self.hex(sealedFingerprint)), not with this one (\(fingerprint))")
        }
        let header = Array(sealed[..<Self.headerCount])
        let nonce = Array(sealed[Self.headerCount..<Self.headerCount + Self.nonceCount])
        let ciphertext = Array(sealed[(Self.headerCount + Self.nonceCount)..<(sealed.count - Self.tagCount)])
        var tag = Array(sealed.suffix(Self.tagCount))
        let context = try gcmContext(encrypting: false, nonce: nonce, authenticated: header + associatedData)
        defer { EVP_CIPHER_CTX_free(context) }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        var written: Int32 = 0
        if !ciphertext.isEmpty {
            try check(EVP_DecryptUpdate(context, &plaintext, &written, ciphertext, Int32(ciphertext.count)), "decrypting")
        }
        try check(EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(Self.tagCount), &tag), "setting the GCM tag")
        var finalCount: Int32 = 0
        var end = [UInt8](repeating: 0, count: 16)
        guard EVP_DecryptFinal_ex(context, &end, &finalCount) > 0, Int(written) + Int(finalCount) == ciphertext.count else {
            // Whatever was decrypted is unauthenticated: it must not linger.
            zero(&plaintext)
            zero(&end)
            drainOpenSSLErrors()
            throw CryptoError(.authenticationFailed,
                              "the sealed key failed authentication: it was altered, or belongs to another record (associated data)")
        }
        return plaintext
    }

    /// An AES-256-GCM context keyed with this KEK and `nonce`, with `authenticated` (the header
    /// and the caller's associated data) fed in, ready for one seal or open. The caller frees it.
    private func gcmContext(encrypting: Bool, nonce: [UInt8], authenticated: [UInt8]) throws(CryptoError) -> OpaquePointer {
        let context = try checkNotNil(EVP_CIPHER_CTX_new(), "creating a cipher context")
        do {
            try secret.withBytes { key throws(CryptoError) in
                let keyBytes = key.baseAddress?.assumingMemoryBound(to: UInt8.self)
                let status = encrypting
                    ? EVP_EncryptInit_ex2(context, Cipher.aes256GCM.pointer, keyBytes, nonce, nil)
                    : EVP_DecryptInit_ex2(context, Cipher.aes256GCM.pointer, keyBytes, nonce, nil)
                try check(status, "initialising AES-256-GCM")
            }
            try Self.addAssociatedData(authenticated, to: context, operation: encrypting ? "sealing" : "opening")
        } catch {
            EVP_CIPHER_CTX_free(context)
            throw error
        }
        return context
    }

    /// The fingerprint of the KEK that sealed `sealed` (public, in its header), nil if it is not sealed.
    public static func sealingFingerprint(_ sealed: [UInt8]) -> String? {
        guard isSealed(sealed) else { return nil }
        return hex(Array(sealed[magic.count..<headerCount]))
    }

    public static func isSealed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= overhead && bytes.starts(with: magic)
    }

    static let armorBegin = "-----BEGIN TESSERA ENCRYPTED PRIVATE KEY-----"
    static let armorEnd = "-----END TESSERA ENCRYPTED PRIVATE KEY-----"

    /// Armored text for files: "-----BEGIN TESSERA ENCRYPTED PRIVATE KEY-----\n" + base64 in 64-column lines + "\n-----END TESSERA ENCRYPTED PRIVATE KEY-----\n"
    public static func armor(_ sealed: [UInt8]) -> String {
        let body = Array(standardBase64(sealed).utf8)
        var lines: [String] = []
        for start in stride(from: 0, to: body.count, by: 64) {
            lines.append(String(decoding: body[start..<min(start + 64, body.count)], as: UTF8.self))
        }
        return armorBegin + "\n" + lines.joined(separator: "\n") + "\n" + armorEnd + "\n"
    }

    /// The sealed bytes of an armored text, nil if the text is not armored that way.
    /// Lines may end in CRLF; blank lines and surrounding whitespace are ignored.
    public static func unarmor(_ text: String) -> [UInt8]? {
        let lines = text.split(whereSeparator: \.isNewline)
            .map { String(decoding: trimmingWhitespace(Array($0.utf8)[...]), as: UTF8.self) }
            .filter { !$0.isEmpty }
        guard lines.count >= 2, lines.first == armorBegin, lines.last == armorEnd else { return nil }
        let body = lines.dropFirst().dropLast().joined()
        guard !body.isEmpty else { return nil }
        return decodeBase64(Array(body.utf8)[...])
    }

    // MARK: Helpers

    /// EVP takes lengths as `int`.
    static let maximumPlaintext = Int(Int32.max) - 64

    private static func addAssociatedData(_ data: [UInt8], to context: OpaquePointer, operation: String) throws(CryptoError) {
        var ignored: Int32 = 0
        try check(EVP_CipherUpdate(context, nil, &ignored, data, Int32(data.count)), "\(operation): authenticating the associated data")
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0B || byte == 0x0C
    }

    static func trimmingWhitespace(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let first = bytes.firstIndex(where: { !isWhitespace($0) }), let last = bytes.lastIndex(where: { !isWhitespace($0) }) else {
            return bytes[bytes.endIndex...]
        }
        return bytes[first...last]
    }

    /// Exactly 64 hex digits (either case), else nil.
    static func decodeHex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count == byteCount * 2 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(byteCount)
        var index = text.startIndex
        while index < text.endIndex {
            guard let high = value(text[index]), let low = value(text[index + 1]) else {
                zero(&out)
                return nil
            }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    /// Base64 in the standard or the url-safe alphabet (not both at once), padded or not; when
    /// padded, the padding must be right. Nil for anything else.
    static func decodeBase64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var body = text
        var padding = 0
        while body.last == UInt8(ascii: "=") {
            body = body.dropLast()
            padding += 1
        }
        if padding > 0, padding > 2 || (body.count + padding) % 4 != 0 { return nil }
        let standard = body.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") }
        let urlSafe = body.contains { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        if standard && urlSafe { return nil }
        var translated = body.map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "+"): UInt8(ascii: "-")
            case UInt8(ascii: "/"): UInt8(ascii: "_")
            default: byte
            }
        }
        defer { zero(&translated) }
        return Base64URL.decode(utf8: translated)
    }

    /// Standard base64 with padding, as PEM-style armor has it.
    static func standardBase64(_ bytes: [UInt8]) -> String {
        var encoded = Array(Base64URL.encode(bytes).utf8).map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "-"): UInt8(ascii: "+")
            case UInt8(ascii: "_"): UInt8(ascii: "/")
            default: byte
            }
        }
        while encoded.count % 4 != 0 { encoded.append(UInt8(ascii: "=")) }
        return String(decoding: encoded, as: UTF8.self)
    }
}

/// The contents of a file that must be private to its owner: refused, naming `path`, when group
/// or others have any access to it. The mode is checked on the opened descriptor (`fstat`), so the
/// file checked is the file read. At most `limit` bytes; the caller zeroes what it gets.
func readPrivateFile(path: String, what: String, limit: Int) throws(CryptoError) -> [UInt8] {
    func reason() -> String { String(cString: strerror(errno)) }
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        throw CryptoError(.unreadableFile, "\(path): cannot open the \(what): \(reason())")
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
        throw CryptoError(.unreadableFile, "\(path): cannot read the \(what): \(reason())")
    }
    guard info.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) else {
        throw CryptoError(.unreadableFile, "\(path): the \(what) is not a regular file")
    }
    let permissions = info.st_mode & 0o777
    guard permissions & 0o077 == 0 else {
        throw CryptoError(.insecureFile, "\(path): the \(what) is readable by group or others (mode "
                              + String(permissions, radix: 8) + "); run chmod 600 on it")
    }
    var contents = [UInt8](repeating: 0, count: limit + 1)
    var length = 0
    while length < contents.count {
        let count = contents.withUnsafeMutableBytes { buffer in
            read(descriptor, buffer.baseAddress! + length, buffer.count - length)
        }
        if count < 0 {
            if errno == EINTR { continue }
            zero(&contents)
            throw CryptoError(.unreadableFile, "\(path): cannot read the \(what): \(reason())")
        }
        if count == 0 { break }
        length += count
    }
    guard length <= limit else {
        zero(&contents)
        throw CryptoError(.invalidKeyEncryptionKey, "\(path): too large to be a \(what) (more than \(limit) bytes)")
    }
    // Shrinks in place: no copy of the secret is left behind unzeroed.
    contents.removeLast(contents.count - length)
    return contents
}

/// Overwrites `bytes` with zeros in a way the optimiser keeps (`OPENSSL_cleanse`).
func zero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        if let base = buffer.baseAddress { OPENSSL_cleanse(base, buffer.count) }
    }
}

/// Secret bytes in memory this type alone owns, zeroed and freed with it.
///
/// `@unchecked Sendable` is safe because the bytes are written only in `init` and read-only
/// afterwards; the buffer is reachable only inside `withBytes`.
final class SecretBytes: @unchecked Sendable {
    private let buffer: UnsafeMutableRawBufferPointer

    init(copying bytes: [UInt8]) {
        buffer = .allocate(byteCount: bytes.count, alignment: 16)
        buffer.copyBytes(from: bytes)
    }

    /// Fills `count` fresh bytes with `fill` (for generating a secret in place, never copied).
    init(count: Int, fill: (UnsafeMutableBufferPointer<UInt8>) throws(CryptoError) -> Void) throws(CryptoError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        do {
            try fill(buffer.bindMemory(to: UInt8.self))
        } catch {
            OPENSSL_cleanse(buffer.baseAddress, buffer.count)
            buffer.deallocate()
            throw error
        }
        self.buffer = buffer
    }

    deinit {
        OPENSSL_cleanse(buffer.baseAddress, buffer.count)
        buffer.deallocate()
    }

    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(buffer))
    }
}

/// Ciphers fetched once for the process's life.
struct Cipher: @unchecked Sendable {
    // Immutable after fetch; OpenSSL's fetched EVP_CIPHER objects are safe to share across threads.
    let pointer: OpaquePointer

    static let aes256GCM: Cipher = {
        guard let cipher = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) else {
            fatalError("OpenSSL has no AES-256-GCM implementation: \(drainOpenSSLErrors())")
        }
        return Cipher(pointer: cipher)
    }()
}
