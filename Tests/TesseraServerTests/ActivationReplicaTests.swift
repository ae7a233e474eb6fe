import Foundation
import Testing
import TesseraCrypto

/// Two `tessera serve` replicas on one PostgreSQL database deciding the same request: one
/// approval wins across replicas, a long poll on the other replica sees it, the token comes
/// from either, an early end on one revokes on both, and each notification is delivered by
/// exactly one replica.
@Suite("activations across PostgreSQL replicas", .serialized)
struct ActivationReplicaTests {
    @Test func twoReplicasApprovingTheSameRequestHaveOneWinner() async throws {
        let tessera = try ActivationFlowTests.tesseraExecutable()
        guard let serverURL = ReplicaTests.postgresURL, let psql = which("psql") else {
            return peerMissing("PostgreSQL (TESSERA_TEST_POSTGRES and psql; .ci/run starts it)")
        }
        let database = "tessera_approvals_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        let created = try await run(psql, [serverURL, "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE \(database)"])
        try #require(created.status == 0, "\(created.error)")
        defer { Task { _ = try? await run(psql, [serverURL, "-c", "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"]) } }
        let storeURL = ReplicaTests.replacingDatabase(in: serverURL, with: String(database))

        let receiver = WebhookReceiver(script: [:])
        try await receiver.serving { port in
            let bundle = try NotificationFlowTests.bundle(receiverPort: port)
            let kekFile = bundle.root + "/kek"
            #expect(FileManager.default.createFile(atPath: kekFile, contents: Data(try KeyEncryptionKey.generate().encoded.utf8),
                                                   attributes: [.posixPermissions: 0o600]))
            let shared = ["--keys", bundle.root + "/keys", "--policies", bundle.root + "/policies", "--issuer", ReviewBundle.issuer,
                          "--store", storeURL, "--key-encryption-key-file", kekFile]
            let first = try await ReviewServer.start(tessera, bundle, arguments: shared + ["--data", bundle.root + "/data-a"])
            defer { first.kill() }
            let second = try await ReviewServer.start(tessera, bundle, arguments: shared + ["--data", bundle.root + "/data-b"])
            defer { second.kill() }

            let alice = try bundle.identityToken(subject: "alice", groups: ["sre"])
            var form = bundle.exchangeForm(alice, role: "one-stage")
            let request = try #require(try await first.send(form).body["request_id"] as? String)
            #expect(try await second.send(form).body["request_id"] as? String == request, "the other replica made a second request")

            let polling = Task { () -> (String?, Date) in
                let answer = try await second.call("GET", "/requests/\(request)?wait=30s", token: alice)
                return (answer.body["state"] as? String, Date())
            }
            try await Task.sleep(for: .milliseconds(300))
            let approvers = try (0..<6).map { try bundle.identityToken(subject: "lead-\($0)", groups: ["leads"]) }
            let decidedAt = Date()
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for (index, approver) in approvers.enumerated() {
                    let replica = index.isMultiple(of: 2) ? first : second
                    group.addTask { try await replica.call("POST", "/requests/\(request)/approve", token: approver).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.sorted() == [200, 409, 409, 409, 409, 409], "approvals racing across replicas answered \(statuses)")
            let (polledState, answeredAt) = try await polling.value
            #expect(polledState == "approved")
            // A replica's waiters wake at once on their own commits and reread the store every second for the others'
            // (5 s allows for a clean-clone CI run saturating both cores; 3.7 s was seen there).
            #expect(answeredAt.timeIntervalSince(decidedAt) < 5, "the other replica's long poll answered after \(answeredAt.timeIntervalSince(decidedAt)) s")

            form["request_id"] = request
            let issued = try await second.send(form)
            let token = try #require(issued.body["access_token"] as? String, "\(issued.body)")
            let activation = try #require(ReviewBundle.claims(of: token)?["act_id"] as? String)
            #expect(try await first.call("POST", "/activations/\(activation)/end", token: alice).status == 200)
            let introspected = try await second.send(["token": token], path: "/introspect", authorization: bundle.resourceServerAuthorization)
            #expect(introspected.body["active"] as? Bool == false, "the other replica still accepts a token of the ended window")

            try await NotificationFlowTests.waitForAccepted([
                ("request.created", request), ("request.approved", request), ("activation.started", activation), ("activation.ended", activation),
            ], receiver, server: first)
            try await Task.sleep(for: .seconds(2))
            let ids = NotificationFlowTests.deliveries(receiver).map(\.id)
            #expect(ids.count == Set(ids).count, "a notification was delivered by both replicas: \(ids)")
            #expect(ids.count == 4)
            try await first.stop()
            try await second.stop()
        }
    }
}
