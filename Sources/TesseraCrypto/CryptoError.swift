internal import COpenSSL

/// The one error type of the crypto layer: a stable code for programs and a readable message
/// for people. OpenSSL failures carry the drained OpenSSL error queue in the message.
public struct CryptoError: Error, Hashable, CustomStringConvertible, Sendable {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let openSSL = Code(rawValue: "openssl")
        public static let invalidKey = Code(rawValue: "invalid_key")
        public static let unsupportedKey = Code(rawValue: "unsupported_key")
        public static let invalidSignature = Code(rawValue: "invalid_signature")
        public static let invalidJWK = Code(rawValue: "invalid_jwk")
        public static let randomFailure = Code(rawValue: "random_failure")
        /// A key-encryption key that is not 32 bytes, or text that encodes none.
        public static let invalidKeyEncryptionKey = Code(rawValue: "invalid_key_encryption_key")
        /// A secret file that cannot be opened or read.
        public static let unreadableFile = Code(rawValue: "unreadable_file")
        /// A secret file that group or others may access.
        public static let insecureFile = Code(rawValue: "insecure_file")
        /// Bytes that are not a key sealed by Tessera.
        public static let notSealed = Code(rawValue: "not_sealed")
        /// A key sealed with another key-encryption key.
        public static let wrongKeyEncryptionKey = Code(rawValue: "wrong_key_encryption_key")
        /// A sealed key whose tag does not verify: altered, or opened for another record.
        public static let authenticationFailed = Code(rawValue: "authentication_failed")
        /// An argument out of the range an operation takes.
        public static let invalidArgument = Code(rawValue: "invalid_argument")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// An error for a failed OpenSSL call: `operation` names what was attempted; the OpenSSL
    /// error queue is drained into the message so it never leaks into a later, unrelated call.
    static func openSSL(_ operation: String, code: Code = .openSSL) -> CryptoError {
        let queue = drainOpenSSLErrors()
        let detail = queue.isEmpty ? "no OpenSSL detail" : queue.joined(separator: "; ")
        return CryptoError(code, "\(operation) failed: \(detail)")
    }
}

/// Empties the thread's OpenSSL error queue and returns its entries as readable strings.
@discardableResult
func drainOpenSSLErrors() -> [String] {
    var messages: [String] = []
    while true {
        let error = ERR_get_error()
        if error == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(error, &buffer, buffer.count)
        messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return messages
}

/// Every OpenSSL return code goes through here: OpenSSL reports success as 1 (or a positive
/// value); anything else is turned into a `CryptoError` naming the operation.
@inline(__always)
func check(_ result: Int32, _ operation: @autoclosure () -> String, code: CryptoError.Code = .openSSL) throws(CryptoError) {
    guard result > 0 else { throw CryptoError.openSSL(operation(), code: code) }
}

/// Unwraps a pointer returned by OpenSSL, failing with the drained error queue when it is nil.
@inline(__always)
func checkNotNil<T>(_ pointer: T?, _ operation: @autoclosure () -> String, code: CryptoError.Code = .openSSL) throws(CryptoError) -> T {
    guard let pointer else { throw CryptoError.openSSL(operation(), code: code) }
    return pointer
}

/// Standard-library `rethrows` APIs (`withUnsafeBytes`, ...) erase a closure's typed error;
/// this restores it. Only `CryptoError`s are ever thrown inside, so the fallback is unreachable
/// in practice but still reports rather than traps.
func restoringCryptoError<R>(_ body: () throws -> R) throws(CryptoError) -> R {
    do {
        return try body()
    } catch let error as CryptoError {
        throw error
    } catch {
        throw CryptoError(.openSSL, "unexpected error: \(error)")
    }
}
