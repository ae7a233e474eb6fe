internal import COpenSSL
import Synchronization

/// OpenSSL's CSPRNG read in 4 KiB blocks, for token identifiers (`jti`). One `RAND_bytes` call
/// costs about a microsecond whatever its size (locks, DRBG bookkeeping), several percent of an
/// ES256 signature; cut from a block, 16 bytes cost tens of nanoseconds.
///
/// Only for values that are unique but not secret: unused bytes wait in memory, and a forked
/// child would repeat its parent's block (Tessera never forks). Keys and client secrets use
/// `SecureRandom`.
public final class BufferedSecureRandom: RandomSource {
    static let blockSize = 4096

    private let state = Mutex<(block: [UInt8], used: Int)>(([], 0))

    public init() {}

    public func bytes(count: Int) -> [UInt8] {
        guard count <= Self.blockSize / 16 else { return SecureRandom().bytes(count: count) }
        return state.withLock { state in
            if state.block.count - state.used < count {
                state.block = SecureRandom().bytes(count: Self.blockSize)
                state.used = 0
            }
            defer { state.used += count }
            return Array(state.block[state.used..<state.used + count])
        }
    }
}
