internal import COpenSSL

/// SHA-256 through a message-digest implementation fetched once: fetching per call costs a
/// provider lookup and a lock in OpenSSL 3.
public enum SHA256 {
    public static let byteCount = 32

    public static func hash<Bytes: Sequence>(_ data: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        let contiguous = Array(data)
        return contiguous.withUnsafeBytes { hash(buffer: $0) }
    }

    public static func hash(buffer: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: byteCount)
        var length: UInt32 = 0
        let ok = digest.withUnsafeMutableBufferPointer { out in
            EVP_Digest(buffer.baseAddress, buffer.count, out.baseAddress, &length, MessageDigests.sha256.pointer, nil)
        }
        // SHA-256 over memory cannot fail short of memory exhaustion; a silent wrong digest
        // would be worse than stopping.
        precondition(ok == 1 && length == 32, "SHA-256 failed: \(drainOpenSSLErrors())")
        return digest
    }
}

/// Message digests fetched once for the process's life.
struct MessageDigests: @unchecked Sendable {
    // Immutable after fetch; OpenSSL's fetched EVP_MD objects are safe to share across threads.
    let pointer: OpaquePointer

    static let sha256: MessageDigests = {
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else {
            fatalError("OpenSSL has no SHA256 implementation: \(drainOpenSSLErrors())")
        }
        return MessageDigests(pointer: md)
    }()
}
