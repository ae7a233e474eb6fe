import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import TesseraCore
import TesseraServer
import TesseraTestLogging

/// Hot reload of the policy bundle: a good change takes effect, a broken file is refused and
/// the previous bundle keeps serving.
@Suite("policy hot reload")
struct PolicyReloadTests {
    let fixture: ServerFixture

    init() throws {
        fixture = try ServerFixture()
    }

    func token(_ client: some TestClientProtocol, as clientID: String, secret: String) async throws -> HTTPResponse.Status {
        var headers = formHeaders
        headers[.authorization] = "Basic " + Data("\(clientID):\(secret)".utf8).base64EncodedString()
        return try await client.execute(uri: "/token", method: .post, headers: headers,
                                        body: formBody([("grant_type", "client_credentials")])).status
    }

    /// Polls until `condition` holds: reloads happen on the server's own schedule.
    func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func aGoodChangeTakesEffectAndABrokenOneIsRefused() async throws {
        var settings = fixture.settings
        settings.policyPollInterval = .milliseconds(50)
        var logger = Logger.forCurrentTest()
        logger.logLevel = .critical
        let app = try await buildApplication(settings, logger: logger)
        let clientsFile = fixture.root + "/policies/clients.yaml"
        let original = try String(contentsOfFile: clientsFile, encoding: .utf8)
        let added = ClientSecret.generate()
        try await app.test(.router) { client in
            #expect(try await token(client, as: "newcomer", secret: added.secret) == .unauthorized)
            try (original + """

              - id: newcomer
                secret_sha256: "\(added.sha256Hex)"
                audiences: [https://api.example.com]
            """).write(toFile: clientsFile, atomically: true, encoding: .utf8)
            #expect(try await eventually { try await token(client, as: "newcomer", secret: added.secret) == .ok },
                    "the new client never became usable")

            // A broken file: refused, and both clients keep working as before.
            try (original + "\n  - id: broken\n    audiences: [x\n").write(toFile: clientsFile, atomically: true, encoding: .utf8)
            #expect(try await eventually { try await fixture.auditEvents().contains("policy.rejected") }, "the broken bundle was not refused")
            #expect(try await token(client, as: "newcomer", secret: added.secret) == .ok)
            #expect(try await token(client, as: "demo", secret: fixture.basicSecret) == .ok)
        }
        let events = try await fixture.auditEvents()
        #expect(events.filter { $0 == "policy.loaded" }.count == 2, "\(events)")
    }

    /// `tessera serve` with polling off: only SIGHUP can bring the change in. The change gives
    /// the demo client a new scope (a refusal is a 400; a 401 would make Foundation's URLSession
    /// wait for credentials).
    @Test func sighupReloadsARunningServer() async throws {
        guard let tessera = CommandLineTests.executable else {
            peerMissing("the tessera executable (swift build --build-tests builds it)")
            return
        }
        let root = fixture.root
        let server = try await Replica.start(tessera, ["--keys", root + "/keys", "--policies", root + "/policies", "--data", root + "/data-sighup",
                                                       "--policy-poll-interval", "0"])
        defer { server.kill() }
        let authorization = "Basic " + Data("demo:\(fixture.basicSecret)".utf8).base64EncodedString()
        let request = ["grant_type": "client_credentials", "scope": "deploy"]
        #expect(try await server.post("/token", request, authorization) == 400)

        let clientsFile = root + "/policies/clients.yaml"
        let original = try String(contentsOfFile: clientsFile, encoding: .utf8)
        try original.replacingOccurrences(of: "scopes: [read, write]", with: "scopes: [read, write, deploy]")
            .write(toFile: clientsFile, atomically: true, encoding: .utf8)
        // Polling is off, so the change must wait for the signal.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await server.post("/token", request, authorization) == 400, "the change took effect without SIGHUP although polling is off")

        // A signal sent before the handler is in place is ignored, so send until it lands.
        var status = 0
        for _ in 0..<50 where status != 200 {
            kill(server.process.processIdentifier, SIGHUP)
            try await Task.sleep(for: .milliseconds(100))
            #expect(server.process.isRunning, "SIGHUP stopped the server")
            status = try await server.post("/token", request, authorization)
        }
        #expect(status == 200, "SIGHUP did not bring in the new scope")
        let (discovery, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(server.port)/.well-known/openid-configuration")!)
        let scopes = (try JSONSerialization.jsonObject(with: discovery) as? [String: Any])?["scopes_supported"] as? [String] ?? []
        #expect(scopes.contains("deploy"), "discovery still advertises the old scopes: \(scopes)")
        try await server.stop()
        #expect(server.process.terminationStatus == 0)
    }
}
