import AsyncHTTPClient
import Foundation
import TesseraCrypto
import Logging
import TesseraJWT
import TesseraPolicy

/// One version of the policy bundle with everything built from it, or the reason it cannot be
/// used. Built completely before anything is replaced, so a broken bundle never takes effect.
struct LoadedPolicy: Sendable {
    let bundle: PolicyBundle
    let clients: ClientRegistry
    let access: AccessPolicy

    /// Every audience Tessera issues for: the clients' and the roles' (introspection checks them).
    var audiences: Set<String> { clients.audiences.union(bundle.roles.flatMap(\.audiences)) }

    /// The discovery document for this bundle: with token exchange, a role name is what goes in
    /// `scope`, so `scopes_supported` lists the clients' scopes and the roles; the upstreams
    /// with `login:` are the CLI's sign-in providers.
    func discoveryDocument(urls: IssuerURLs, grantTypes: [String]) -> [UInt8] {
        let scopes = Array(Set(clients.scopes + bundle.roles.map(\.name))).sorted()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let logins = bundle.upstreams.compactMap { upstream in
            upstream.cliLogin.map { IssuerMetadata.LoginProvider(id: upstream.id, issuer: upstream.issuer, clientID: $0.clientID, scopes: $0.scopes) }
        }
        let metadata = IssuerMetadata(urls: urls, grantTypes: grantTypes, scopes: scopes, loginProviders: logins)
        return (try? encoder.encode(metadata)).map(Array.init) ?? []
    }

    static func load(_ configuration: IssuerConfiguration, urls: IssuerURLs, httpClient: HTTPClient, timeSource: any TimeSource,
                     logger: Logger, reusing previous: UpstreamRegistry? = nil) throws(IssuerStartupError) -> LoadedPolicy {
        let bundle: PolicyBundle
        let clients: ClientRegistry
        do {
            bundle = try PolicyBundle.load(directory: configuration.policiesDirectory)
            clients = try ClientRegistry(bundle: bundle)
        } catch {
            throw IssuerStartupError(description: error.description)
        }
        try checkAdminAudienceReserved(bundle, adminAudience: urls.adminAudience)
        var definitions = bundle.upstreams
        if configuration.devUpstream {
            do {
                let dev = try DevUpstream.open(dataDirectory: configuration.dataDirectory, tesseraIssuer: urls.issuer)
                definitions.append(try dev.definition(dataDirectory: configuration.dataDirectory))
            } catch {
                throw IssuerStartupError(description: "--dev: \(error)")
            }
        }
        let upstreams: UpstreamRegistry
        do {
            upstreams = try UpstreamRegistry(upstreams: definitions, directory: bundle.directory,
                                             fetcher: HTTPDocumentFetcher(client: httpClient), timeSource: timeSource, logger: logger,
                                             reusing: previous)
        } catch {
            throw IssuerStartupError(description: error.description)
        }
        let timings = try keyTimings(bundle, configuration: configuration)
        return LoadedPolicy(bundle: bundle, clients: clients, access: AccessPolicy(
            upstreams: upstreams, engine: PolicyEngine(bundle: bundle), trustedProxies: bundle.networkSettings.trustedProxies,
            keyTimings: timings))
    }

    /// Only admin tokens carry the admin audience (`<issuer>/admin`): a client or a role that
    /// could be given it would mint tokens the admin API accepts without `admin.token_issued`.
    /// `String ==` here, not bytes: refusing canonically equivalent spellings too is stricter.
    static func checkAdminAudienceReserved(_ bundle: PolicyBundle, adminAudience: String) throws(IssuerStartupError) {
        let holders = bundle.clients.map { ("client \"\($0.id)\"", $0.location, $0.audiences) }
            + bundle.roles.map { ("role \"\($0.name)\"", $0.location, $0.audiences) }
        for (who, location, audiences) in holders where audiences.contains(adminAudience) {
            throw IssuerStartupError(description: "\(location): \(who): the audience \(adminAudience) is reserved for admin tokens, "
                + "which only `tessera admin token` issues; remove it")
        }
    }

    /// The key lifecycle's timings: `keys.yaml`, the algorithms roles and clients ask for, and
    /// the longest lifetime any token can get (a retired key stays published that long, plus the
    /// clock leeway).
    static func keyTimings(_ bundle: PolicyBundle, configuration: IssuerConfiguration) throws(IssuerStartupError) -> KeyTimings {
        let policy = bundle.signingKeys
        let file = policy.location.map { "\($0.file)" } ?? "\(configuration.policiesDirectory)/\(SigningKeyPolicy.fileName)"
        let floor = KeyTimings.minimumPrepublish(jwksMaxAge: KeyTimings.jwksMaxAge)
        if TimeInterval(policy.prepublishSeconds) < floor, !configuration.unsafeShortKeyTimings {
            throw IssuerStartupError(description: "\(file): signing_keys.prepublish \(DurationText.format(policy.prepublishSeconds)) is too short: "
                + "a new key must be published for at least the JWKS max-age (\(DurationText.format(Int(KeyTimings.jwksMaxAge)))) plus "
                + "\(DurationText.format(Int(KeyTimings.verifierCacheMargin))) before it signs, \(DurationText.format(Int(floor))) in all, "
                + "or verifiers holding a cached JWKS would reject its tokens")
        }
        func algorithm(_ name: String) throws(IssuerStartupError) -> SignatureAlgorithm {
            guard let alg = SignatureAlgorithm(jwsName: name) else {
                throw IssuerStartupError(description: "\(file): unknown signing algorithm \(name)")
            }
            return alg
        }
        var periods: [SignatureAlgorithm: TimeInterval] = [:]
        for rotation in policy.rotations { periods[try algorithm(rotation.algorithm)] = TimeInterval(rotation.periodSeconds) }
        var algorithms = Set<SignatureAlgorithm>()
        for name in bundle.roles.compactMap(\.signingAlgorithm) + bundle.clients.compactMap(\.signingAlgorithm) {
            algorithms.insert(try algorithm(name))
        }
        let longest = ([AdminAccess.maximumLifetimeSeconds] + bundle.roles.map(\.maxDurationSeconds) + bundle.clients.map(\.tokenLifetimeSeconds)).max()!
        return KeyTimings(prepublish: TimeInterval(policy.prepublishSeconds), retention: TimeInterval(longest) + KeyTimings.clockLeeway,
                          rotationPeriods: periods, algorithms: algorithms,
                          // Without keys.yaml, the algorithm of the keys already there keeps signing.
                          defaultAlgorithm: policy.location == nil ? nil : try algorithm(policy.defaultAlgorithm))
    }
}

/// Hot reload of the policy bundle (on SIGHUP, and when a file of the folder changes): the new
/// bundle is loaded and checked completely; only then do clients, roles, upstreams and trusted
/// proxies switch over, all at once. A bundle that fails is refused with its file, line and
/// field, logged and audited (`policy.rejected`), and the previous one stays in force.
///
/// The discovery document (`scopes_supported`), key timings and algorithms switch with the
/// bundle; the keys themselves change through `KeyManager`.
public actor PolicyReloader {
    let configuration: IssuerConfiguration
    let urls: IssuerURLs
    let clients: CurrentValue<ClientRegistry>
    let notifications: CurrentValue<NotificationSettings>
    let access: CurrentValue<AccessPolicy>
    let audiences: CurrentValue<Set<String>>
    let discovery: CurrentValue<[UInt8]>
    let grantTypes: [String]
    let audit: AuditLog
    let httpClient: HTTPClient
    let timeSource: any TimeSource
    let logger: Logger
    /// Takes the reloaded bundle's schedules.
    let onCall: OnCallService?
    /// The files of the bundle as last loaded (or refused), to notice changes.
    private var lastFingerprint: String

    init(configuration: IssuerConfiguration, urls: IssuerURLs, clients: CurrentValue<ClientRegistry>, access: CurrentValue<AccessPolicy>,
         audiences: CurrentValue<Set<String>>, discovery: CurrentValue<[UInt8]>, grantTypes: [String], audit: AuditLog,
         httpClient: HTTPClient, timeSource: any TimeSource, notifications: CurrentValue<NotificationSettings>, logger: Logger,
         onCall: OnCallService? = nil) {
        self.onCall = onCall
        self.notifications = notifications
        self.discovery = discovery
        self.grantTypes = grantTypes
        self.configuration = configuration
        self.urls = urls
        self.clients = clients
        self.access = access
        self.audiences = audiences
        self.audit = audit
        self.httpClient = httpClient
        self.timeSource = timeSource
        self.logger = logger
        self.lastFingerprint = Self.fingerprint(configuration.policiesDirectory)
    }

    /// Reloads if a file of the bundle changed since the last load; returns whether it did.
    @discardableResult
    public func reloadIfChanged() async -> Bool {
        let current = Self.fingerprint(configuration.policiesDirectory)
        guard current != lastFingerprint else { return false }
        return await reload(trigger: "file change")
    }

    /// Loads the bundle again; true when the new one is in force, false when it was refused.
    @discardableResult
    public func reload(trigger: String) async -> Bool {
        lastFingerprint = Self.fingerprint(configuration.policiesDirectory)
        let loaded: LoadedPolicy
        do {
            loaded = try LoadedPolicy.load(configuration, urls: urls, httpClient: httpClient, timeSource: timeSource, logger: logger,
                                           reusing: access.value.upstreams)
        } catch {
            logger.error("policy bundle rejected; the previous bundle stays in force", metadata: [
                "tessera.policies": .string(configuration.policiesDirectory), "tessera.error": .string(error.description),
            ])
            _ = try? await audit.record(AuditEvent("policy.rejected", outcome: .failure, target: [
                "directory": .string(configuration.policiesDirectory), "trigger": .string(trigger),
            ], reasons: [error.description]))
            return false
        }
        clients.replace(with: loaded.clients)
        access.replace(with: loaded.access)
        notifications.replace(with: loaded.bundle.notifications)
        onCall?.reconfigure(loaded.bundle.onCall)
        audiences.replace(with: loaded.audiences)
        discovery.replace(with: loaded.discoveryDocument(urls: urls, grantTypes: grantTypes))
        logger.notice("policy bundle reloaded", metadata: [
            "tessera.trigger": .string(trigger), "tessera.clients": .stringConvertible(loaded.clients.count),
            "tessera.roles": .stringConvertible(loaded.bundle.roles.count), "tessera.upstreams": .stringConvertible(loaded.bundle.upstreams.count),
        ])
        _ = try? await audit.record(AuditEvent("policy.loaded", outcome: .success, target: [
            "directory": .string(configuration.policiesDirectory), "trigger": .string(trigger),
            "clients": .number(Double(loaded.clients.count)), "roles": .number(Double(loaded.bundle.roles.count)),
        ]))
        return true
    }

    /// Path, size and modification time of every file under the folder: cheap to compute every
    /// few seconds, and it changes when any file is edited, added or removed. Scratch files are
    /// left out: an atomic write's temporary file, seen mid-write, would trigger a reload of
    /// the old content and then another one.
    static func fingerprint(_ directory: String) -> String {
        let manager = FileManager.default
        guard let paths = manager.subpaths(atPath: directory) else { return "" }
        let watched = paths.filter { path in !path.split(separator: "/").contains { PolicyBundle.isScratchFile(String($0)) } }
        return watched.sorted().compactMap { path -> String? in
            guard let attributes = try? manager.attributesOfItem(atPath: (directory as NSString).appendingPathComponent(path)) else { return nil }
            let size = (attributes[.size] as? Int) ?? 0
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(path):\(size):\(modified)"
        }.joined(separator: "\n")
    }
}
