import Foundation
import Testing
import TesseraJWT
import TesseraPolicy

/// Overrides made at run time, through `tessera serve`: an admin puts carol on call over
/// alice's rotation with the admin API, and the auto-approval follows at once; the override's
/// removal (of two at once, one wins) gives the duty back; `tessera oncall override` does the
/// same from the command line on the server's store, which the server takes up by itself.
@Suite("on-call overrides end to end", .serialized)
struct OnCallOverrideFlowTests {
    static let schedule = """
    schedules:
      - id: payments-primary
        time_zone: Europe/Paris
        layers:
          - {participants: [alice@example.com], rotation_start: "2026-01-05T09:00:00+01:00", turn: 1w}
    """

    @Test func anOverrideMovesTheDutyAtOnceAndItsRemovalGivesItBack() async throws {
        let tessera = try ActivationFlowTests.tesseraExecutable()
        let bundle = try ReviewBundle()
        try OnCallFlowTests.role.write(toFile: bundle.root + "/policies/roles/oncall.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: bundle.root + "/policies/schedules", withIntermediateDirectories: true)
        try Self.schedule.write(toFile: bundle.root + "/policies/schedules/payments.yaml", atomically: true, encoding: .utf8)
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }
        func exchange(_ subject: String) async throws -> Int {
            let token = try bundle.identityToken(subject: subject, groups: ["payments-sre"], claims: ["email": .string(subject)])
            return try await server.send(bundle.exchangeForm(token, role: "payments-oncall")).status
        }
        /// Waits (at most 5 s) for the server to see what the command line changed in the store.
        func eventually(_ subject: String, _ status: Int) async throws -> Int {
            var seen = try await exchange(subject)
            for _ in 0..<50 where seen != status {
                try await Task.sleep(for: .milliseconds(100))
                seen = try await exchange(subject)
            }
            return seen
        }
        // (Who activates keeps the activation until it ends: an override does not end it. So
        // each step asks with someone who has not activated yet.)
        #expect(try await exchange("carol@example.com") == 403)

        let minted = try await run(tessera, ["admin", "token", "--subject", "ops"] + bundle.folders)
        try #require(minted.status == 0, "\(minted.error)")
        let admin = "Bearer " + minted.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let until = RFC3339.string(Date().addingTimeInterval(3600))
        // From a minute ago: alice's shift ended then, past the role's 3 s of grace.
        let from = RFC3339.string(Date().addingTimeInterval(-60))
        let added = try await server.json("POST", "/admin/oncall/overrides", body: """
            {"schedule":"payments-primary","who":"carol@example.com","from":"\(from)","until":"\(until)","reason":"covering for alice"}
            """, authorization: admin)
        try #require(added.status == 200, "\(added.body)")
        let override = try #require(added.body["override"] as? [String: Any])
        let id = try #require(override["id"] as? String)
        #expect(override["who"] as? String == "carol@example.com")
        #expect(override["created_by"] as? String == "ops")
        // The server that made the change answers from it at once.
        #expect(try await exchange("carol@example.com") == 200)
        #expect(try await exchange("alice@example.com") == 403)

        let overview = try await server.json("GET", "/admin/oncall", authorization: admin)
        #expect(overview.status == 200)
        let schedules = try #require(overview.body["schedules"] as? [[String: Any]])
        #expect(schedules.first?["id"] as? String == "payments-primary")
        #expect(schedules.first?["kind"] as? String == "native")
        #expect((schedules.first?["on_call"] as? [[String: Any]])?.first?["person"] as? String == "carol@example.com", "\(overview.body)")
        #expect((overview.body["overrides"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])

        // Refused, changing nothing.
        let refusals: [(String, Int)] = [
            (#"{"schedule":"payments-primary","who":"carol@example.com","from":"\#(until)","until":"\#(RFC3339.string(Date()))"}"#, 400),
            (#"{"schedule":"nope","who":"carol@example.com","until":"\#(until)"}"#, 400),
            (#"{"schedule":"payments-primary","who":"Nobody Known","until":"\#(until)"}"#, 400),
            (#"{"schedule":"payments-primary","who":"carol@example.com","until":"tomorrow"}"#, 400),
            (#"{"schedule":"payments-primary","who":"carol@example.com","until":"\#(until)","color":"red"}"#, 400),
            ("{not json", 400),
        ]
        for (body, status) in refusals {
            let refused = try await server.json("POST", "/admin/oncall/overrides", body: body, authorization: admin)
            #expect(refused.status == status, "\(body): \(refused.body)")
            #expect(refused.body["error_description"] as? String != nil, "\(body): \(refused.body)")
        }
        #expect(try await server.json("POST", "/admin/oncall/overrides", body: "{}", authorization: nil).status == 401)
        #expect(try await server.json("DELETE", "/admin/oncall/overrides/ovr-unknown", authorization: admin).status == 404)

        // Two removals at once: one removes it, the other is told it already changed.
        async let first = server.json("DELETE", "/admin/oncall/overrides/\(id)", authorization: admin)
        async let second = server.json("DELETE", "/admin/oncall/overrides/\(id)", authorization: admin)
        let statuses = try await [first.status, second.status].sorted()
        #expect(statuses == [200, 409], "\(statuses)")
        #expect(try await exchange("alice@example.com") == 200)

        // The command line writes to the server's store; the server takes it up within a second.
        let folders = Array(bundle.folders.dropLast(2))  // no --issuer
        let cliAdded = try await run(tessera, ["oncall", "override", "add", "payments-primary", "--who", "dan@example.com",
                                               "--until", "+1h", "--reason", "night cover"] + folders)
        try #require(cliAdded.status == 0, "\(cliAdded.error)")
        let cliID = try #require(cliAdded.output.split(separator: " ").dropFirst().first.map(String.init))
        #expect(try await eventually("dan@example.com", 200) == 200, "\(server.log())")
        let listed = try await run(tessera, ["oncall", "override", "list"] + folders)
        #expect(listed.output.contains("\(cliID)  payments-primary: dan@example.com from "), "\(listed.output)")
        let who = try await run(tessera, ["oncall", "who", "payments-primary"] + folders)
        #expect(who.output.contains("now:  dan@example.com until"), "\(who.output)")
        #expect(who.output.contains("override \(cliID): dan@example.com"), "\(who.output)")
        let removed = try await run(tessera, ["oncall", "override", "remove", cliID] + folders)
        #expect(removed.status == 0, "\(removed.error)")
        let again = try await run(tessera, ["oncall", "override", "remove", cliID] + folders)
        #expect(again.status == 1)
        #expect(again.error.contains("already removed"), "\(again.error)")
        // The server took the removal up: alice is on call again.
        var onCallNow = ""
        for _ in 0..<50 {
            let seen = try await server.json("GET", "/admin/oncall", authorization: admin)
            onCallNow = ((seen.body["schedules"] as? [[String: Any]])?.first?["on_call"] as? [[String: Any]])?.first?["person"] as? String ?? ""
            if onCallNow == "alice@example.com" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(onCallNow == "alice@example.com")

        let export = try await bundle.auditExport(tessera)
        func events(_ name: String) -> [String] { export.filter { $0.contains(#""event":"\#(name)""#) } }
        #expect(events("oncall.override_added").count == 2)
        #expect(events("oncall.override_removed").count == 2)
        #expect(events("oncall.override_added").first?.contains("covering for alice") == true)
        #expect(events("oncall.override_added").last?.contains(#""subject":"local:"#) == true, "\(events("oncall.override_added"))")
        try await server.stop()
    }
}
