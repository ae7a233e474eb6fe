import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TesseraCore
import TesseraJWT
import TesseraPolicy
import TesseraServer
import TesseraStore
import TesseraTestLogging

/// A webhook receiver on 127.0.0.1 (a free port): records every request and answers from a
/// script per path, then 204.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        let path: String
        let headers: [String: String]
        let body: [UInt8]
        let at: ContinuousClock.Instant
        let status: Int
    }

    struct Answer: Sendable {
        let status: Int
        var retryAfter: String?
    }

    private let state: Mutex<(script: [String: [Answer]], received: [Received])>

    init(script: [String: [Answer]]) {
        state = Mutex((script, []))
    }

    var received: [Received] { state.withLock { $0.received } }

    /// Replaces what `path` answers from now on (empty: 204 to everything).
    func script(_ path: String, _ answers: [Answer]) {
        state.withLock { $0.script[path] = answers }
    }

    func answer(path: String, headers: HTTPFields, body: [UInt8]) -> Answer {
        state.withLock { state in
            let answer = state.script[path]?.isEmpty == false ? state.script[path]!.removeFirst() : Answer(status: 204)
            var names: [String: String] = [:]
            for field in headers { names[field.name.canonicalName] = field.value }
            state.received.append(Received(path: path, headers: names, body: body, at: .now, status: answer.status))
            return answer
        }
    }

    /// Runs `body` with the receiver listening; the port is passed in.
    func serving<T: Sendable>(_ body: @Sendable (Int) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/{path}") { request, context -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let answer = self.answer(path: context.parameters.get("path") ?? "", headers: request.headers, body: Array(buffer: bytes))
            var fields = HTTPFields()
            fields[.retryAfter] = answer.retryAfter
            return Response(status: HTTPResponse.Status(code: answer.status), headers: fields)
        }
        var logger = Logger.forCurrentTest(label: "receiver")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        return try await app.test(.live) { client in try await body(try #require(client.port)) }
    }
}

@Suite("notification delivery over HTTP", .serialized)
struct NotificationDeliveryTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    static func settings(port: Int, paths: [String: NotificationSinkKind]) -> NotificationSettings {
        let location = SourceLocation(file: "notifications.yaml")
        let sinks = paths.sorted { $0.key < $1.key }.map { path, kind in
            NotificationSink(name: path, kind: kind, url: "http://127.0.0.1:\(port)/\(path)",
                             secret: kind == .webhook ? WebhookSecret(text: secret) : nil, location: location)
        }
        return NotificationSettings(sinks: sinks, routes: [NotificationRoute(events: nil, sinks: sinks.map(\.name), location: location)])
    }

    /// A sender with fast retries (the policy's timings are its own tests' business), polling
    /// every 50 ms, over a real HTTP client.
    static func withSender<T: Sendable>(_ store: InMemoryStorage, _ settings: NotificationSettings,
                                        _ body: @Sendable (NotificationSender) async throws -> T) async throws -> T {
        var logger = Logger.forCurrentTest()
        logger.logLevel = .critical
        let client = HTTPNotificationTransport.makeHTTPClient()
        let sender = NotificationSender(
            outbox: store, settings: CurrentValue(settings), transport: HTTPNotificationTransport(client: client),
            audit: AuditLog(store: store, timeSource: SystemTimeSource()),
            options: NotificationSender.Options(pollInterval: .milliseconds(50),
                                                retry: NotificationRetryPolicy(initialDelay: 0.05, maximumDelay: 0.2)),
            logger: logger)
        let running = Task { await sender.run() }
        do {
            let result = try await body(sender)
            sender.stop()
            await running.value
            try await client.shutdown()
            return result
        } catch {
            sender.stop()
            await running.value
            try await client.shutdown()
            throw error
        }
    }

    static func record(_ events: [NotificationEvent], settings: NotificationSettings, in store: InMemoryStorage) async throws -> [OutboxNotification] {
        let router = NotificationRouter(settings: settings)
        let rows = events.flatMap { router.notifications(for: $0, at: Date()) }
        _ = try await store.commit(ActivationChange(notifications: rows, time: Date())) { _ in [] }
        return rows
    }

    static func waitUntil(seconds: Double = 20, _ condition: @Sendable () async throws -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int(seconds * 1000))
        while try await !condition() {
            guard clock.now < deadline else { Issue.record("timed out waiting"); return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func events(_ count: Int) -> [NotificationEvent] {
        (0..<count).map { index in
            NotificationEvent(.requestCreated, role: "db-admin", data: [
                "request_id": .string("req_\(index)"), "requester": "corp:alice", "justification": .string("INC-\(index) <&>"),
                "stage": 1, "stages": 2, "approvers": ["sre"],
            ])
        }
    }

    /// 500, then 503 with Retry-After, then recovery: every notification arrives, each answered
    /// 2xx exactly once, every attempt with the same id and body, and the Retry-After waited out.
    @Test func aReceiverThatFailsThenRecoversGetsEverythingOnce() async throws {
        let receiver = WebhookReceiver(script: ["hook": [.init(status: 500), .init(status: 503, retryAfter: "1")],
                                                "slack": [.init(status: 503)]])
        try await receiver.serving { port in
            let store = InMemoryStorage()
            let settings = Self.settings(port: port, paths: ["hook": .webhook, "slack": .slack])
            let rows = try await Self.record(Self.events(3), settings: settings, in: store)
            #expect(rows.count == 6)
            try await Self.withSender(store, settings) { sender in
                sender.wake()
                try await Self.waitUntil { await store.notifications(in: .delivered, limit: 100).count == rows.count }
            }
            let received = receiver.received
            for row in rows {
                let attempts = received.filter { $0.headers["webhook-id"] == row.id || (row.sink == "slack" && $0.body == Array(row.payload.utf8)) }
                #expect(attempts.filter { (200..<300).contains($0.status) }.count == 1, "\(row.id) was not accepted exactly once")
                #expect(attempts.allSatisfy { $0.body == Array(row.payload.utf8) && $0.path == row.sink })
            }
            #expect(received.count == rows.count + 3)
            // The request after the 503 with Retry-After: 1 came at least a second later.
            let refused = try #require(received.first { $0.status == 503 && $0.path == "hook" })
            let id = try #require(refused.headers["webhook-id"])
            let next = try #require(received.first { $0.headers["webhook-id"] == id && $0.at > refused.at })
            #expect(refused.at.duration(to: next.at) >= .milliseconds(950))
            // Slack gets its message unsigned.
            #expect(received.filter { $0.path == "slack" }.allSatisfy { $0.headers["webhook-signature"] == nil })
            let slack = try JSONSerialization.jsonObject(with: Data(try #require(received.first { $0.path == "slack" }).body)) as? [String: Any]
            #expect(slack?["blocks"] is [Any])
            // The first failure of each notification is audited, nothing more.
            let failures = try await store.auditEntries(after: 0, limit: 100).filter { $0.event == "notification.failed" }
            #expect(failures.count == 3)
        }
    }

    /// 410 Gone: one attempt, failed for good, audited, never sent again.
    @Test func goneStopsDelivery() async throws {
        let receiver = WebhookReceiver(script: ["gone": [.init(status: 410)]])
        try await receiver.serving { port in
            let store = InMemoryStorage()
            let settings = Self.settings(port: port, paths: ["gone": .webhook])
            let rows = try await Self.record(Self.events(1), settings: settings, in: store)
            try await Self.withSender(store, settings) { sender in
                sender.wake()
                try await Self.waitUntil { await store.notifications(in: .failed, limit: 10).count == 1 }
                try await Task.sleep(for: .milliseconds(500))  // ten polls: nothing more goes out
            }
            #expect(receiver.received.count == 1)
            #expect(receiver.received.first?.headers["webhook-id"] == rows[0].id)
            let failed = await store.notifications(in: .failed, limit: 10)
            #expect(failed.first?.lastError?.hasPrefix("HTTP 410") == true)
            let audit = try await store.auditEntries(after: 0, limit: 100).filter { $0.event == "notification.failed" }
            #expect(audit.count == 1)
            #expect(audit.first?.body.contains(#""will_retry":false"#) == true)
        }
    }

    /// The Service wrapper runs the sender until graceful shutdown and then returns.
    @Test func theServiceStopsAtGracefulShutdown() async throws {
        let receiver = WebhookReceiver(script: [:])
        try await receiver.serving { port in
            let store = InMemoryStorage()
            let settings = Self.settings(port: port, paths: ["hook": .webhook])
            var logger = Logger.forCurrentTest()
            logger.logLevel = .critical
            let client = HTTPNotificationTransport.makeHTTPClient()
            let sender = NotificationSender(outbox: store, settings: CurrentValue(settings), transport: HTTPNotificationTransport(client: client),
                                            audit: AuditLog(store: store, timeSource: SystemTimeSource()), logger: logger)
            let group = ServiceGroup(configuration: .init(services: [NotificationService(sender: sender)], logger: logger))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                _ = try await Self.record(Self.events(2), settings: settings, in: store)
                sender.wake()
                try await Self.waitUntil { await store.notifications(in: .delivered, limit: 10).count == 2 }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            try await client.shutdown()
            #expect(receiver.received.count == 2)
        }
    }

    /// Code nobody here wrote verifies every signature: PyPI standardwebhooks.
    @Test func standardWebhooksVerifiesEveryDelivery() async throws {
        guard let python = which("python3"), (try? await run(python, ["-c", "import standardwebhooks"]).status) == 0 else {
            peerMissing("python3 with standardwebhooks (pip install standardwebhooks)")
            return
        }
        let receiver = WebhookReceiver(script: ["hook": [.init(status: 500)]])
        try await receiver.serving { port in
            let store = InMemoryStorage()
            let settings = Self.settings(port: port, paths: ["hook": .webhook])
            let rows = try await Self.record(Self.events(3), settings: settings, in: store)
            try await Self.withSender(store, settings) { sender in
                sender.wake()
                try await Self.waitUntil { await store.notifications(in: .delivered, limit: 100).count == rows.count }
            }
            #expect(receiver.received.count == 4)
            #expect(try await Self.verifyWithStandardWebhooks(receiver.received, python: python) == "verified 4, refused 16 forgeries")
        }
    }

    /// What the PyPI package says of `received` (each with the type its body claims): the
    /// verifier's summary line, or its failure recorded as an issue.
    static func verifyWithStandardWebhooks(_ received: [WebhookReceiver.Received], python: String, secret: String = secret) async throws -> String {
        let requests: [[String: Any]] = received.map { request in
            let body = String(decoding: request.body, as: UTF8.self)
            let type = (try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])?["type"] as? String ?? ""
            return ["headers": request.headers.filter { $0.key.hasPrefix("webhook-") }, "body": body, "type": type]
        }
        let file = NSTemporaryDirectory() + "tessera-webhooks-\(UUID()).json"
        try JSONSerialization.data(withJSONObject: requests).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await run(python, ["-c", Self.verifier, secret, file])
        #expect(result.status == 0, "standardwebhooks refused: \(result.output) \(result.error)")
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Verifies each recorded request, then checks that a changed body, id or timestamp, or
    /// another secret, is refused.
    static let verifier = #"""
    import json, sys, base64
    from standardwebhooks import Webhook
    secret, path = sys.argv[1], sys.argv[2]
    requests = json.load(open(path))
    hook = Webhook(secret)
    other = Webhook("whsec_" + base64.b64encode(b"another secret of 32 bytes......").decode())
    refused = 0
    for request in requests:
        headers, body = request["headers"], request["body"]
        payload = hook.verify(body, headers)
        assert payload["type"] == request["type"], payload
        forgeries = [
            (hook, body.replace('"type":"', '"type":"x', 1), headers),
            (hook, body, dict(headers, **{"webhook-id": headers["webhook-id"] + "x"})),
            (hook, body, dict(headers, **{"webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)})),
            (other, body, headers),
        ]
        for verifier, forged_body, forged_headers in forgeries:
            try:
                verifier.verify(forged_body, forged_headers)
            except Exception:
                refused += 1
            else:
                sys.exit("a forgery was accepted")
    print("verified %d, refused %d forgeries" % (len(requests), refused))
    """#
}
