import Foundation
import Logging
import TesseraCrypto
import TesseraJWT
import TesseraPolicy

/// How an upstream key cache behaves. The defaults are the documented ones (policies/README.md).
public struct UpstreamKeyCacheConfiguration: Sendable {
    /// Freshness without a `Cache-Control: max-age`.
    public var defaultMaxAge: TimeInterval = 300
    /// `max-age` is clamped into this range: an upstream cannot make Tessera fetch constantly,
    /// nor keep a removed key for days.
    public var minimumMaxAge: TimeInterval = 60
    public var maximumMaxAge: TimeInterval = 24 * 3600
    /// No fetch starts sooner than this after the previous one, whatever asks for it (an unknown
    /// `kid`, a failed attempt, stale keys): a flood of tokens with random kids costs one fetch.
    public var minimumRefetchInterval: TimeInterval = 30
    /// How long past their freshness cached keys keep serving while the upstream cannot be
    /// reached. After that the upstream fails closed until a fetch succeeds.
    public var maximumStaleness: TimeInterval = 24 * 3600
    /// The longest wait between fetches of an example upstream (`example: true`) that keeps
    /// failing.
    public var maximumExampleBackoff: TimeInterval = 3600

    public init() {}
}

/// The keys of one upstream, fetched from its `jwks_uri` (directly or through discovery).
///
/// One actor per upstream, so a slow or dead upstream only ever delays its own tokens. Callers
/// that arrive while a fetch is in flight share it. Stale keys (past max-age, within the
/// staleness bound) are served at once while a refresh runs in the background.
public actor UpstreamKeyCache {
    public nonisolated let upstream: UpstreamDefinition
    let algorithms: [SignatureAlgorithm]
    let fetcher: any UpstreamDocumentFetcher
    let timeSource: any TimeSource
    let configuration: UpstreamKeyCacheConfiguration
    let logger: Logger

    private var keys: VerificationKeySet?
    /// Increases with every successful fetch; lets a caller ask "anything newer than what I used?".
    private var generation = 0
    private var freshUntil = Date.distantPast
    private var usableUntil = Date.distantPast
    private var lastAttempt: Date?
    private var lastFailure: String?
    private var inFlight: Task<Void, Never>?
    private var discoveredJWKSURI: String?
    /// Fetches that failed in a row: an outage is said once, when it starts, and its end once.
    public private(set) var consecutiveFailures = 0
    /// Every failed fetch since start (for metrics).
    public private(set) var failedFetches = 0
    /// How many fetches were started; for tests and metrics.
    public private(set) var fetchCount = 0

    public init(upstream: UpstreamDefinition, algorithms: [SignatureAlgorithm], fetcher: any UpstreamDocumentFetcher,
                timeSource: any TimeSource, configuration: UpstreamKeyCacheConfiguration = .init(), logger: Logger) {
        self.upstream = upstream
        self.algorithms = algorithms
        self.fetcher = fetcher
        self.timeSource = timeSource
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "tessera.upstream"] = .string(upstream.id)
        self.logger = logger
    }

    /// The keys to verify with, and their generation (for `refreshed(after:)`).
    public func currentKeys() async throws(UpstreamVerificationError) -> (keys: VerificationKeySet, generation: Int) {
        var now = timeSource.now()
        if let keys, now < freshUntil { return (keys, generation) }
        if let keys, now < usableUntil {
            // Stale but within the bound: answer now, refresh behind (rate limited).
            if inFlight == nil, mayFetch(now: now) { startFetch(now: now) }
            return (keys, generation)
        }
        if inFlight == nil, mayFetch(now: now) { startFetch(now: now) }
        if let inFlight { await inFlight.value }
        now = timeSource.now()
        if let keys, now < usableUntil { return (keys, generation) }
        throw unavailable()
    }

    /// Newer keys than `generation` when a token named a key the cache does not know: fetched
    /// now unless a fetch started less than `minimumRefetchInterval` ago. Nil when nothing newer
    /// can be had, so the caller refuses the token with the error it already has.
    public func refreshed(after generation: Int) async -> VerificationKeySet? {
        if let keys, self.generation > generation { return keys }
        let now = timeSource.now()
        if inFlight == nil, mayFetch(now: now) { startFetch(now: now) }
        if let inFlight { await inFlight.value }
        guard let keys, self.generation > generation, timeSource.now() < usableUntil else { return nil }
        return keys
    }

    /// Fetches unless a fetch ran recently; waits for it. Never throws: failures are logged.
    public func prefetch() async {
        let now = timeSource.now()
        if inFlight == nil, mayFetch(now: now) { startFetch(now: now) }
        if let inFlight { await inFlight.value }
    }

    /// Cancels a fetch in flight (the HTTP client's owner shuts the client down after this).
    public func shutdown() {
        inFlight?.cancel()
    }

    private func mayFetch(now: Date) -> Bool {
        guard let lastAttempt else { return true }
        return now.timeIntervalSince(lastAttempt) >= refetchInterval
    }

    /// The shortest time between two fetches. An example upstream (`example: true`) that
    /// keeps failing backs off, doubling up to `maximumExampleBackoff`; a real one is retried
    /// at the minimum, so its recovery is noticed quickly.
    var refetchInterval: TimeInterval {
        let minimum = configuration.minimumRefetchInterval
        guard upstream.isExample, consecutiveFailures > 1 else { return minimum }
        return min(minimum * pow(2, Double(min(consecutiveFailures - 1, 16))), max(minimum, configuration.maximumExampleBackoff))
    }

    private func unavailable() -> UpstreamVerificationError {
        let reason = lastFailure.map { ": \($0)" } ?? ""
        return UpstreamVerificationError(.keysUnavailable, upstream: upstream.id, "the keys of upstream \(upstream.id) are unavailable\(reason)")
    }

    private func startFetch(now: Date) {
        lastAttempt = now
        fetchCount += 1
        inFlight = Task { await self.fetch() }
    }

    private func fetch() async {
        defer { inFlight = nil }
        do {
            let document = try await fetchKeySet()
            let imported = try UpstreamJWKS.keySet(from: document.body, algorithms: algorithms)
            let now = timeSource.now()
            let maxAge = min(max(document.maxAge ?? configuration.defaultMaxAge, configuration.minimumMaxAge), configuration.maximumMaxAge)
            keys = imported.keys
            generation += 1
            freshUntil = now + maxAge
            usableUntil = freshUntil + configuration.maximumStaleness
            lastFailure = nil
            if consecutiveFailures > 0 {
                logger.notice("upstream keys can be fetched again", metadata: ["tessera.failed_fetches": .stringConvertible(consecutiveFailures)])
            }
            consecutiveFailures = 0
            logger.debug("upstream keys fetched", metadata: [
                "tessera.keys": .stringConvertible(imported.keys.keys.count), "tessera.max_age": .stringConvertible(Int(maxAge)),
            ])
            if !imported.skipped.isEmpty {
                logger.debug("upstream keys skipped", metadata: ["tessera.skipped": .array(imported.skipped.map { .string($0) })])
            }
        } catch {
            lastFailure = error.message
            // The discovered jwks_uri may be what broke; discover again next time.
            discoveredJWKSURI = nil
            let now = timeSource.now()
            consecutiveFailures += 1
            failedFetches += 1
            if now >= usableUntil, keys != nil {
                keys = nil
                logger.error("upstream keys unavailable beyond the staleness bound; failing closed", metadata: ["tessera.reason": .string(error.message)])
            } else if consecutiveFailures == 1 {
                logFirstFailure(error.message)
            } else {
                logger.debug("upstream keys still cannot be fetched", metadata: [
                    "tessera.reason": .string(error.message), "tessera.failed_fetches": .stringConvertible(consecutiveFailures),
                ])
            }
        }
    }

    /// The start of an outage. An example upstream is expected to fail: said once, calmly,
    /// with what to do about it.
    private func logFirstFailure(_ reason: String) {
        if upstream.isExample {
            logger.notice("example upstream cannot be reached: replace its issuer in policies/upstreams.yaml or remove it", metadata: [
                "tessera.issuer": .string(upstream.issuer), "tessera.reason": .string(reason),
            ])
        } else {
            logger.warning("cannot fetch upstream keys", metadata: [
                "tessera.reason": .string(reason), "tessera.serving_cached": .stringConvertible(keys != nil),
            ])
        }
    }

    private func fetchKeySet() async throws(UpstreamFetchError) -> FetchedDocument {
        switch upstream.keys {
        case .jwksURI(let uri):
            return try await fetcher.fetch(uri)
        case .discovery:
            let uri: String
            if let discoveredJWKSURI {
                uri = discoveredJWKSURI
            } else {
                let document = try await fetcher.fetch(upstream.discoveryURL)
                uri = try UpstreamJWKS.jwksURI(fromDiscovery: document.body, issuer: upstream.issuer)
                discoveredJWKSURI = uri
            }
            return try await fetcher.fetch(uri)
        case .file:
            throw UpstreamFetchError("upstream \(upstream.id) reads its keys from a file, not over the network")
        }
    }
}
