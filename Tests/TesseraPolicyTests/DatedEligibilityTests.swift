import Foundation
import Testing
import TesseraPolicy

/// Dated eligibility, with the decision time passed in: entries of the bundle with `from` and
/// `until` (dates are whole days in the role's zone), and assignments made at run time handed
/// in the decision context; tokens never outlive the entry that allowed them.
@Suite("dated eligibility")
struct DatedEligibilityTests {
    static let roles = """
    roles:
      - name: db-admin
        audiences: [https://db.example.com]
        default_duration: 1h
        max_duration: 4h
        eligible:
          upstreams: [corp, partner-idp]
          time_zone: Europe/Paris
          max_assignment: 30d
          subjects:
            - id: partner-idp:dana@contractor.example
              from: 2026-12-01
              until: 2026-12-31
              sponsor: corp:alice@example.com
              reason: CHG-1234 database migration
            - id: partner-idp:erin@contractor.example
              until: "2026-12-10T12:00:00Z"
          groups:
            - dba
            - {id: migration-crew, from: "2026-12-05T08:00:00Z", until: "2026-12-06T08:00:00Z"}
    """

    static func engine() throws -> PolicyEngine {
        PolicyEngine(roles: try PolicyBundle.parseRoles(roles, file: "roles/db.yaml"))
    }

    static func decide(_ engine: PolicyEngine, _ identity: Identity, at time: String, assignments: EligibilityAssignments? = nil) -> AccessDecision {
        engine.decide(identity: identity, request: AccessRequest(role: "db-admin"),
                      context: DecisionContext(clientID: "cli", now: RFC3339.date(time)!, assignments: assignments))
    }

    static let dana = Identity(upstream: "partner-idp", subject: "dana@contractor.example")

    @Test func aDatedSubjectHoldsFromTheStartOfItsFirstDayToTheEndOfItsLast() throws {
        let engine = try Self.engine()
        // Paris is UTC+1 in December: the 1st begins at 2026-11-30T23:00Z, the 31st ends at 2026-12-31T23:00Z.
        let before = Self.decide(engine, Self.dana, at: "2026-11-30T22:59:59Z")
        #expect(!before.isAllowed)
        #expect(before.failureSummary == "eligibility of partner-idp:dana@contractor.example as partner-idp:dana@contractor.example begins "
            + "2026-12-01 (sponsor corp:alice@example.com)", "\(before.failureSummary)")
        #expect(Self.decide(engine, Self.dana, at: "2026-11-30T23:00:00Z").isAllowed)
        let inside = Self.decide(engine, Self.dana, at: "2026-12-15T10:00:00Z")
        #expect(inside.isAllowed)
        #expect(inside.rules.first?.reason == "dana@contractor.example from partner-idp is eligible as partner-idp:dana@contractor.example "
            + "until 2026-12-31 (sponsor corp:alice@example.com)")
        #expect(Self.decide(engine, Self.dana, at: "2026-12-31T22:59:59Z").isAllowed)
        let after = Self.decide(engine, Self.dana, at: "2026-12-31T23:00:00Z")
        #expect(!after.isAllowed)
        #expect(after.failureSummary == "eligibility of partner-idp:dana@contractor.example as partner-idp:dana@contractor.example ended "
            + "2026-12-31 (sponsor corp:alice@example.com)")
    }

    @Test func theLifetimeEndsWithTheEligibility() throws {
        let engine = try Self.engine()
        let erin = Identity(upstream: "partner-idp", subject: "erin@contractor.example")
        // Ten minutes before the end: the 1 h default lifetime is cut to 600 s.
        #expect(Self.decide(engine, erin, at: "2026-12-10T11:50:00Z").lifetimeSeconds == 600)
        #expect(Self.decide(engine, erin, at: "2026-12-10T08:00:00Z").lifetimeSeconds == 3600)
        // A plain entry never ends: no cap.
        let dba = Identity(upstream: "corp", subject: "bob", groups: ["dba"])
        #expect(Self.decide(engine, dba, at: "2027-06-01T00:00:00Z").lifetimeSeconds == 3600)
    }

    @Test func datedGroupsHoldForTheirPeriod() throws {
        let engine = try Self.engine()
        let crew = Identity(upstream: "corp", subject: "fay", groups: ["migration-crew"])
        #expect(!Self.decide(engine, crew, at: "2026-12-05T07:59:59Z").isAllowed)
        #expect(Self.decide(engine, crew, at: "2026-12-05T08:00:00Z").isAllowed)
        #expect(Self.decide(engine, crew, at: "2026-12-06T07:00:00Z").lifetimeSeconds == 3600)
        #expect(Self.decide(engine, crew, at: "2026-12-06T07:30:00Z").lifetimeSeconds == 1800)
        #expect(!Self.decide(engine, crew, at: "2026-12-06T08:00:00Z").isAllowed)
    }

    @Test func assignmentsMadeAtRunTimeAreMergedWithTheBundle() throws {
        let engine = try Self.engine()
        let gus = Identity(upstream: "corp", subject: "gus@example.com")
        #expect(!Self.decide(engine, gus, at: "2026-12-02T10:00:00Z").isAllowed)
        let assignments = EligibilityAssignments([
            ("db-admin", DatedEligibility(who: .subject("corp:gus@example.com"), from: RFC3339.date("2026-12-02T09:00:00Z"),
                                          until: RFC3339.date("2026-12-02T10:30:00Z"), sponsor: "corp:alice", assignmentID: "asg-1")),
            ("other-role", DatedEligibility(who: .subject("corp:hal@example.com"), until: RFC3339.date("2027-01-01T00:00:00Z"))),
        ])
        let allowed = Self.decide(engine, gus, at: "2026-12-02T10:00:00Z", assignments: assignments)
        #expect(allowed.isAllowed)
        #expect(allowed.lifetimeSeconds == 1800)
        #expect(allowed.rules.first?.reason.hasSuffix("until 2026-12-02T10:30:00Z (sponsor corp:alice; assignment asg-1)") == true)
        let ended = Self.decide(engine, gus, at: "2026-12-02T10:30:00Z", assignments: assignments)
        #expect(ended.failureSummary == "eligibility of corp:gus@example.com as corp:gus@example.com ended 2026-12-02T10:30:00Z "
            + "(sponsor corp:alice; assignment asg-1)")
        // An assignment for another role admits nobody here.
        #expect(!Self.decide(engine, Identity(upstream: "corp", subject: "hal@example.com"), at: "2026-12-02T10:00:00Z",
                             assignments: assignments).isAllowed)
        // A role that admits nobody in the bundle admits its assignments.
        let empty = PolicyEngine(roles: try PolicyBundle.parseRoles("""
        roles:
          - {name: other-role, audiences: [https://x.example.com], max_duration: 1h}
        """, file: "roles/other.yaml"))
        let hal = Identity(upstream: "corp", subject: "hal@example.com")
        #expect(empty.decide(identity: hal, request: AccessRequest(role: "other-role"),
                             context: DecisionContext(clientID: "cli", now: RFC3339.date("2026-12-02T10:00:00Z")!, assignments: assignments)).isAllowed)
        #expect(empty.decide(identity: hal, request: AccessRequest(role: "other-role"),
                             context: DecisionContext(clientID: "cli", now: RFC3339.date("2026-12-02T10:00:00Z")!)).failureSummary
            == "role admits nobody: it lists no eligible subjects or groups")
    }

    @Test(arguments: [
        ("- {id: partner-idp:x, from: 2026-12-31, until: 2026-12-01}", "until (2026-12-01) is not after from (2026-12-31)", 8),
        ("- {id: partner-idp:x, until: 2026-13-01}", "expected a date such as 2026-12-31", 8),
        ("- {id: partner-idp:x, until: tomorrow}", "expected a date such as 2026-12-31", 8),
        ("- {id: dana, until: 2026-12-01}", "a dated subject is upstream:subject", 8),
        ("- {id: partner-idp:x, color: red}", "unknown", 8),
    ])
    func badDatedEntriesAreRefusedWithFileAndLine(entry: String, message: String, line: Int) {
        let yaml = """
        roles:
          - name: r
            audiences: [https://x.example.com]
            max_duration: 1h
            eligible:
              upstreams: [partner-idp]
              subjects:
                \(entry)
        """
        #expect(throws: PolicyError.self) { try PolicyBundle.parseRoles(yaml, file: "roles/r.yaml") }
        do {
            _ = try PolicyBundle.parseRoles(yaml, file: "roles/r.yaml")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
            #expect(error.description.contains("roles/r.yaml:\(line)"), "\(error.description)")
        }
    }

    /// Through the bundle: a dated subject names a known upstream the role admits; `policy
    /// check` warns about entries already over.
    @Test func theBundleChecksUpstreamsAndListsExpiredEntries() throws {
        let root = NSTemporaryDirectory() + "dated-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/roles", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try """
        upstreams:
          - {id: corp, issuer: "https://idp.example.com", jwks_uri: "https://idp.example.com/jwks", audiences: [tessera]}
        """.write(toFile: root + "/upstreams.yaml", atomically: true, encoding: .utf8)
        func write(_ subject: String) throws {
            try """
            roles:
              - name: r
                audiences: [https://x.example.com]
                max_duration: 1h
                eligible:
                  subjects:
                    - {id: "\(subject)", until: 2020-01-01}
            """.write(toFile: root + "/roles/r.yaml", atomically: true, encoding: .utf8)
        }
        try write("nope:x")
        #expect(throws: PolicyError.self) { try PolicyBundle.load(directory: root) }
        try write("corp:x")
        let bundle = try PolicyBundle.load(directory: root)
        let warnings = bundle.expiredEligibility(at: Date())
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("roles/r.yaml:7") == true, "\(warnings)")
        #expect(warnings.first?.contains("eligibility of corp:x for role r ended 2020-01-01") == true, "\(warnings)")
    }
}
