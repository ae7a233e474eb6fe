import Foundation
import Testing
import TesseraCrypto
import TesseraJWT

/// The approval workflow through `tessera serve` on a live socket, as the README walks it:
/// exchange, 403 with a request id, a long poll, two approvers in two stages, the token under
/// the activation (verified by PyJWT), early end, introspection inactive; and break-glass.
@Suite("activations over HTTP", .serialized)
struct ActivationFlowTests {
    static let roles = """
        roles:
          - name: two-stage
            max_duration: 1h
            default_duration: 30m
            audiences: [https://db.example.com]
            eligible: {upstreams: [test-idp], groups: [sre]}
            conditions:
              approval:
                pending_ttl: 1h
                window_starts: approval
                stages:
                  - approvers: {groups: [leads]}
                  - approvers: {groups: [security]}
              justification: required
            break_glass: {max_duration: 10m}
          - name: one-stage
            max_duration: 1h
            audiences: [https://db.example.com]
            eligible: {upstreams: [test-idp], groups: [sre]}
            conditions:
              approval: {required: true, approvers: [leads], count: 1}
            extend: {max_times: 1, max_total: 30m, requires_approval: false}
        """

    struct MissingExecutable: Error, CustomStringConvertible {
        var description: String { "the tessera executable is missing (swift build --build-tests builds it)" }
    }

    static func tesseraExecutable() throws -> String {
        guard let tessera = CommandLineTests.executable else { throw MissingExecutable() }
        return tessera
    }

    static func start() async throws -> (ReviewBundle, ReviewServer) {
        let bundle = try ReviewBundle()
        try roles.write(toFile: bundle.root + "/policies/roles/approvals.yaml", atomically: true, encoding: .utf8)
        return (bundle, try await ReviewServer.start(try tesseraExecutable(), bundle))
    }

    @Test func requestApprovedInTwoStagesIssuesATokenUnderItsActivationUntilEnded() async throws {
        let (bundle, server) = try await Self.start()
        defer { server.kill() }
        let alice = try bundle.identityToken(subject: "alice", groups: ["sre"])
        let bob = try bundle.identityToken(subject: "bob", groups: ["leads"])
        let carol = try bundle.identityToken(subject: "carol", groups: ["security"])
        let dave = try bundle.identityToken(subject: "dave", groups: ["sre"])
        var form = bundle.exchangeForm(alice, role: "two-stage")
        form["justification"] = "INC-7 failover"

        let asked = try await server.send(form)
        #expect(asked.status == 403)
        #expect(asked.body["error"] as? String == "approval_required")
        let id = try #require(asked.body["request_id"] as? String)
        #expect((asked.body["stages"] as? [[String: Any]])?.count == 2)
        #expect((asked.body["request_uri"] as? String)?.hasSuffix("/requests/\(id)") == true)
        // Asking again returns the same request: nobody is paged twice.
        #expect(try await server.send(form).body["request_id"] as? String == id)

        #expect(try await server.call("GET", "/requests/\(id)", token: dave).status == 403, "another requester saw the request")
        #expect(try await server.call("GET", "/requests/req_unknown", token: alice).status == 404)
        #expect(try await server.call("POST", "/requests/\(id)/approve", token: alice).status == 403, "self-approval was accepted")
        #expect(try await server.call("POST", "/requests/\(id)/approve", token: carol).status == 403, "stage 2 approved before stage 1")
        let tooLong = try await server.call("POST", "/requests/\(id)/approve", token: bob, form: ["comment": String(repeating: "x", count: 3000)])
        #expect(tooLong.status == 400)
        // alice polls as a CLI does: each change answers (stage 1's approval is progress), and
        // she polls again while the request is pending.
        let waiting = Task { () -> [(status: Int, state: String?, approvals: Int, activation: String?, at: Date)] in
            var answers: [(status: Int, state: String?, approvals: Int, activation: String?, at: Date)] = []
            repeat {
                let answer = try await server.call("GET", "/requests/\(id)?wait=30s", token: alice)
                answers.append((answer.status, answer.body["state"] as? String, (answer.body["approvals"] as? [Any])?.count ?? -1,
                                answer.body["activation_id"] as? String, Date()))
            } while answers.last?.state == "pending" && answers.count < 5
            return answers
        }
        try await Task.sleep(for: .milliseconds(500))
        let firstApprovalAt = Date()
        let first = try await server.call("POST", "/requests/\(id)/approve", token: bob, form: ["comment": "ok"])
        #expect(first.status == 200)
        #expect(first.body["state"] as? String == "pending")
        #expect(try await server.call("POST", "/requests/\(id)/approve", token: bob).status == 403, "one person counted twice")

        try await Task.sleep(for: .milliseconds(500))  // alice is waiting again
        let approvedAt = Date()
        let second = try await server.call("POST", "/requests/\(id)/approve", token: carol, form: ["comment": "approved for INC-7"])
        #expect(second.status == 200)
        #expect(second.body["state"] as? String == "approved")
        let answers = try await waiting.value
        #expect(answers.map(\.status) == [200, 200])
        #expect(answers.map(\.state) == ["pending", "approved"])
        #expect(answers.map(\.approvals) == [1, 2])
        if answers.count == 2 {
            #expect(answers[0].at.timeIntervalSince(firstApprovalAt) < 2, "the poll saw stage 1's approval after \(answers[0].at.timeIntervalSince(firstApprovalAt)) s")
            #expect(answers[1].at.timeIntervalSince(approvedAt) < 2, "the poll answered \(answers[1].at.timeIntervalSince(approvedAt)) s after the approval")
        }
        let activation = try #require(answers.last?.activation)

        // Collecting the token needs only the request id: it carries the approved justification.
        form["request_id"] = id
        form["justification"] = nil
        let issued = try await server.send(form)
        #expect(issued.status == 200, "\(issued.body)")
        let token = try #require(issued.body["access_token"] as? String)
        let claims = try #require(ReviewBundle.claims(of: token))
        #expect(claims["act_id"] as? String == activation)
        #expect(claims["justification"] as? String == "INC-7 failover")
        form["justification"] = "INC-7 failover"
        try await Self.verifyWithPyJWT(token, server: server, audience: "https://db.example.com", activation: activation)
        // A second token under the same activation needs no new approval.
        form["request_id"] = nil
        let again = try await server.send(form)
        #expect(again.status == 200, "\(again.body)")
        #expect((again.body["access_token"] as? String).flatMap(ReviewBundle.claims)?["act_id"] as? String == activation)

        #expect(try await server.call("POST", "/activations/\(activation)/end", token: dave).status == 403, "a stranger ended the activation")
        let ended = try await server.call("POST", "/activations/\(activation)/end", token: alice, form: ["reason": "done"])
        #expect(ended.status == 200)
        #expect(ended.body["state"] as? String == "ended")
        for issuedToken in [token, again.body["access_token"] as? String ?? ""] {
            let introspected = try await server.send(["token": issuedToken], path: "/introspect", authorization: bundle.resourceServerAuthorization)
            #expect(introspected.status == 200)
            #expect(introspected.body["active"] as? Bool == false, "a token of the ended activation is still active")
        }
        try await server.stop()
        let exported = try await bundle.auditExport(try Self.tesseraExecutable())
        for expected in ["request.created", "request.approval_recorded", "request.approved", "activation.started", "token.issued", "activation.ended"] {
            #expect(exported.contains { $0.contains(#""event":"\#(expected)""#) }, "the audit log has no \(expected): \(exported.last ?? "")")
        }
    }

    @Test func twoApproversRacingOnTheLastStageHaveOneWinner() async throws {
        let (bundle, server) = try await Self.start()
        defer { server.kill() }
        let alice = try bundle.identityToken(subject: "alice", groups: ["sre"])
        let id = try #require(try await server.send(bundle.exchangeForm(alice, role: "one-stage")).body["request_id"] as? String)
        let approvers = try (0..<4).map { try bundle.identityToken(subject: "lead-\($0)", groups: ["leads"]) }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for approver in approvers {
                group.addTask { try await server.call("POST", "/requests/\(id)/approve", token: approver).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.sorted() == [200, 409, 409, 409], "racing approvals answered \(statuses)")
        let request = try await server.call("GET", "/requests/\(id)", token: alice)
        #expect((request.body["approvals"] as? [Any])?.count == 1)
        // A cancel after the approval changes nothing.
        #expect(try await server.call("POST", "/requests/\(id)/cancel", token: alice).status == 409)
        try await server.stop()
    }

    @Test func breakGlassIssuesAtOnceAndWaitsForItsReview() async throws {
        let (bundle, server) = try await Self.start()
        defer { server.kill() }
        let alice = try bundle.identityToken(subject: "alice", groups: ["sre"])
        let bob = try bundle.identityToken(subject: "bob", groups: ["leads"])
        var form = bundle.exchangeForm(alice, role: "two-stage")
        form["break_glass"] = "true"
        #expect(try await server.send(form).status == 403, "break-glass without a justification was allowed")
        form["justification"] = "payments down, nobody answers"
        let issued = try await server.send(form)
        #expect(issued.status == 200, "\(issued.body)")
        #expect(issued.body["expires_in"] as? Int == 600, "break-glass was not capped at its max_duration")
        let claims = try #require((issued.body["access_token"] as? String).flatMap(ReviewBundle.claims))
        #expect(claims["break_glass"] as? Bool == true)
        let activation = try #require(claims["act_id"] as? String)
        let awaiting = try await server.call("GET", "/activations?awaiting_review=true", token: bob)
        #expect((awaiting.body["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [activation])
        #expect(try await server.call("POST", "/activations/\(activation)/review", token: alice, form: ["comment": "me"]).status == 403)
        #expect(try await server.call("POST", "/activations/\(activation)/review", token: bob).status == 400, "a review without a comment")
        #expect(try await server.call("POST", "/activations/\(activation)/review", token: bob, form: ["comment": "checked INC"]).status == 200)
        let after = try await server.call("GET", "/activations?awaiting_review=true", token: bob)
        #expect((after.body["items"] as? [Any])?.isEmpty == true)
        #expect(try await server.call("GET", "/requests", token: nil).status == 401)
        try await server.stop()
    }

    static func verifyWithPyJWT(_ token: String, server: ReviewServer, audience: String, activation: String,
                                issuer: String = ReviewBundle.issuer) async throws {
        guard await PyJWTInteropTests.pyJWTAvailable(), let python = which("python3") else {
            peerMissing("python3 with PyJWT and cryptography (pip install pyjwt cryptography)")
            return
        }
        let result = try await run(python, ["-c", PyJWTInteropTests.script, "http://127.0.0.1:\(server.port)/.well-known/jwks.json", token,
                                            issuer, audience])
        #expect(result.status == 0, "PyJWT refused the token: \(result.error)")
        let verified = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        #expect((verified?["claims"] as? [String: Any])?["act_id"] as? String == activation)
    }
}

extension ReviewServer {
    /// Any method on any path with an optional bearer token and form; the status and JSON body.
    func call(_ method: String, _ path: String, token: String?, form: [String: String]? = nil) async throws -> (status: Int, body: [String: Any]) {
        let port = port
        let body = form.map(Self.encode) ?? ""
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        if form != nil { request += "Content-Type: application/x-www-form-urlencoded\r\n" }
        request += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        let bytes = Array(request.utf8)
        let response = try await onBlockingThread { try LoopbackSocket.exchange(bytes, port: port) }
        let text = String(decoding: response, as: UTF8.self)
        let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        let json = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:])
    }
}
