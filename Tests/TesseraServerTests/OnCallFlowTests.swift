import Foundation
import Testing
import TesseraJWT
import TesseraPolicy

/// On-call duty through `tessera serve`: the engineer on call (from an iCalendar feed the
/// server syncs) gets the role in one exchange with no approver, and the activation ends with
/// the shift (`cap_to_shift`); a colleague off call is sent to approval; after the hand-off and
/// its grace the first engineer is sent to approval too, and the next one is auto-approved.
@Suite("on-call auto-approval end to end", .serialized)
struct OnCallFlowTests {
    static let role = """
    roles:
      - name: payments-oncall
        audiences: [https://api.example.com]
        scopes: [payments:operate]
        default_duration: 1h
        max_duration: 4h
        eligible: {upstreams: [test-idp], groups: [payments-sre]}
        conditions:
          approval:
            stages: [{approvers: {groups: [sre-leads]}}]
            auto_approve:
              - {max_lifetime: 2h, on_call: {schedule: payments-primary, grace: 3s, cap_to_shift: true}}
    """

    /// alice until `handOff`, bob from then on, as a paging system's export.
    static func feed(handOff: Date) -> String {
        func stamp(_ date: Date) -> String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            return formatter.string(from: date)
        }
        return [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN",
            "BEGIN:VEVENT", "UID:alice", "DTSTART:\(stamp(handOff.addingTimeInterval(-3600)))", "DTEND:\(stamp(handOff))",
            "ATTENDEE:alice@example.com", "SUMMARY:On Call - Alice - Payments", "END:VEVENT",
            "BEGIN:VEVENT", "UID:bob", "DTSTART:\(stamp(handOff))", "DTEND:\(stamp(handOff.addingTimeInterval(7200)))",
            "ATTENDEE:bob@example.com", "SUMMARY:On Call - Bob - Payments", "END:VEVENT",
            "END:VCALENDAR", "",
        ].joined(separator: "\r\n")
    }

    @Test func theOnCallEngineerNeedsNoApproverUntilTheShiftEnds() async throws {
        let tessera = try ActivationFlowTests.tesseraExecutable()
        let bundle = try ReviewBundle()
        try Self.role.write(toFile: bundle.root + "/policies/roles/oncall.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: bundle.root + "/policies/schedules", withIntermediateDirectories: true)
        // At start the feed has nobody; the rotation is written once the server is up, so the
        // time a loaded machine takes to start it does not eat into alice's shift.
        let feedPath = bundle.root + "/policies/schedules/payments.ics"
        try Self.feed(handOff: Date().addingTimeInterval(-86_400)).write(toFile: feedPath, atomically: true, encoding: .utf8)
        try """
        schedules:
          - id: payments-primary
            time_zone: Europe/Paris
            ical: {file: payments.ics}
            poll_interval: 10s
        """.write(toFile: bundle.root + "/policies/schedules/payments.yaml", atomically: true, encoding: .utf8)
        let server = try await ReviewServer.start(tessera, bundle)
        defer { server.kill() }

        func exchange(_ subject: String) async throws -> (status: Int, body: [String: Any]) {
            let token = try bundle.identityToken(subject: subject, groups: ["payments-sre"], claims: ["email": .string(subject)])
            return try await server.send(bundle.exchangeForm(token, role: "payments-oncall"))
        }
        // Whole seconds: iCalendar times have no fractions. The next poll (10 s) picks it up.
        let handOff = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 25).rounded(.down))
        try Self.feed(handOff: handOff).write(toFile: feedPath, atomically: true, encoding: .utf8)
        var alice = try await exchange("alice@example.com")
        for _ in 0..<150 where alice.status != 200 {
            try await Task.sleep(for: .milliseconds(100))
            alice = try await exchange("alice@example.com")
        }
        try #require(alice.status == 200, "\(alice.body)\n\(server.log())")
        let token = try #require(alice.body["access_token"] as? String)
        let exp = try #require(try RealUpstreamTests.payload(token)["exp"] as? Double)
        // cap_to_shift: the token (and its activation) ends with the shift and its grace.
        #expect(exp <= handOff.timeIntervalSince1970 + 3 + 1, "exp \(exp), hand-off \(handOff.timeIntervalSince1970)")
        #expect(alice.body["expires_in"] as? Int ?? 0 <= 29)

        let bob = try await exchange("bob@example.com")
        try #require(Date() < handOff, "the machine was too slow to ask before the hand-off; nothing to conclude")
        #expect(bob.status == 403, "\(bob.body)")
        #expect(bob.body["error"] as? String == "approval_required")

        // Past the hand-off and its grace: alice's activation is over and she needs approval;
        // bob, now on call, needs nobody.
        let wait = handOff.timeIntervalSinceNow + 3 + 1.5
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
        let aliceLater = try await exchange("alice@example.com")
        #expect(aliceLater.status == 403, "\(aliceLater.body)")
        #expect(aliceLater.body["error"] as? String == "approval_required")
        let bobLater = try await exchange("bob@example.com")
        #expect(bobLater.status == 200, "\(bobLater.body)\n\(server.log())")

        // The audit log says who approved: the on-call rule, with the shift it saw.
        let export = try await bundle.auditExport(tessera).joined(separator: "\n")
        #expect(export.contains("auto-approved by rule 1 (max_lifetime 2h, on call for payments-primary)"), "\(export)")
        #expect(export.contains("test-idp:alice@example.com is on call for payments-primary until"))
        try await server.stop()
    }

    /// `tessera oncall` over a bundle with a native rotation and an iCalendar feed.
    @Test func theOncallCommandsAnswerFromNativeSchedulesAndFeeds() async throws {
        let tessera = try ActivationFlowTests.tesseraExecutable()
        let root = NSTemporaryDirectory() + "tessera-oncall-cli-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/policies/schedules", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try """
        schedules:
          - id: primary
            time_zone: Europe/Berlin
            layers:
              - {participants: [alice@example.com, bob@example.com], rotation_start: "2026-03-02T09:00:00+01:00", turn: 1d, handoff: "09:00"}
            overrides:
              - {who: Night Cover, from: "2026-04-01T00:00:00Z", to: "2026-04-02T00:00:00Z"}
          - id: feed
            time_zone: Europe/Paris
            ical: {file: feed.ics}
        escalation_policies:
          - id: payments
            levels: [{schedules: [primary]}, {schedules: [feed], people: [lead@example.com]}]
        """.write(toFile: root + "/policies/schedules/team.yaml", atomically: true, encoding: .utf8)
        let handOff = RFC3339.date("2026-03-02T12:00:00Z")!
        try Self.feed(handOff: handOff).write(toFile: root + "/policies/schedules/feed.ics", atomically: true, encoding: .utf8)
        let folders = ["--policies", root + "/policies"]

        let who = try await run(tessera, ["oncall", "who", "--at", "2026-03-02T11:30:00Z"] + folders)
        #expect(who.status == 0, "\(who.error)")
        #expect(who.output.contains("primary (native)\n  now:  alice@example.com until 2026-03-03 09:00 Europe/Berlin"), "\(who.output)")
        #expect(who.output.contains("  next: bob@example.com from 2026-03-03 09:00 Europe/Berlin until 2026-03-04 09:00 Europe/Berlin"), "\(who.output)")
        #expect(who.output.contains("feed (file \(root)/policies/schedules/feed.ics)\n  now:  alice@example.com until 13:00 Europe/Paris"),
                "\(who.output)")
        #expect(who.output.contains("level 2: alice@example.com via feed until 13:00 Europe/Paris, lead@example.com (always)"), "\(who.output)")

        let bob = try await run(tessera, ["oncall", "check", "bob@example.com", "--at", "2026-03-02T13:00:00Z"] + folders)
        #expect(bob.status == 0)
        #expect(bob.output.contains("bob@example.com is on call: feed, until 15:00 Europe/Paris\n"), "\(bob.output)")
        #expect(bob.output.contains("bob@example.com is on call: feed, level 2 of payments, until 15:00 Europe/Paris"), "\(bob.output)")
        let nobody = try await run(tessera, ["oncall", "check", "zoe@example.com", "--at", "2026-03-02T13:00:00Z"] + folders)
        #expect(nobody.status == 3)

        // A participant that names nobody is worth a warning: no condition could ever hold for them.
        let check = try await run(tessera, ["policy", "check"] + folders)
        #expect(check.status == 0, "\(check.error)")
        #expect(check.output.contains("participant \"Night Cover\" of primary maps to no identity"), "\(check.output)")
        #expect(!check.output.contains("alice@example.com\" of"), "\(check.output)")

        // A broken feed: sync says which and why, and fails.
        try "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026\r\n".write(toFile: root + "/policies/schedules/feed.ics", atomically: true, encoding: .utf8)
        let sync = try await run(tessera, ["oncall", "sync"] + folders)
        #expect(sync.status == 1)
        #expect(sync.output.contains("feed: FAILED from file \(root)/policies/schedules/feed.ics: "), "\(sync.output)")
        #expect(sync.output.contains("line"), "\(sync.output)")
    }
}
