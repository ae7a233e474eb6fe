import ArgumentParser
import Foundation
import Logging
import TesseraCore
import TesseraPolicy
import TesseraServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the issuer. Creates an ES256 signing key on first start if keys/ has none.")

    @Option(name: .customLong("listen"), help: "Address to listen on, host:port (env TESSERA_LISTEN, default 127.0.0.1:8080).")
    var listenFlag: String?

    @Option(name: .customLong("issuer"), help: "Issuer URL put in tokens and discovery (env TESSERA_ISSUER, default http://<listen address>).")
    var issuerFlag: String?

    @Option(name: .customLong("checkpoint-interval"), help: "How often to sign an audit checkpoint, served at /audit/checkpoint (env TESSERA_CHECKPOINT_INTERVAL, default 1h; 0 disables).")
    var checkpointIntervalFlag: String?

    @Option(name: .customLong("prune-interval"), help: "How often to delete expired tokens and assertion jtis (env TESSERA_PRUNE_INTERVAL, default 5m; 0 disables).")
    var pruneIntervalFlag: String?

    @Option(name: .customLong("audit-sink"), help: "Stream audit entries to file:/path.jsonl[?max-bytes=N&keep=K] or syslog+tcp://host:port; repeatable (env TESSERA_AUDIT_SINKS, comma-separated).")
    var auditSinkFlags: [String] = []

    @Option(name: .customLong("policy-poll-interval"), help: "How often to check the policies folder for changes (env TESSERA_POLICY_POLL_INTERVAL, default 2s; 0: reload on SIGHUP only).")
    var policyPollIntervalFlag: String?

    @Option(name: .customLong("key-check-interval"), help: "How often signing keys move through their lifecycle and changes by other replicas or `tessera keys` are picked up (env TESSERA_KEY_CHECK_INTERVAL, default 2s).")
    var keyCheckIntervalFlag: String?

    @Option(name: .customLong("store-timeout"), help: "How long a request waits for the store before it is answered 503 temporarily_unavailable (env TESSERA_STORE_TIMEOUT, default 5s).")
    var storeTimeoutFlag: String?

    @Option(name: .customLong("max-in-flight"), help: "Requests served at once; past it, 503 with Retry-After at once instead of queueing (env TESSERA_MAX_IN_FLIGHT, default 4096; probes excepted).")
    var maxInFlightFlag: String?

    @Option(name: .customLong("metrics-listen"), help: "Serve GET /metrics on this host:port only, not on --listen (env TESSERA_METRICS_LISTEN; default: on the main listener).")
    var metricsListenFlag: String?

    @Flag(name: .customLong("unsafe-short-key-timings"), help: .hidden)
    var unsafeShortKeyTimings = false

    @Flag(name: .customLong("dev"), help: "Trust identity tokens from `tessera dev token` (the development upstream). Never in production.")
    var dev = false

    @OptionGroup var folders: FolderOptions
    @OptionGroup var store: StoreOption
    @OptionGroup var logging: LogOptions
    @OptionGroup var encryption: KeyEncryptionOptions

    func validate() throws {
        for sink in auditSinks {
            do {
                _ = try AuditSinkSpecification(sink)
            } catch {
                throw ValidationError(error.description)
            }
        }
        guard (DurationText.seconds(storeTimeout) ?? 0) > 0 else { throw ValidationError("--store-timeout must be a duration such as 5s, not \(storeTimeout)") }
        guard (Int(maxInFlight) ?? 0) > 0 else { throw ValidationError("--max-in-flight must be a positive number, not \(maxInFlight)") }
        for (flag, text) in [("--checkpoint-interval", checkpointInterval), ("--prune-interval", pruneInterval),
                             ("--policy-poll-interval", policyPollInterval), ("--key-check-interval", keyCheckInterval)] {
            guard DurationText.seconds(text) != nil else {
                throw ValidationError("\(flag) must be a duration such as 0, 90s, 5m or 1h, not \(text)")
            }
        }
    }

    /// The sink flags, or the environment's comma-separated list when no flag is given.
    var auditSinks: [String] {
        if !auditSinkFlags.isEmpty { return auditSinkFlags }
        return resolve(nil, "TESSERA_AUDIT_SINKS", "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    var checkpointInterval: String { resolve(checkpointIntervalFlag, "TESSERA_CHECKPOINT_INTERVAL", "1h") }
    var pruneInterval: String { resolve(pruneIntervalFlag, "TESSERA_PRUNE_INTERVAL", "5m") }
    var policyPollInterval: String { resolve(policyPollIntervalFlag, "TESSERA_POLICY_POLL_INTERVAL", "2s") }
    var keyCheckInterval: String { resolve(keyCheckIntervalFlag, "TESSERA_KEY_CHECK_INTERVAL", "2s") }
    var storeTimeout: String { resolve(storeTimeoutFlag, "TESSERA_STORE_TIMEOUT", "5s") }
    var maxInFlight: String { resolve(maxInFlightFlag, "TESSERA_MAX_IN_FLIGHT", String(ServerSettings.defaultMaximumInFlight)) }

    func run() async throws {
        // SIGHUP reloads the policies, but its handler is installed only once the services run;
        // until then the default action would kill the server, so a reload sent during start-up
        // is ignored instead.
        signal(SIGHUP, SIG_IGN)
        let logger = logging.bootstrap()
        let listen = resolve(listenFlag, "TESSERA_LISTEN", "127.0.0.1:8080")
        guard let (host, port) = ListenAddress.parse(listen) else {
            fail("--listen must be host:port (for example 127.0.0.1:8080 or [::1]:8080), not \(listen)")
        }
        let issuer = resolve(issuerFlag, "TESSERA_ISSUER", ListenAddress.defaultIssuer(host: host, port: port))
        guard let url = URL(string: issuer), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
              url.query == nil, url.fragment == nil
        else {
            fail("--issuer must be an http(s) URL without query or fragment (RFC 8414 §2), not \(issuer)")
        }
        var settings = ServerSettings(host: host, port: port, issuer: IssuerConfiguration(
            issuer: issuer, keysDirectory: folders.keys, policiesDirectory: folders.policies, dataDirectory: folders.data,
            storeURL: store.url, devUpstream: dev, keyEncryptionKey: encryption.load(), unsafeShortKeyTimings: unsafeShortKeyTimings),
            checkpointInterval: .seconds(DurationText.seconds(checkpointInterval) ?? 3600),
            pruneInterval: .seconds(DurationText.seconds(pruneInterval) ?? 300),
            auditSinks: auditSinks.compactMap { try? AuditSinkSpecification($0) })
        settings.policyPollInterval = .seconds(DurationText.seconds(policyPollInterval) ?? 2)
        settings.keyCheckInterval = .seconds(max(DurationText.seconds(keyCheckInterval) ?? 2, 1))
        settings.maximumInFlight = Int(maxInFlight) ?? ServerSettings.defaultMaximumInFlight
        settings.issuer.storeTimeout = .seconds(DurationText.seconds(storeTimeout) ?? 5)
        if let metricsListen = resolveOptional(metricsListenFlag, "TESSERA_METRICS_LISTEN") {
            guard let (metricsHost, metricsPort) = ListenAddress.parse(metricsListen) else {
                fail("--metrics-listen must be host:port (for example 127.0.0.1:9464), not \(metricsListen)")
            }
            settings.metricsAddress = (metricsHost, metricsPort)
        }
        if unsafeShortKeyTimings {
            logger.warning("UNSAFE SHORT KEY TIMINGS: keys may sign sooner after publication than verifiers refresh their JWKS. For tests only.")
        }
        do {
            try await runServer(settings, logger: logger)
        } catch let error as IssuerStartupError {
            fail(error.description)
        }
    }
}

enum ListenAddress {
    /// `host:port`, `[v6]:port`; port 0 picks a free port.
    static func parse(_ text: String) -> (String, Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    static func defaultIssuer(host: String, port: Int) -> String {
        let wildcard = host == "0.0.0.0" || host == "::"
        let shown = wildcard ? "127.0.0.1" : host.contains(":") ? "[\(host)]" : host
        return "http://\(shown):\(port)"
    }
}
