import Foundation
import Testing
import TesseraCore
import TesseraJWT

/// Notifications from a live `tessera serve` (policies/notifications.yaml) to a receiver on
/// loopback: every step of the workflow announced, signed as PyPI's standardwebhooks verifies,
/// a receiver that fails and recovers gets everything, and kill -9 of the server loses neither
/// a notification nor a pending request nor an open window.
@Suite("notifications from tessera serve", .serialized)
struct NotificationFlowTests {
    /// A delivery the receiver saw: its type, the ids it names, and whether it was taken.
    struct Delivery {
        let id: String
        let type: String
        /// The request and activation it is about (either may be missing).
        let subjects: [String]
        let path: String
        let status: Int

        init?(_ received: WebhookReceiver.Received) {
            guard let body = try? JSONSerialization.jsonObject(with: Data(received.body)) as? [String: Any],
                  let type = body["type"] as? String, let id = received.headers["webhook-id"] else { return nil }
            let data = body["data"] as? [String: Any] ?? [:]
            self.id = id
            self.type = type
            subjects = [data["request_id"] as? String, data["activation_id"] as? String].compactMap { $0 }
            path = received.path
            status = received.status
        }

        var accepted: Bool { (200..<300).contains(status) }
    }

    static func start(receiverPort: Int) async throws -> (ReviewBundle, ReviewServer) {
        let bundle = try bundle(receiverPort: receiverPort)
        return (bundle, try await ReviewServer.start(try ActivationFlowTests.tesseraExecutable(), bundle))
    }

    /// The activation flow's roles, and every event to the receiver's /hook (break-glass to /security too).
    static func bundle(receiverPort: Int) throws -> ReviewBundle {
        let bundle = try ReviewBundle()
        try ActivationFlowTests.roles.write(toFile: bundle.root + "/policies/roles/approvals.yaml", atomically: true, encoding: .utf8)
        try (NotificationDeliveryTests.secret + "\n").write(toFile: bundle.root + "/policies/webhook-secret", atomically: true, encoding: .utf8)
        try """
        sinks:
          hook:
            type: webhook
            url: http://127.0.0.1:\(receiverPort)/hook
            secret_file: webhook-secret
          security:
            type: webhook
            url: http://127.0.0.1:\(receiverPort)/security
            secret_file: webhook-secret
        routes:
          - events: ["*"]
            sinks: [hook]
        security_sinks: [security]
        """.write(toFile: bundle.root + "/policies/notifications.yaml", atomically: true, encoding: .utf8)
        return bundle
    }

    static func deliveries(_ receiver: WebhookReceiver) -> [Delivery] { receiver.received.compactMap(Delivery.init) }

    /// Waits until every (type, subject) pair was accepted at `path`.
    static func waitForAccepted(_ expected: [(String, String?)], at path: String = "hook", _ receiver: WebhookReceiver,
                                server: ReviewServer, seconds: TimeInterval = 40) async throws {
        func missing() -> [String] {
            let accepted = deliveries(receiver).filter { $0.accepted && $0.path == path }
            return expected.filter { type, subject in !accepted.contains { $0.type == type && (subject.map($0.subjects.contains) ?? true) } }
                .map { "\($0.0) \($0.1 ?? "")" }
        }
        let deadline = Date().addingTimeInterval(seconds)
        while !missing().isEmpty, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let seen = deliveries(receiver).map { "\($0.path) \($0.type) \($0.subjects) \($0.status)" }
        #expect(missing().isEmpty, "never taken at /\(path): \(missing()); seen: \(seen); server log: \(server.log().suffix(3000))")
    }

    @Test func everyStepIsAnnouncedSignedAndRetriedUntilTaken() async throws {
        let receiver = WebhookReceiver(script: ["hook": [.init(status: 500), .init(status: 503, retryAfter: "1")]])
        try await receiver.serving { port in
            let (bundle, server) = try await Self.start(receiverPort: port)
            defer { server.kill() }
            let alice = try bundle.identityToken(subject: "alice", groups: ["sre"])
            let bob = try bundle.identityToken(subject: "bob", groups: ["leads"])
            let carol = try bundle.identityToken(subject: "carol", groups: ["security"])
            var form = bundle.exchangeForm(alice, role: "two-stage")
            form["justification"] = "INC-7 failover"
            let request = try #require(try await server.send(form).body["request_id"] as? String)
            #expect(try await server.call("POST", "/requests/\(request)/approve", token: bob).status == 200)
            let approved = try await server.call("POST", "/requests/\(request)/approve", token: carol)
            let activation = try #require(approved.body["activation_id"] as? String)
            form["request_id"] = request
            #expect(try await server.send(form).status == 200)
            #expect(try await server.call("POST", "/activations/\(activation)/end", token: alice, form: ["reason": "done"]).status == 200)

            form["request_id"] = nil
            form["break_glass"] = "true"
            form["justification"] = "payments down, nobody answers"
            let glass = try await server.send(form)
            let glassActivation = try #require((glass.body["access_token"] as? String).flatMap(ReviewBundle.claims)?["act_id"] as? String)
            #expect(try await server.call("POST", "/requests/\(glassActivation)/review", token: bob, form: ["comment": "checked"]).status == 200)

            let steps: [(String, String?)] = [
                ("request.created", request), ("request.approved", request), ("activation.started", activation),
                ("activation.ended", activation), ("break_glass.used", glassActivation), ("request.reviewed", glassActivation),
            ]
            try await Self.waitForAccepted(steps, receiver, server: server)
            try await Self.waitForAccepted([("break_glass.used", glassActivation)], at: "security", receiver, server: server)
            // The retried ones may still be on their way.
            try await NotificationDeliveryTests.waitUntil {
                let all = Self.deliveries(receiver)
                return Set(all.filter { $0.type == "request.created" && $0.accepted }.map(\.id)).count == 2
                    && all.filter { !$0.accepted }.allSatisfy { failed in all.contains { $0.id == failed.id && $0.accepted } }
            }
            let all = Self.deliveries(receiver)
            // Two notices of request.created: stage 1's approvers, then stage 2's.
            #expect(Set(all.filter { $0.type == "request.created" && $0.accepted }.map(\.id)).count == 2)
            // The first attempts failed; the same notifications (same ids) were taken later.
            let failed = all.filter { !$0.accepted }
            #expect(failed.count == 2)
            for attempt in failed {
                #expect(all.contains { $0.id == attempt.id && $0.accepted }, "\(attempt.type) \(attempt.id) was never taken after failing")
            }
            try await server.stop()

            guard let python = which("python3"), (try? await run(python, ["-c", "import standardwebhooks"]).status) == 0 else {
                return peerMissing("python3 with standardwebhooks (pip install standardwebhooks)")
            }
            let summary = try await NotificationDeliveryTests.verifyWithStandardWebhooks(receiver.received, python: python)
            #expect(summary == "verified \(receiver.received.count), refused \(4 * receiver.received.count) forgeries")
        }
    }

    @Test func killNineLosesNoNotificationNoRequestAndNoWindow() async throws {
        let receiver = WebhookReceiver(script: ["hook": Array(repeating: .init(status: 500), count: 1000)])
        try await receiver.serving { port in
            let (bundle, first) = try await Self.start(receiverPort: port)
            defer { first.kill() }
            let alice = try bundle.identityToken(subject: "alice", groups: ["sre"])
            let dave = try bundle.identityToken(subject: "dave", groups: ["sre"])
            let bob = try bundle.identityToken(subject: "bob", groups: ["leads"])
            var aliceForm = bundle.exchangeForm(alice, role: "one-stage")
            let approvedRequest = try #require(try await first.send(aliceForm).body["request_id"] as? String)
            let approved = try await first.call("POST", "/requests/\(approvedRequest)/approve", token: bob)
            let activation = try #require(approved.body["activation_id"] as? String)
            let pendingRequest = try #require(try await first.send(bundle.exchangeForm(dave, role: "one-stage")).body["request_id"] as? String)
            // Every notification so far is committed and none delivered: the receiver refuses
            // all. Killed once each was tried, normally between attempts; on a busy machine an
            // attempt may still be under way, and its lease then expires after a minute before
            // the restarted server sends it again (hence the longer wait below).
            try await NotificationDeliveryTests.waitUntil {
                Set(Self.deliveries(receiver).map(\.id)).count == 4
            }
            try await Task.sleep(for: .milliseconds(300))
            try await first.killHard()

            receiver.script("hook", [])
            let second = try await ReviewServer.start(try ActivationFlowTests.tesseraExecutable(), bundle)
            defer { second.kill() }
            let stillPending = try await second.call("GET", "/requests/\(pendingRequest)", token: dave)
            #expect(stillPending.body["state"] as? String == "pending", "the pending request did not survive: \(stillPending.body)")
            let window = try await second.call("GET", "/activations/\(activation)", token: alice)
            #expect(window.body["state"] as? String == "active", "the open window did not survive: \(window.body)")
            aliceForm["request_id"] = approvedRequest
            let issued = try await second.send(aliceForm)
            #expect((issued.body["access_token"] as? String).flatMap(ReviewBundle.claims)?["act_id"] as? String == activation)
            #expect(try await second.call("POST", "/requests/\(pendingRequest)/approve", token: bob).status == 200)

            try await Self.waitForAccepted([
                ("request.created", approvedRequest), ("request.approved", approvedRequest), ("activation.started", activation),
                ("request.created", pendingRequest), ("request.approved", pendingRequest),
            ], receiver, server: second, seconds: NotificationSender.Options().lease + 40)
            let all = Self.deliveries(receiver)
            for attempt in all where !attempt.accepted {
                #expect(all.contains { $0.id == attempt.id && $0.accepted }, "\(attempt.type) \(attempt.id) was lost to kill -9")
            }
            try await second.stop()
        }
    }
}
