import AsyncHTTPClient
import Foundation
import Logging
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// Where the issuer finds its state and how it names itself.
public struct IssuerConfiguration: Sendable {
    public var issuer: String
    public var keysDirectory: String
    public var policiesDirectory: String
    public var dataDirectory: String
    /// Where the store is: nil or empty for SQLite in `dataDirectory`, or a `postgres://` URL.
    public var storeURL: String?
    /// Trust identity tokens from the development upstream (`tessera dev token`). Never in production.
    public var devUpstream: Bool
    /// Create an ES256 key when the keys folder has none (what `tessera serve` does).
    public var generateKeyIfMissing: Bool

    public init(issuer: String, keysDirectory: String, policiesDirectory: String, dataDirectory: String,
                storeURL: String? = nil, devUpstream: Bool = false, generateKeyIfMissing: Bool = true) {
        self.issuer = issuer
        self.devUpstream = devUpstream
        self.keysDirectory = keysDirectory
        self.policiesDirectory = policiesDirectory
        self.dataDirectory = dataDirectory
        self.storeURL = storeURL
        self.generateKeyIfMissing = generateKeyIfMissing
    }
}

/// Why the issuer cannot start; the message names the file and says what to do.
public struct IssuerStartupError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// The issuer with everything loaded: keys, clients, the token endpoint and its metadata.
/// Built once at start; the HTTP layer only translates between HTTP and these values.
public struct Issuer: Sendable {
    public let urls: IssuerURLs
    public let keys: SigningKeys
    /// The current clients (replaced by a reload).
    public let clients: CurrentValue<ClientRegistry>
    public let tokenEndpoint: TokenEndpoint
    public let metadata: IssuerMetadata
    /// The metadata document as served, encoded once.
    public let metadataDocument: [UInt8]
    public let storage: any TesseraStorage
    public let audit: AuditLog
    public let inspection: TokenInspection
    public let admin: AdminAPI
    public let checkpointer: AuditCheckpointer
    /// Reloads the policy bundle (SIGHUP, file changes).
    public let policy: PolicyReloader
    /// The current upstreams, roles and trusted proxies.
    let access: CurrentValue<AccessPolicy>
    let httpClient: HTTPClient

    /// The upstream identity providers of the current bundle.
    public var upstreams: UpstreamRegistry { access.value.upstreams }

    /// Opens the store `storeURL` names: the embedded SQLite file in the data folder, or PostgreSQL.
    public static func openStorage(_ configuration: IssuerConfiguration) async throws(IssuerStartupError) -> any TesseraStorage {
        do {
            return try await StoreLocation(storeURL: configuration.storeURL, dataDirectory: configuration.dataDirectory).open()
        } catch let error as StoreError {
            throw IssuerStartupError(description: error.description)  // names the store already
        } catch {
            throw IssuerStartupError(description: "\(configuration.dataDirectory): cannot open the store: \(error)")
        }
    }

    public static func load(_ configuration: IssuerConfiguration, storage: any TesseraStorage,
                            timeSource: any TimeSource = SystemTimeSource(), logger: Logger) async throws(IssuerStartupError) -> Issuer {
        let urls = IssuerURLs(issuer: configuration.issuer)
        let audit = AuditLog(store: storage, timeSource: timeSource)
        let (keys, generated) = try loadKeys(configuration, timeSource: timeSource, logger: logger)
        if let generated {
            // Recorded before anything else can fail, so a new key never goes unaudited.
            try await record(AuditEvent("key.generated", outcome: .success, target: [
                "kid": .string(generated.kid), "alg": .string(generated.alg.jwsName), "state": .string(generated.state.rawValue),
            ]), in: audit)
        }
        let httpClient = HTTPDocumentFetcher.makeHTTPClient()
        let loaded: LoadedPolicy
        do {
            loaded = try LoadedPolicy.load(configuration, urls: urls, httpClient: httpClient, timeSource: timeSource, logger: logger)
        } catch {
            try? await httpClient.shutdown()
            // The refusal is part of the record; the store failing too must not hide the cause.
            try? await audit.record(AuditEvent("policy.rejected", outcome: .failure, target: [
                "directory": .string(configuration.policiesDirectory),
            ], reasons: [error.description]))
            throw error
        }
        let bundle = loaded.bundle
        logger.info("policy bundle loaded", metadata: [
            "tessera.policies": .string(configuration.policiesDirectory),
            "tessera.clients": .stringConvertible(loaded.clients.count),
            "tessera.roles": .stringConvertible(bundle.roles.count),
            "tessera.upstreams": .stringConvertible(bundle.upstreams.count),
        ])
        if configuration.devUpstream {
            logger.warning("DEVELOPMENT UPSTREAM ENABLED: tokens from `tessera dev token` are trusted; anyone who can read the data folder can become anyone. Never use --dev in production.")
        }
        do {
            try await audit.record(AuditEvent("policy.loaded", outcome: .success, target: [
                "directory": .string(configuration.policiesDirectory), "clients": .number(Double(loaded.clients.count)),
                "roles": .number(Double(bundle.roles.count)),
            ]))
        } catch {
            try? await httpClient.shutdown()
            throw IssuerStartupError(description: "cannot write the audit log: \(error)")
        }
        // Shared with the reloader, which replaces them all at once.
        let clients = CurrentValue(loaded.clients)
        let access = CurrentValue(loaded.access)
        let audiences = CurrentValue(loaded.audiences)
        let authenticator = ClientAuthenticator(clients: clients, issuer: urls.issuer, tokenEndpoint: urls.tokenEndpoint,
                                                replayStore: storage, timeSource: timeSource)
        let minter = TokenMinter(issuer: urls.issuer, keys: keys, timeSource: timeSource)
        let exchange = TokenExchangeGrant(policy: access, timeSource: timeSource)
        let endpoint = TokenEndpoint(grants: [ClientCredentialsGrant(), exchange], authenticator: authenticator, minter: minter,
                                     audit: audit)
        let inspection = TokenInspection(authenticator: authenticator, issuer: urls.issuer, keys: keys, audiences: audiences,
                                         store: storage, audit: audit, timeSource: timeSource)
        // With token exchange, a role name is what goes in `scope`.
        let scopes = Array(Set(loaded.clients.scopes + bundle.roles.map(\.name))).sorted()
        let metadata = IssuerMetadata(urls: urls, grantTypes: endpoint.supportedGrantTypes, scopes: scopes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let document = (try? encoder.encode(metadata)).map(Array.init) ?? []
        let admin = AdminAPI(access: AdminAccess(urls: urls, keys: keys, store: storage, timeSource: timeSource), store: storage,
                             audit: audit, policy: access, timeSource: timeSource)
        let checkpointer = AuditCheckpointer(issuer: urls.issuer, keys: keys, store: storage, audit: audit, timeSource: timeSource)
        let reloader = PolicyReloader(configuration: configuration, urls: urls, clients: clients, access: access, audiences: audiences,
                                      audit: audit, httpClient: httpClient, timeSource: timeSource, logger: logger)
        return Issuer(urls: urls, keys: keys, clients: clients, tokenEndpoint: endpoint, metadata: metadata,
                      metadataDocument: document, storage: storage, audit: audit, inspection: inspection, admin: admin,
                      checkpointer: checkpointer, policy: reloader, access: access, httpClient: httpClient)
    }

    /// Stops upstream key fetches and closes their HTTP client (the store is closed separately).
    public func shutdown() async {
        await upstreams.shutdown()
        try? await httpClient.shutdown()
    }


    private static func record(_ event: AuditEvent, in audit: AuditLog) async throws(IssuerStartupError) {
        do {
            try await audit.record(event)
        } catch {
            throw IssuerStartupError(description: "cannot write the audit log: \(error)")
        }
    }

    /// The signing keys, and the manifest entry of a key generated because there was none.
    private static func loadKeys(_ configuration: IssuerConfiguration, timeSource: any TimeSource,
                                 logger: Logger) throws(IssuerStartupError) -> (SigningKeys, KeyManifestEntry?) {
        let directory = KeyDirectory(path: configuration.keysDirectory)
        do {
            var stored = try directory.load()
            var generatedEntry: KeyManifestEntry?
            if stored.isEmpty, configuration.generateKeyIfMissing {
                let generated = try directory.generate(algorithm: .es256, now: timeSource.now())
                logger.notice("generated a new signing key", metadata: [
                    "tessera.kid": .string(generated.entry.kid),
                    "tessera.alg": .string(generated.entry.alg.jwsName),
                    "tessera.keys": .string(configuration.keysDirectory),
                ])
                stored = [generated]
                generatedEntry = generated.entry
            }
            let keys = try SigningKeys(keys: stored)
            logger.info("signing keys loaded", metadata: [
                "tessera.kid": .string(keys.signer.keyID),
                "tessera.alg": .string(keys.signer.algorithm.jwsName),
                "tessera.published": .stringConvertible(keys.published.count),
            ])
            return (keys, generatedEntry)
        } catch {
            throw IssuerStartupError(description: error.description)
        }
    }
}
