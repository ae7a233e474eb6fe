import Foundation
import Testing
import TesseraJWT
import TesseraPolicy

/// Time-bound eligibility through `tessera serve`: an admin assigns a contractor from a second
/// upstream (the partner's IdP) for a few seconds; the contractor's exchange gets a token that
/// ends with the assignment, and the same exchange after the end is denied with the reason.
/// `tessera assign` / `unassign` do the same on the server's store from the command line.
@Suite("eligibility assignments end to end", .serialized)
struct AssignmentFlowTests {
    static let partnerIssuer = "https://idp.partner.example/contractors"

    @Test func aContractorAssignedForAWhileIsRefusedWithTheReasonAfterItEnds() async throws {
        let tessera = try ActivationFlowTests.tesseraExecutable()
        let bundle = try ReviewBundle()
        try """
        upstreams:
          - {id: test-idp, issuer: "\(ReviewBundle.idpIssuer)", jwks_file: test-idp.jwks.json, audiences: [tessera-cli], algorithms: [ES256]}
          - {id: partner-idp, issuer: "\(Self.partnerIssuer)", jwks_file: test-idp.jwks.json, audiences: [tessera-cli], algorithms: [ES256]}
        """.write(toFile: bundle.root + "/policies/upstreams.yaml", atomically: true, encoding: .utf8)
        try """
        roles:
          - name: db-admin
            audiences: [https://db.example.com]
            default_duration: 1h
            max_duration: 1h
            eligible:
              upstreams: [test-idp, partner-idp]
              groups: [dba]
              max_assignment: 30d
        """.write(toFile: bundle.root + "/policies/roles/db.yaml", atomically: true, encoding: .utf8)
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }
        func exchange(_ subject: String) async throws -> (status: Int, body: [String: Any]) {
            let token = try bundle.identityToken(subject: subject, groups: [], issuer: Self.partnerIssuer)
            return try await server.send(bundle.exchangeForm(token, role: "db-admin"))
        }
        func eventually(_ subject: String, _ status: Int) async throws -> (status: Int, body: [String: Any]) {
            var seen = try await exchange(subject)
            for _ in 0..<60 where seen.status != status {
                try await Task.sleep(for: .milliseconds(100))
                seen = try await exchange(subject)
            }
            return seen
        }
        #expect(try await exchange("dana@contractor.example").status == 403)

        let minted = try await run(tessera, ["admin", "token", "--subject", "ops"] + bundle.folders)
        try #require(minted.status == 0, "\(minted.error)")
        let admin = "Bearer " + minted.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let until = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 15).rounded(.down))
        let added = try await server.json("POST", "/admin/assignments", body: """
            {"role":"db-admin","subject":"partner-idp:dana@contractor.example","until":"\(RFC3339.string(until))",
             "reason":"CHG-1234 database migration","sponsor":"test-idp:alice@example.com"}
            """, authorization: admin)
        try #require(added.status == 200, "\(added.body)")
        let id = try #require((added.body["assignment"] as? [String: Any])?["id"] as? String)

        let dana = try await exchange("dana@contractor.example")
        try #require(dana.status == 200, "\(dana.body)")
        let token = try #require(dana.body["access_token"] as? String)
        let exp = try #require(try RealUpstreamTests.payload(token)["exp"] as? Double)
        #expect(exp <= until.timeIntervalSince1970, "the token outlives the assignment: exp \(exp), until \(until.timeIntervalSince1970)")

        let folders = Array(bundle.folders.dropLast(2))  // no --issuer
        let expiring = try await run(tessera, ["assignments", "--expiring", "14d"] + folders)
        #expect(expiring.output.contains("\(id)  db-admin: partner-idp:dana@contractor.example from "), "\(expiring.output)\(expiring.error)")
        let listed = try await server.json("GET", "/admin/assignments?expiring=14d", authorization: admin)
        #expect((listed.body["assignments"] as? [[String: Any]])?.first?["sponsor"] as? String == "test-idp:alice@example.com")

        // Refused, changing nothing.
        let far = RFC3339.string(Date().addingTimeInterval(40 * 86_400))
        let soon = RFC3339.string(Date().addingTimeInterval(3600))
        for body in [
            #"{"role":"db-admin","subject":"partner-idp:x","until":"\#(soon)"}"#,  // no reason
            #"{"role":"nope","subject":"partner-idp:x","until":"\#(soon)","reason":"r"}"#,
            #"{"role":"db-admin","subject":"elsewhere:x","until":"\#(soon)","reason":"r"}"#,
            #"{"role":"db-admin","subject":"partner-idp:x","until":"\#(far)","reason":"r"}"#,  // past max_assignment
            #"{"role":"db-admin","subject":"partner-idp:x","group":"dba","until":"\#(soon)","reason":"r"}"#,
            #"{"role":"db-admin","subject":"partner-idp:x","until":"soon","reason":"r"}"#,
        ] {
            let refused = try await server.json("POST", "/admin/assignments", body: body, authorization: admin)
            #expect(refused.status == 400, "\(body): \(refused.body)")
        }

        // After the end: denied, and told why.
        let wait = until.timeIntervalSinceNow + 0.5
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
        let later = try await exchange("dana@contractor.example")
        #expect(later.status == 403)
        #expect((later.body["error_description"] as? String)?.contains(
            "eligibility of partner-idp:dana@contractor.example as partner-idp:dana@contractor.example ended") == true, "\(later.body)")

        // From the command line, on the server's store: the server takes it up within a second.
        let assigned = try await run(tessera, ["assign", "db-admin", "--subject", "partner-idp:erin@contractor.example", "--until", "+1h",
                                               "--reason", "INC-9 cover"] + folders)
        try #require(assigned.status == 0, "\(assigned.error)")
        let cliID = try #require(assigned.output.split(separator: " ").dropFirst().first.map(String.init))
        #expect(try await eventually("erin@contractor.example", 200).status == 200)
        let removed = try await run(tessera, ["unassign", cliID] + folders)
        #expect(removed.status == 0, "\(removed.error)")
        #expect(try await eventually("erin@contractor.example", 403).status == 403)

        // The sweep records the end of dana's assignment once.
        var export: [String] = []
        for _ in 0..<50 {
            export = try await bundle.auditExport(tessera)
            if export.contains(where: { $0.contains(#""event":"eligibility.expired""#) }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        func events(_ name: String) -> [String] { export.filter { $0.contains(#""event":"\#(name)""#) } }
        #expect(events("eligibility.assigned").count == 2)
        #expect(events("eligibility.expired").count == 1)
        #expect(events("eligibility.removed").count == 1)
        #expect(events("eligibility.assigned").first?.contains("CHG-1234 database migration") == true)
        try await server.stop()
    }
}
