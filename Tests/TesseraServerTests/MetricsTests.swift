import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TesseraCore
import TesseraServer
import Logging

/// `GET /metrics`: after tokens are issued and refused, the scrape counts them by grant type
/// and outcome, the requests by route pattern (never the raw path) and status class, and the
/// audit commits; Prometheus's own `promtool check metrics` finds nothing to fault.
@Suite("Prometheus metrics")
struct MetricsTests {
    @Test func theScrapeCountsTokensRequestsAndCommitsAndPassesPromtool() async throws {
        let fixture = try ServerFixture()
        var settings = fixture.settings
        // A syslog collector that is not there: nothing is delivered, so the sink lags by
        // every entry of the log.
        let sink = AuditSinkSpecification.syslogTCP(host: "127.0.0.1", port: try LoopbackSocket.freePort())
        settings.auditSinks = [sink]
        let application = try await buildApplication(settings, logger: .forCurrentTest())
        let scrape = try await application.test(.router) { client -> String in
            let basic: HTTPFields = [.authorization: fixture.basicAuthorization(client: "demo"), .contentType: "application/x-www-form-urlencoded"]
            for _ in 0..<3 {
                let issued = try await client.execute(uri: "/token", method: .post, headers: basic, body: ByteBuffer(string: "grant_type=client_credentials"))
                #expect(issued.status == .ok)
            }
            let refused = try await client.execute(uri: "/token", method: .post, headers: basic,
                                                   body: ByteBuffer(string: "grant_type=client_credentials&scope=admin"))
            #expect(refused.status == .badRequest)
            _ = try await client.execute(uri: "/requests/req-secret-id-123", method: .get)
            _ = try await client.execute(uri: "/no/such/path", method: .get)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            return String(buffer: metrics.body)
        }
        func value(_ series: String) -> Double? {
            scrape.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        #expect(value(#"tessera_tokens_issued_total{grant_type="client_credentials",role="none"}"#) == 3, "\(scrape)")
        #expect(value(#"tessera_tokens_denied_total{grant_type="client_credentials",role="none",error="invalid_scope"}"#) == 1, "\(scrape)")
        #expect(value(#"tessera_http_requests_total{route="/token",method="POST",status="2xx"}"#) == 3)
        #expect(value(#"tessera_http_requests_total{route="/token",method="POST",status="4xx"}"#) == 1)
        #expect(scrape.contains(#"route="/requests/{id}""#))
        #expect(scrape.contains(#"route="unmatched""#))
        #expect(!scrape.contains("req-secret-id-123"), "a raw path reached a label")
        #expect((value("tessera_audit_appends_total") ?? 0) >= 4)
        #expect(scrape.contains("tessera_build_info{version="))
        // State read at the scrape: the key set, the policy load, the workflow, the sink.
        #expect(value(#"tessera_signing_keys{state="current",alg="ES256"}"#) == 1, "\(scrape)")
        #expect(value(#"tessera_signing_keys{state="revoked",alg="ES256"}"#) == 0)
        #expect(value(#"tessera_policy_loads_total{outcome="loaded"}"#) == 1)
        #expect(value("tessera_requests_pending") == 0)
        #expect(value("tessera_activations_active") == 0)
        #expect(value("tessera_break_glass_unreviewed") == 0)
        #expect(value("tessera_notification_outbox_pending") == 0)
        #expect((value(#"tessera_audit_sink_lag_entries{sink="\#(sink.cursorName)"}"#) ?? 0) >= 4, "\(scrape)")
        #expect(scrape.contains("# HELP tessera_http_request_duration_seconds "))

        guard let promtool = which("promtool") else {
            peerMissing("promtool (apt-get install prometheus)")
            return
        }
        let file = NSTemporaryDirectory() + "tessera-scrape-\(UUID()).txt"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try scrape.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try await run("/bin/sh", ["-c", "\"$0\" check metrics < \"$1\"", promtool, file])
        #expect(check.status == 0, "promtool check metrics: \(check.output)\(check.error)")
    }
}

/// `--metrics-listen`: the figures move to a listener of their own, and the main listener no
/// longer answers `/metrics` (the production advice: scrape on an operations network).
@Suite("metrics on a separate listener")
struct MetricsListenerTests {
    static func get(_ path: String, port: Int) throws -> (status: Int, body: String) {
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
        let text = String(decoding: try LoopbackSocket.exchange(Array(request.utf8), port: port), as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test func metricsMoveToTheirOwnListener() async throws {
        let bundle = try ReviewBundle()
        let server = try await ReviewServer.start(try ActivationFlowTests.tesseraExecutable(), bundle,
                                                  arguments: bundle.folders + ["--metrics-listen", "127.0.0.1:0"])
        defer { server.kill() }
        var metricsPort: Int?
        for _ in 0..<100 where metricsPort == nil {
            for line in server.log().split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      object["message"] as? String == "metrics listening" else { continue }
                metricsPort = (object["tessera.port"] as? String).flatMap(Int.init)
            }
            if metricsPort == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let port = try #require(metricsPort, "no \"metrics listening\" line: \(server.log())")
        let (mainPort, otherPort) = (server.port, port)
        let scraped = try await onBlockingThread { try Self.get("/metrics", port: otherPort) }
        #expect(scraped.status == 200)
        #expect(scraped.body.contains("tessera_build_info{"))
        #expect(scraped.body.contains("tessera_signing_keys{"))
        #expect(try await onBlockingThread { try Self.get("/metrics", port: mainPort) }.status == 404, "the main listener still serves /metrics")
        #expect(try await onBlockingThread { try Self.get("/.well-known/jwks.json", port: otherPort) }.status == 404,
                "the metrics listener serves more than /metrics")
        #expect(try await onBlockingThread { try Self.get("/.well-known/jwks.json", port: mainPort) }.status == 200)
    }
}
