import AsyncHTTPClient
import Foundation
import Logging
import TesseraCrypto
import TesseraJWT
import TesseraPolicy

/// Every upstream of the policy bundle, ready to verify subject tokens: the one object the
/// token-exchange grant needs.
///
/// Building it never touches the network: remote keys are fetched on first use (or by
/// `prefetch()`, which only logs failures), so an unreachable upstream never stops
/// `tessera serve` from starting. A broken `jwks_file` does stop it, like a broken client key.
public final class UpstreamRegistry: Sendable {
    public let verifier: UpstreamVerifier
    /// The key cache of each upstream that fetches its keys, by upstream id.
    public let caches: [String: UpstreamKeyCache]
    /// Every upstream's id (the development upstream's too, under `--dev`).
    public var ids: Set<String> { Set(verifier.upstreams.values.map(\.definition.id)) }
    let timeSource: any TimeSource
    let logger: Logger

    /// - Parameters:
    ///   - fetcher: fetches JWK Sets and discovery documents (`HTTPDocumentFetcher` around an
    ///     `HTTPClient` the caller owns and shuts down after `shutdown()`).
    ///   - directory: the policies folder, against which relative `jwks_file` paths resolve.
    ///   - previous: the registry of the bundle being replaced (hot reload). The key cache of
    ///     every upstream whose definition did not change is kept, keys and rate limit included,
    ///     so a reload neither refetches every JWKS nor resets the 30 s refetch limit. Do not
    ///     `shutdown()` the previous registry after a reload: that would cancel shared caches.
    public init(upstreams: [UpstreamDefinition], directory: String, fetcher: any UpstreamDocumentFetcher, timeSource: any TimeSource,
                configuration: UpstreamKeyCacheConfiguration = .init(), logger: Logger,
                reusing previous: UpstreamRegistry? = nil) throws(PolicyError) {
        var entries: [UpstreamVerifier.Upstream] = []
        var caches: [String: UpstreamKeyCache] = [:]
        for definition in upstreams {
            let algorithms = definition.algorithms.compactMap(SignatureAlgorithm.init(jwsName:))
            let keys: UpstreamVerifier.KeyProvider
            if case .file(let path) = definition.keys {
                keys = .fixed(try Self.loadKeyFile(path, directory: directory, upstream: definition, algorithms: algorithms))
            } else if let kept = previous?.caches[definition.id], kept.upstream == definition {
                caches[definition.id] = kept
                keys = .cached(kept)
            } else {
                let cache = UpstreamKeyCache(upstream: definition, algorithms: algorithms, fetcher: fetcher, timeSource: timeSource,
                                             configuration: configuration, logger: logger)
                caches[definition.id] = cache
                keys = .cached(cache)
            }
            let policy = VerificationPolicy(
                issuer: definition.issuer, audiences: Set(definition.audiences), allowedAlgorithms: Set(algorithms),
                leeway: TimeInterval(definition.leewaySeconds), maximumTokenBytes: UpstreamVerifier.maximumTokenBytes,
                requireIssuedAt: definition.maximumTokenAgeSeconds != nil)
            entries.append(UpstreamVerifier.Upstream(definition: definition, keys: keys, verifier: JWTVerifier(policy: policy)))
        }
        self.verifier = UpstreamVerifier(upstreams: entries)
        self.caches = caches
        self.timeSource = timeSource
        self.logger = logger
    }

    /// The upstreams of `bundle`, fetching over `httpClient` (see `HTTPDocumentFetcher.makeHTTPClient()`).
    public convenience init(bundle: PolicyBundle, httpClient: HTTPClient, timeSource: any TimeSource,
                            configuration: UpstreamKeyCacheConfiguration = .init(), logger: Logger,
                            reusing previous: UpstreamRegistry? = nil) throws(PolicyError) {
        try self.init(upstreams: bundle.upstreams, directory: bundle.directory, fetcher: HTTPDocumentFetcher(client: httpClient),
                      timeSource: timeSource, configuration: configuration, logger: logger, reusing: previous)
    }

    /// The identity a subject token vouches for, or why it is refused.
    public func verify(subjectToken: String, now: Date) async throws(UpstreamVerificationError) -> Identity {
        try await verifier.verify(subjectToken, now: now)
    }

    /// `verify(subjectToken:now:)` at the registry's time source's now.
    public func verify(subjectToken: String) async throws(UpstreamVerificationError) -> Identity {
        try await verifier.verify(subjectToken, now: timeSource.now())
    }

    /// Fetches every upstream's keys concurrently, so the first token does not wait. Failures
    /// are logged, never thrown: run it in the background after start.
    public func prefetch() async {
        await withTaskGroup(of: Void.self) { group in
            for cache in caches.values {
                group.addTask { await cache.prefetch() }
            }
        }
    }

    /// Cancels fetches in flight. The HTTP client is the caller's to shut down afterwards.
    public func shutdown() async {
        for cache in caches.values {
            await cache.shutdown()
        }
    }

    private static func loadKeyFile(_ path: String, directory: String, upstream: UpstreamDefinition,
                                    algorithms: [SignatureAlgorithm]) throws(PolicyError) -> VerificationKeySet {
        let resolved = path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: resolved)))
        } catch {
            throw PolicyError(upstream.location, field: "jwks_file", "upstream \"\(upstream.id)\": cannot read \(resolved): \(error.localizedDescription)")
        }
        do {
            return try UpstreamJWKS.keySet(from: bytes, algorithms: algorithms).keys
        } catch {
            throw PolicyError(upstream.location, field: "jwks_file", "upstream \"\(upstream.id)\": \(resolved): \(error.message)")
        }
    }
}
