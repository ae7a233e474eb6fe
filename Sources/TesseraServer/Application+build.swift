import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TesseraCore
import TesseraStore

/// Everything `tessera serve` needs, resolved from flags, environment and defaults.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    public var issuer: IssuerConfiguration
    /// How often the server signs an audit checkpoint (`GET /audit/checkpoint`); zero disables.
    public var checkpointInterval: Duration
    /// How often expired tokens and assertion jtis are deleted; zero disables.
    public var pruneInterval: Duration
    /// Where audit entries are streamed (SIEM files, syslog), each with its cursor in the data folder.
    public var auditSinks: [AuditSinkSpecification]
    /// How often the policies folder is checked for changes (SIGHUP reloads at once); zero disables.
    public var policyPollInterval: Duration = .seconds(2)
    /// How often signing keys move through their lifecycle and changes by others are picked up.
    public var keyCheckInterval: Duration = .seconds(2)
    /// Requests served at once; past it, 503 with Retry-After (probes excepted).
    public var maximumInFlight = ServerSettings.defaultMaximumInFlight
    public static let defaultMaximumInFlight = 4096
    /// Where `GET /metrics` is served instead of the main listener (`--metrics-listen`); nil:
    /// on the main listener.
    public var metricsAddress: (host: String, port: Int)?

    public init(host: String = "127.0.0.1", port: Int = 8080, issuer: IssuerConfiguration,
                checkpointInterval: Duration = .seconds(3600), pruneInterval: Duration = .seconds(300),
                auditSinks: [AuditSinkSpecification] = []) {
        self.host = host
        self.port = port
        self.issuer = issuer
        self.checkpointInterval = checkpointInterval
        self.pruneInterval = pruneInterval
        self.auditSinks = auditSinks
    }
}

/// Every HTTP route of the server, over `issuer`.
/// `servesMetrics` false leaves `/metrics` to a listener of its own (`buildMetricsApplication`).
public func buildRouter(for issuer: Issuer, maximumInFlight: Int = ServerSettings.defaultMaximumInFlight,
                        servesMetrics: Bool = true) -> Router<TesseraRequestContext> {
    buildRouter(for: issuer, maximumInFlight: maximumInFlight, inFlight: InFlightCount(), servesMetrics: servesMetrics)
}

/// The same, counting requests in flight in `inFlight` (shared with the fast path's).
func buildRouter(for issuer: Issuer, maximumInFlight: Int, inFlight: InFlightCount, servesMetrics: Bool) -> Router<TesseraRequestContext> {
    let router = Router(context: TesseraRequestContext.self)
    // Outside the error middleware, so the status counted is the one the client got.
    router.add(middleware: MetricsMiddleware(metrics: issuer.metrics))
    router.add(middleware: InFlightLimit(limit: maximumInFlight, metrics: issuer.metrics, inFlight: inFlight))
    let routeMethods = RouteMethods()
    router.add(middleware: ErrorMiddleware(routeMethods: routeMethods))
    WellKnownController(issuer: issuer).addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    if servesMetrics { MetricsController(metrics: issuer.metrics).addRoutes(to: router) }
    TokenController(endpoint: issuer.tokenEndpoint).addRoutes(to: router)
    InspectionController(inspection: issuer.inspection).addRoutes(to: router)
    HealthController(issuer: issuer).addRoutes(to: router)
    ActivationController(api: issuer.activationAPI).addRoutes(to: router)
    AdminController(admin: issuer.admin, checkpointer: issuer.checkpointer).addRoutes(to: router)
    routeMethods.record(router.routes)
    return router
}

/// The composition root: loads the issuer and wires it to HTTP routes. `tessera serve`, the
/// tests and the benchmark all build the application here.
public func buildApplication(
    _ settings: ServerSettings,
    timeSource: any TimeSource = SystemTimeSource(),
    logger: Logger,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let storage = try await Issuer.openStorage(settings.issuer)
    let issuer: Issuer
    do {
        issuer = try await Issuer.load(settings.issuer, storage: storage, timeSource: timeSource, logger: logger)
    } catch {
        try? await storage.close()
        throw error
    }
    warnAboutInsecureIssuer(issuer.urls.issuer, logger: logger)
    if settings.checkpointInterval > .zero {
        // The first checkpoint covers the start-up entries and is served from the first request on.
        do {
            try await issuer.checkpointer.take()
        } catch {
            logger.error("audit checkpoint failed", metadata: ["tessera.error": .string("\(error)")])
        }
    }
    let inFlight = InFlightCount()
    let router = buildRouter(for: issuer, maximumInFlight: settings.maximumInFlight, inFlight: inFlight,
                             servesMetrics: settings.metricsAddress == nil)
    let maintenance = MaintenanceService(checkpointer: issuer.checkpointer, failureAudit: issuer.failureAudit, storage: storage,
                                         activations: issuer.activations, onCall: issuer.onCall,
                                         datedEntries: [issuer.onCallOverrides.entries, issuer.assignments.entries], timeSource: timeSource,
                                         checkpointInterval: settings.checkpointInterval, pruneInterval: settings.pruneInterval,
                                         logger: logger)
    let sinkDirectory = (settings.issuer.dataDirectory as NSString).appendingPathComponent("sinks")
    let sinks = AuditSinkService(forwarders: settings.auditSinks.map {
        AuditForwarder(sink: $0.makeSink(), store: storage, cursorDirectory: sinkDirectory, logger: logger)
    })
    if !sinks.forwarders.isEmpty {
        issuer.metrics.gauges { [forwarders = sinks.forwarders] metrics in
            guard let head = try? await StoreDeadline.run(settings.issuer.storeTimeout, "the metrics scrape", { try await storage.auditHead()?.sequence ?? 0 })
            else { return }
            for forwarder in forwarders {
                metrics.gauge("audit_sink_lag_entries", help: "Audit entries a sink has not received yet, by sink.",
                              labels: [("sink", forwarder.sinkName)], value: Double(forwarder.lag(head: head)))
            }
        }
    }
    return Application(
        router: router,
        // A fast path on each connection for the documents resource servers fetch most and for tokens.
        server: FastPathHTTP1Channel.builder(FastPath.Answerers(
            responses: PreparedResponses(documents: WellKnownDocuments(issuer: issuer)),
            tokens: TokenFastPath(endpoint: issuer.tokenEndpoint, metrics: issuer.metrics, limit: settings.maximumInFlight,
                                  inFlight: inFlight, logger: logger),
            metrics: issuer.metrics)),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "tessera"),
        // Graceful shutdown runs backwards through this list (after the HTTP server, which
        // Hummingbird adds last), waiting for each: the issuer, which closes the store, goes
        // first here so it stops last, after every service that reads or writes the store.
        services: [IssuerLifecycleService(issuer: issuer), maintenance, sinks,
                   PolicyReloadService(reloader: issuer.policy, pollInterval: settings.policyPollInterval),
                   KeyRotationService(keys: issuer.keyManager, interval: settings.keyCheckInterval),
                   NotificationService(sender: issuer.notificationSender)]
            + (settings.metricsAddress.map { [buildMetricsApplication(metrics: issuer.metrics, host: $0.host, port: $0.port, logger: logger)] } ?? []),
        onServerRunning: { channel in
            logger.notice("listening", metadata: [
                "tessera.address": .string(channel.localAddress?.ipAddress ?? settings.host),
                "tessera.port": .stringConvertible(channel.localAddress?.port ?? settings.port),
                "tessera.issuer": .string(issuer.urls.issuer),
            ])
            await onServerRunning(channel)
        },
        logger: logger
    )
}

/// The separate metrics listener: `GET /metrics` (and HEAD) only, on `host:port`, so the
/// figures can stay on an operations network while the main listener faces clients.
func buildMetricsApplication(metrics: TesseraMetrics, host: String, port: Int, logger: Logger) -> some Service {
    let router = Router(context: TesseraRequestContext.self)
    let routeMethods = RouteMethods()
    router.add(middleware: ErrorMiddleware(routeMethods: routeMethods))
    MetricsController(metrics: metrics).addRoutes(to: router)
    routeMethods.record(router.routes)
    return Application(
        router: router,
        configuration: .init(address: .hostname(host, port: port), serverName: "tessera"),
        onServerRunning: { channel in
            logger.notice("metrics listening", metadata: [
                "tessera.address": .string(channel.localAddress?.ipAddress ?? host),
                "tessera.port": .stringConvertible(channel.localAddress?.port ?? port),
            ])
        },
        logger: logger
    )
}

/// Builds the application and runs it until SIGTERM or SIGINT, which stop accepting
/// connections, let requests in flight finish, and return.
public func runServer(_ settings: ServerSettings, logger: Logger) async throws {
    let application = try await buildApplication(settings, logger: logger)
    try await application.runService()  // gracefulShutdownSignals defaults to SIGTERM and SIGINT
}

/// Tokens and discovery over plain HTTP are only safe on loopback.
func warnAboutInsecureIssuer(_ issuer: String, logger: Logger) {
    guard let url = URL(string: issuer), url.scheme == "http" else { return }
    let host = url.host ?? ""
    let loopback = host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    if !loopback {
        logger.warning("issuer uses http on a non-loopback host; serve it behind TLS in production", metadata: [
            "tessera.issuer": .string(issuer),
        ])
    }
}

/// Streams the audit log to its sinks until shutdown; each forwarder keeps its own cursor.
struct AuditSinkService: Service {
    let forwarders: [AuditForwarder]

    func run() async throws {
        // A service that returns ends the whole service group, the server included.
        guard !forwarders.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for forwarder in forwarders {
                    group.addTask { await forwarder.run() }
                }
            }
        }
    }
}

/// Fetches the upstreams' keys in the background at start (so the first exchange does not
/// wait), and at shutdown stops the fetches and closes the store, so the last transaction is
/// on disk and the SQLite write-ahead log is checkpointed.
struct IssuerLifecycleService: Service {
    let issuer: Issuer

    func run() async throws {
        let prefetch = Task { await issuer.upstreams.prefetch() }
        try? await gracefulShutdown()
        prefetch.cancel()
        await issuer.shutdown()
        let storage = issuer.storage
        // In a task of its own: when the group is cancelled instead of shut down gracefully,
        // the store must still close (an unclosed SQLite connection is lost writes at exit).
        try await Task { try await storage.close() }.value
    }
}
