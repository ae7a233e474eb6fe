internal import COpenSSL

/// A source of random bytes; injected where tests need determinism.
public protocol RandomSource: Sendable {
    func bytes(count: Int) -> [UInt8]
}

/// OpenSSL's CSPRNG (`RAND_bytes`, seeded from the operating system).
public struct SecureRandom: RandomSource {
    public init() {}

    public func bytes(count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return out }
        let ok = RAND_bytes(&out, Int32(count))
        // A CSPRNG failure must never degrade into predictable identifiers or secrets.
        precondition(ok == 1, "RAND_bytes failed: \(drainOpenSSLErrors())")
        return out
    }
}

/// Comparisons of secrets that take the same time wherever the inputs differ.
public enum ConstantTime {
    /// True when both byte strings are equal. The length is not secret (hashes and tokens of
    /// one kind have a fixed length); the contents are compared with `CRYPTO_memcmp`.
    public static func equals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard !lhs.isEmpty else { return true }
        return lhs.withUnsafeBytes { l in
            rhs.withUnsafeBytes { r in CRYPTO_memcmp(l.baseAddress, r.baseAddress, l.count) == 0 }
        }
    }
}
