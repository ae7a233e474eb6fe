import Foundation
import Prometheus
import Synchronization
import TesseraCrypto
import TesseraJWT

/// The server's Prometheus metrics (`GET /metrics`), one registry per server. Every family has
/// `# HELP` text and base units, and every label has bounded values: route patterns, grant
/// types, role names of the bundle (anything else is `other`), error codes, event names; never
/// subjects, token ids or raw paths.
///
/// Counters move where things happen (requests, audit commits); gauges that describe state
/// (keys by state, on-call sync age, assignments in force) are read when scraped, from
/// providers the server registers.
public final class TesseraMetrics: Sendable {
    public static let version = "0.1.0"
    static let latencyBuckets: [Duration] = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10)]
    static let groupSizeBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    public let registry = PrometheusCollectorRegistry()
    /// Whether a role name is one of the bundle's (labels never carry a name a client made up).
    private let knownRoles = Mutex(KnownRoles { _ in false })
    private let gaugeProviders = Mutex<[@Sendable (TesseraMetrics) async -> Void]>([])
    private let counters = MetricMemo<Counter>()
    private let durations = MetricMemo<DurationHistogram>()
    private let values = MetricMemo<ValueHistogram>()
    private let requests = Mutex<[RequestKey: RequestRecorder]>([:])

    public init() {
        registry.makeGauge(descriptor: Self.name("build_info", help: "Tessera's version and the OpenSSL library it uses; always 1."),
                           labels: [("version", Self.version), ("openssl", OpenSSLBaseline.version)]).set(to: 1.0)
    }

    static func name(_ metric: String, unit: String? = nil, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "tessera", metricName: metric, unitName: unit ?? "", helpText: help)
    }

    /// The counter `metric` with `labels`, from the memo after the first time.
    private func counter(_ metric: String, help: @autoclosure () -> String, labels: [(String, String)] = []) -> Counter {
        counters.metric(metric, labels) { registry.makeCounter(descriptor: Self.name(metric, help: help()), labels: labels) }
    }

    private func duration(_ metric: String, help: @autoclosure () -> String, labels: [(String, String)] = []) -> DurationHistogram {
        durations.metric(metric, labels) {
            registry.makeDurationHistogram(descriptor: Self.name(metric, unit: "seconds", help: help()), labels: labels, buckets: Self.latencyBuckets)
        }
    }

    // MARK: HTTP

    /// One answered request: `route` is the router's pattern (`/requests/{id}`), `unmatched` for
    /// paths no route has.
    public func request(route: String, method: String, status: Int, duration: Duration) {
        recorder(route: route, method: method, status: status).record(duration)
    }

    /// The counter and histogram one kind of answer goes to, for a caller that answers many of
    /// the same kind (the fast path of the well-known documents keeps one per document).
    public func recorder(route: String, method: String, status: Int) -> RequestRecorder {
        let key = RequestKey(route: route, method: method, statusClass: status / 100)
        if let recorder = requests.withLock({ $0[key] }) { return recorder }
        let made = RequestRecorder(
            count: counter("http_requests_total", help: "HTTP requests answered, by route pattern, method and status class.",
                           labels: [("route", route), ("method", method), ("status", "\(key.statusClass)xx")]),
            duration: self.duration("http_request_duration", help: "Time from a request's head to its response, by route pattern.",
                                    labels: [("route", route)]))
        requests.withLock { $0[key] = made }
        return made
    }

    /// One answered request's metrics: its count and its latency.
    public struct RequestRecorder: Sendable {
        let count: Counter
        let duration: DurationHistogram

        public func record(_ latency: Duration) {
            count.increment()
            duration.record(latency)
        }
    }

    /// The per-request metrics by what labels them: one lookup per request, no label arrays.
    private struct RequestKey: Hashable {
        let route: String
        let method: String
        let statusClass: Int
    }

    /// A request answered 503 at once instead of being served (`overload`: too many in flight).
    public func refused(reason: String) {
        counter("http_requests_refused_total", help: "Requests refused at once with 503, by reason.", labels: [("reason", reason)]).increment()
    }

    // MARK: Audit

    /// A group of entries committed together, and how long the commit took.
    func auditCommitted(_ events: [AuditEvent], duration: Duration) {
        counter("audit_appends_total", help: "Audit entries committed to the store.").increment(by: Int64(events.count))
        values.metric("audit_group_entries", []) {
            registry.makeValueHistogram(descriptor: Self.name("audit_group_entries", help: "Entries per audit commit (group commit)."),
                                        buckets: Self.groupSizeBuckets)
        }.record(Double(events.count))
        self.duration("audit_commit_duration", help: "Time one audit commit (a transaction and its fsync) took.").record(duration)
        for event in events { observe(event) }
    }

    /// A group the store refused: nothing of it was committed (and no token of it was issued).
    func auditFailed(entries: Int) {
        counter("store_errors_total", help: "Store operations that failed, by operation.", labels: [("operation", "audit_append")]).increment()
    }

    /// What an audit entry says about tokens and authentication, counted by bounded labels.
    private func observe(_ event: AuditEvent) {
        counter("audit_events_total", help: "Audit entries committed, by event.", labels: [("event", event.event)]).increment()
        let grantType = event.target["grant_type"]?.stringValue.map(Self.grantTypeLabel) ?? "none"
        switch event.event {
        case "token.issued":
            counter("tokens_issued_total", help: "Tokens issued, by grant type and role.", labels: [("grant_type", grantType), ("role", roleLabel(event))]).increment()
        case "token.denied":
            let error = event.reasons.first.flatMap { $0.split(separator: ":").first.map(String.init) } ?? "unknown"
            counter("tokens_denied_total", help: "Token requests refused, by grant type, role and OAuth error code.", labels: [("grant_type", grantType), ("role", roleLabel(event)), ("error", Self.errorLabel(error))]).increment()
        case "client.authentication_failed":
            let endpoint = event.target["endpoint"]?.stringValue ?? "unknown"
            counter("client_authentication_failure_records_total", help: "Audit records of failed client authentication, by endpoint (one per failure, or one summary per source and minute).", labels: [("endpoint", Self.endpointLabel(endpoint))]).increment()
        case "policy.loaded", "policy.rejected":
            counter("policy_loads_total", help: "Policy bundle loads (at start and each reload), by outcome: loaded, or rejected (the previous bundle stays).", labels: [("outcome", event.event == "policy.loaded" ? "loaded" : "rejected")]).increment()
        case "notification.failed":
            // Logged at a notification's first failure and when delivery gives up.
            let final = event.target["will_retry"] == .bool(false)
            counter("notification_failures_total", help: "Notifications that failed: at their first failure (will_retry), and when delivery gave up (final).", labels: [("sink", event.target["sink"]?.stringValue ?? "unknown"), ("stage", final ? "final" : "will_retry")]).increment()
        default:
            break
        }
    }

    /// Upstream JWKS (and discovery) fetches since the last scrape, by upstream id of the bundle.
    func upstreamFetches(upstream: String, fetches: Int, failures: Int) {
        counter("upstream_jwks_fetches_total", help: "Fetches of an upstream's JWK Set, by upstream.", labels: [("upstream", upstream)]).increment(by: Int64(fetches))
        counter("upstream_jwks_fetch_failures_total", help: "Fetches of an upstream's JWK Set that failed, by upstream.", labels: [("upstream", upstream)]).increment(by: Int64(failures))
    }

    /// Where role names are checked (the current bundle's engine).
    public func useRoles(_ known: @escaping @Sendable (String) -> Bool) {
        knownRoles.withLock { $0 = KnownRoles(contains: known) }
    }

    /// The check, in a struct: a bare closure in the `Mutex` came back from every `withLock`
    /// wrapped in two more reabstraction thunks (Swift 6.3), so each label lookup ran one
    /// layer deeper than the last: after 10,000 exchanges, 30% of a core went to unwinding them.
    private struct KnownRoles: Sendable {
        let contains: @Sendable (String) -> Bool
    }

    private func roleLabel(_ event: AuditEvent) -> String {
        guard let role = event.target["role"]?.stringValue else { return "none" }
        return knownRoles.withLock { $0 }.contains(role) ? role : "other"
    }

    static func grantTypeLabel(_ value: String) -> String {
        switch value {
        case "client_credentials": "client_credentials"
        case "urn:ietf:params:oauth:grant-type:token-exchange": "token_exchange"
        default: "other"
        }
    }

    static let errorCodes: Set<String> = ["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
                                          "invalid_scope", "invalid_target", "access_denied", "approval_required", "temporarily_unavailable",
                                          "server_error", "invalid_token"]
    static func errorLabel(_ code: String) -> String { errorCodes.contains(code) ? code : "other" }

    static func endpointLabel(_ endpoint: String) -> String {
        ["/token", "/introspect", "/revoke"].contains(endpoint) ? endpoint : "other"
    }

    // MARK: State, read when scraped

    /// Registers a provider that sets gauges before each scrape.
    public func gauges(_ provider: @escaping @Sendable (TesseraMetrics) async -> Void) {
        gaugeProviders.withLock { $0.append(provider) }
    }

    public func gauge(_ metric: String, unit: String? = nil, help: String, labels: [(String, String)] = [], value: Double) {
        registry.makeGauge(descriptor: Self.name(metric, unit: unit, help: help), labels: labels).set(to: value)
    }

    /// The text exposition format, gauges refreshed first.
    public func scrape() async -> [UInt8] {
        for provider in gaugeProviders.withLock({ $0 }) { await provider(self) }
        return registry.emitToBuffer()
    }
}
