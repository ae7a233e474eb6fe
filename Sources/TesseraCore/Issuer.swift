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
    /// Create the keys the policy needs when there are none (what `tessera serve` does).
    public var generateKeyIfMissing: Bool
    /// Seals private keys at rest: required with PostgreSQL, optional for the keys folder.
    public var keyEncryptionKey: KeyEncryptionKey?
    /// Allows a pre-publication shorter than the JWKS max-age plus 10 minutes. Only for tests
    /// that rotate keys every few seconds: verifiers caching the JWKS would reject new tokens.
    public var unsafeShortKeyTimings: Bool
    /// How long a request waits for the store (an audit append, the readiness probe) before it
    /// is answered 503 (`--store-timeout`).
    public var storeTimeout: Duration = IssuerConfiguration.defaultStoreTimeout
    public static let defaultStoreTimeout: Duration = .seconds(5)

    public init(issuer: String, keysDirectory: String, policiesDirectory: String, dataDirectory: String,
                storeURL: String? = nil, devUpstream: Bool = false, generateKeyIfMissing: Bool = true,
                keyEncryptionKey: KeyEncryptionKey? = nil, unsafeShortKeyTimings: Bool = false) {
        self.keyEncryptionKey = keyEncryptionKey
        self.unsafeShortKeyTimings = unsafeShortKeyTimings
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
    /// The signing keys in force (replaced by rotation).
    public var keys: CurrentValue<SigningKeys> { keyManager.keys }
    /// Rotates, revokes and reloads the signing keys.
    public let keyManager: KeyManager
    /// The current clients (replaced by a reload).
    public let clients: CurrentValue<ClientRegistry>
    public let tokenEndpoint: TokenEndpoint
    /// The discovery document (RFC 8414) as served, encoded once per policy bundle.
    let discovery: CurrentValue<[UInt8]>
    public var metadataDocument: [UInt8] { discovery.value }
    public let storage: any TesseraStorage
    public let audit: AuditLog
    public let inspection: TokenInspection
    public let admin: AdminAPI
    public let checkpointer: AuditCheckpointer
    /// The bounded records of unauthenticated failures; its summaries are flushed every
    /// interval by the maintenance service and at shutdown.
    public let failureAudit: FailureAuditThrottle
    /// Reloads the policy bundle (SIGHUP, file changes).
    public let policy: PolicyReloader
    /// The current upstreams, roles and trusted proxies.
    let access: CurrentValue<AccessPolicy>
    let httpClient: HTTPClient
    /// Requests, approvals and activations (the approval workflow).
    public let activations: ActivationService
    public let activationAPI: ActivationAPI
    /// Delivers the outbox (run by the server's NotificationService).
    public let notificationSender: NotificationSender
    /// The sender's own HTTP client: webhooks get a longer deadline than upstream key fetches.
    let notificationClient: HTTPClient
    /// How workflow events become outbox notifications; replaced when notifications.yaml changes.
    public let notificationPlanner: CurrentValue<any NotificationPlanner>
    /// Who is on call: native schedules and synced feeds (synced by the server's maintenance).
    public let onCall: OnCallService
    /// On-call overrides made at run time (refreshed and expired by the server's maintenance).
    public let onCallOverrides: OnCallOverrides
    /// Eligibility assignments made at run time (refreshed and expired by the server's maintenance).
    public let assignments: EligibilityAssignmentBook
    /// What `GET /metrics` answers.
    public let metrics: TesseraMetrics
    /// Bounds the readiness probe of the store.
    public let storeTimeout: Duration

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
        let metrics = TesseraMetrics()
        let audit = AuditLog(store: storage, timeSource: timeSource, metrics: metrics, timeout: configuration.storeTimeout)
        let httpClient = HTTPDocumentFetcher.makeHTTPClient()
        let loaded: LoadedPolicy
        do {
            loaded = try LoadedPolicy.load(configuration, urls: urls, httpClient: httpClient, timeSource: timeSource, logger: logger)
        } catch {
            try? await httpClient.shutdown()
            // The refusal is part of the record; the store failing too must not hide the cause.
            _ = try? await audit.record(AuditEvent("policy.rejected", outcome: .failure, target: [
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
        let keyManager: KeyManager
        do {
            keyManager = try await openKeys(configuration, storage: storage, timings: { access.value.keyTimings }, audit: audit,
                                            timeSource: timeSource, logger: logger)
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        let keys = keyManager.keys
        let audiences = CurrentValue(loaded.audiences)
        let authenticator = ClientAuthenticator(clients: clients, issuer: urls.issuer, tokenEndpoint: urls.tokenEndpoint,
                                                replayStore: storage, timeSource: timeSource, storeTimeout: configuration.storeTimeout)
        let minter = TokenMinter(issuer: urls.issuer, keys: keys, timeSource: timeSource)
        let notifications = CurrentValue(bundle.notifications)
        let notificationClient = HTTPNotificationTransport.makeHTTPClient()
        let sender = NotificationSender(outbox: storage, settings: notifications, transport: HTTPNotificationTransport(client: notificationClient),
                                        audit: audit, timeSource: timeSource, logger: logger)
        let planner = CurrentValue<any NotificationPlanner>(ConfiguredNotifications(settings: notifications))
        let activations = ActivationService(store: storage, policy: access, planner: planner, timeSource: timeSource, issuer: urls.issuer,
                                            storeTimeout: configuration.storeTimeout, wakeSender: { sender.wake() })
        let onCall = OnCallService(configuration: bundle.onCall, sources: OnCallSources(http: httpClient, logger: logger),
                                   cache: storage, timeSource: timeSource, logger: logger)
        let overrideEntries = DatedEntryService(kind: .onCallOverride, store: storage, timeSource: timeSource,
                                                changed: { onCall.useOverrides($0) })
        let onCallOverrides = OnCallOverrides(entries: overrideEntries, onCall: onCall, timeSource: timeSource)
        let assignments = EligibilityAssignmentBook.make(store: storage, role: { access.value.engine.role(named: $0) },
                                                         upstreamIDs: { access.value.upstreams.ids }, planner: planner,
                                                         wakeSender: { sender.wake() }, timeSource: timeSource)
        let exchange = TokenExchangeGrant(policy: access, timeSource: timeSource, activations: activations, onCall: onCall,
                                          assignments: assignments.snapshot)
        let failures = FailureAuditThrottle(audit: audit, timeSource: timeSource, logger: logger)
        let endpoint = TokenEndpoint(grants: [ClientCredentialsGrant(), exchange], authenticator: authenticator, minter: minter,
                                     audit: audit, failures: failures, activations: activations)
        let inspection = TokenInspection(authenticator: authenticator, issuer: urls.issuer, keys: keys, audiences: audiences,
                                         store: storage, audit: audit, timeSource: timeSource, failures: failures)
        let discovery = CurrentValue(loaded.discoveryDocument(urls: urls, grantTypes: endpoint.supportedGrantTypes))
        let adminAccess = AdminAccess(urls: urls, keys: keys, store: storage, timeSource: timeSource, storeTimeout: configuration.storeTimeout)
        let replicated = PostgresStoreURL.isPostgres(configuration.storeURL ?? "")
        let activationAPI = ActivationAPI(service: activations, policy: access, adminAccess: adminAccess, timeSource: timeSource,
                                          rereadInterval: replicated ? ActivationAPI.replicaRereadInterval : ActivationAPI.singleNodeRereadInterval)
        let admin = AdminAPI(access: adminAccess, store: storage, audit: audit, failures: failures, policy: access, keyManager: keyManager,
                             timeSource: timeSource, onCall: onCall, onCallOverrides: onCallOverrides,
                             assignments: assignments)
        let checkpointer = AuditCheckpointer(issuer: urls.issuer, keys: keys, store: storage, audit: audit, timeSource: timeSource)
        let reloader = PolicyReloader(configuration: configuration, urls: urls, clients: clients, access: access, audiences: audiences,
                                      discovery: discovery, grantTypes: endpoint.supportedGrantTypes,
                                      audit: audit, httpClient: httpClient, timeSource: timeSource, notifications: notifications, logger: logger,
                                      onCall: onCall)
        metrics.useRoles { access.value.engine.role(named: $0) != nil }
        let state = StateMetrics(storage: storage, keyManager: keyManager, access: access, onCall: onCall, onCallOverrides: onCallOverrides,
                                 assignments: assignments, timeSource: timeSource, storeTimeout: configuration.storeTimeout)
        metrics.gauges { await state.refresh($0) }
        return Issuer(urls: urls, keyManager: keyManager, clients: clients, tokenEndpoint: endpoint,
                      discovery: discovery, storage: storage, audit: audit, inspection: inspection, admin: admin,
                      checkpointer: checkpointer, failureAudit: failures, policy: reloader, access: access, httpClient: httpClient,
                      activations: activations, activationAPI: activationAPI,
                      notificationSender: sender, notificationClient: notificationClient, notificationPlanner: planner, onCall: onCall,
                      onCallOverrides: onCallOverrides, assignments: assignments, metrics: metrics,
                      storeTimeout: configuration.storeTimeout)
    }

    /// Why the issuer cannot serve now, by dependency (`store`), empty when it can: what
    /// `/readyz` reports. The store is asked a real question, bounded by the store timeout
    /// (the budget of a token request: a store slower than that fails requests too), and
    /// while audit appends fail, whether it takes a write again.
    public func unavailableDependencies(logger: Logger) async -> [String: String] {
        let storage = storage
        do {
            _ = try await StoreDeadline.run(storeTimeout, "the readiness probe") {
                try await storage.auditEntries(after: Int64.max - 1, limit: 1).count
            }
        } catch {
            return ["store": "\(error)"]
        }
        if let failure = await tokenEndpoint.auditWriteFailure(logger: logger) { return ["store": failure] }
        return [:]
    }

    /// Stops upstream key fetches and closes their HTTP client (the store is closed separately).
    public func shutdown() async {
        await failureAudit.flushAll()
        await upstreams.shutdown()
        try? await httpClient.shutdown()
        try? await notificationClient.shutdown()
    }

    /// The key manager of `tessera keys`: the store and timings a server with this configuration
    /// uses, opened without applying due changes (the servers do that on their schedule).
    public static func keyManager(_ configuration: IssuerConfiguration, storage: any TesseraStorage,
                                  timeSource: any TimeSource = SystemTimeSource(), logger: Logger) async throws(IssuerStartupError) -> KeyManager {
        let timings: KeyTimings
        do {
            // Reading the timings, not enforcing them: a server refuses a too-short prepublish itself.
            var reading = configuration
            reading.unsafeShortKeyTimings = true
            timings = try LoadedPolicy.keyTimings(try PolicyBundle.load(directory: configuration.policiesDirectory), configuration: reading)
        } catch let error as IssuerStartupError {
            throw error
        } catch {
            throw IssuerStartupError(description: "\(error)")
        }
        var tool = configuration
        tool.generateKeyIfMissing = false
        return try await openKeys(tool, storage: storage, timings: { timings }, audit: AuditLog(store: storage, timeSource: timeSource),
                                  timeSource: timeSource, logger: logger)
    }

    /// The key lifecycle over the keys folder, or over the database when replicas share PostgreSQL.
    private static func openKeys(_ configuration: IssuerConfiguration, storage: any TesseraStorage,
                                 timings: @escaping @Sendable () -> KeyTimings, audit: AuditLog, timeSource: any TimeSource,
                                 logger: Logger) async throws(IssuerStartupError) -> KeyManager {
        let store: any SigningKeyStore
        let codec: KeyMaterialCodec
        let location: String
        let sharedStore = storage as? any SigningKeyStore
        let isShared = sharedStore != nil && PostgresStoreURL.isPostgres(configuration.storeURL ?? "")
        if isShared, let shared = sharedStore {
            (store, codec, location) = (shared, KeyMaterialCodec(kek: configuration.keyEncryptionKey, form: .database), "signing keys in the database")
        } else {
            (store, codec, location) = (KeyDirectory(path: configuration.keysDirectory), KeyMaterialCodec(kek: configuration.keyEncryptionKey, form: .file),
                                        configuration.keysDirectory)
        }
        do {
            if isShared, configuration.generateKeyIfMissing {
                try await adoptFolderKeys(configuration, into: store, codec: codec, audit: audit, logger: logger)
            }
            let manager = try await KeyManager.open(store: store, codec: codec, location: location, timings: timings, audit: audit,
                                                    tokens: storage, timeSource: timeSource, logger: logger,
                                                    applyDueChanges: configuration.generateKeyIfMissing)
            let keys = manager.keys.value
            logger.info("signing keys ready", metadata: [
                "tessera.keys": .string(location),
                "tessera.signing": .string(keys.signers.values.map { "\($0.algorithm.jwsName):\($0.keyID)" }.sorted().joined(separator: ",")),
                "tessera.published": .stringConvertible(keys.published.count),
            ])
            return manager
        } catch {
            throw IssuerStartupError(description: error.description)
        }
    }

    /// The first start on a shared database whose key set is empty takes the keys folder's keys
    /// (sealed with the KEK), so moving a single node to PostgreSQL keeps the keys verifiers know.
    private static func adoptFolderKeys(_ configuration: IssuerConfiguration, into store: any SigningKeyStore, codec: KeyMaterialCodec,
                                        audit: AuditLog, logger: Logger) async throws(KeyDirectoryError) {
        let folder = KeyDirectory(path: configuration.keysDirectory)
        do {
            guard try await store.signingKeys().records.isEmpty else { return }
        } catch {
            throw KeyDirectoryError(path: "signing keys in the database", message: "cannot read the key set: \(error)")
        }
        let fileCodec = KeyMaterialCodec(kek: configuration.keyEncryptionKey, form: .file)
        var records: [SigningKeyRecord] = []
        for record in try folder.snapshot().records where record.state != KeyState.revoked.rawValue {
            let entry = try SigningKeyEntry(record: record)
            let key = try fileCodec.open(record.material, for: entry, location: folder.file(KeyDirectory.fileName(for: record)))
            records.append(entry.record(material: try codec.seal(key, for: entry)))
        }
        guard !records.isEmpty else { return }
        // Written at version 0, so the set becomes version 1: what its MAC covers.
        let mac = try codec.setAuthenticator()?.mac(version: 1, records: records)
        let adopted: Bool
        do {
            adopted = try await store.replaceSigningKeys(records, mac: mac, expectedVersion: 0)
        } catch {
            throw KeyDirectoryError(path: "signing keys in the database", message: "cannot write the key set: \(error)")
        }
        guard adopted else { return }  // another replica adopted them first
        logger.notice("signing keys moved from the keys folder into the database", metadata: [
            "tessera.keys": .string(configuration.keysDirectory), "tessera.count": .stringConvertible(records.count),
        ])
        _ = try? await audit.record(AuditEvent("key.adopted", outcome: .success, target: [
            "from": .string(configuration.keysDirectory), "kids": .array(records.map { .string($0.kid) }),
        ]))
    }
}
