internal import COpenSSL
import Synchronization

/// Ready-to-use OpenSSL contexts for one key and one pre-hash algorithm (ES256, RS256, PS256).
///
/// Preparing a context (algorithm fetch, digest, padding) is done once, into a template; a
/// context is duplicated from it only when every pooled one is busy, and goes back to the pool
/// after use. Reusing contexts rather than duplicating one per signature brought token minting
/// within the 85% target of raw OpenSSL signing (see the benchmark).
///
/// `@unchecked Sendable`: the template is only read (duplicated) after init, which OpenSSL
/// allows from several threads at once; each pooled context is used by one thread at a time,
/// handed out and taken back under the mutex.
final class PrehashContextPool: @unchecked Sendable {
    /// Contexts kept beyond this many concurrent users are freed, not pooled.
    static let maximumIdle = 64

    /// A context handed between threads through the pool; only one thread holds it at a time.
    private struct Pooled: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let template: OpaquePointer
    private let idle = Mutex<[Pooled]>([])

    /// Takes ownership of `template`.
    init(template: OpaquePointer) {
        self.template = template
    }

    deinit {
        EVP_PKEY_CTX_free(template)
        idle.withLock { contexts in contexts.forEach { EVP_PKEY_CTX_free($0.pointer) } }
    }

    /// Runs `body` with a context no other thread uses meanwhile. A context whose operation
    /// failed is freed rather than reused, since OpenSSL may have left it half-way.
    func withContext<R>(_ body: (OpaquePointer) -> R?) -> R? {
        guard let context = idle.withLock({ $0.popLast()?.pointer }) ?? EVP_PKEY_CTX_dup(template) else { return nil }
        guard let result = body(context) else {
            EVP_PKEY_CTX_free(context)
            return nil
        }
        let returned = Pooled(pointer: context)
        let pooled = idle.withLock { contexts -> Bool in
            guard contexts.count < Self.maximumIdle else { return false }
            contexts.append(returned)
            return true
        }
        if !pooled { EVP_PKEY_CTX_free(context) }
        return result
    }
}
