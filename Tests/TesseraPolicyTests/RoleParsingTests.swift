import Foundation
import Testing
import TesseraPolicy

/// The example bundle shipped in `policies/`, found from this file's path.
let examplePolicies: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("policies").path
}()

@Suite("roles and networks parsing")
struct RoleParsingTests {
    let networks = try! PolicyBundle.parseNetworks("""
    networks:
      corp-vpn: [10.8.0.0/16, "2001:db8:8::/48"]
      office: 192.0.2.0/24
    trusted_proxies:
      header: forwarded
      networks: [10.0.0.0/29, office]
    """, file: "networks.yaml")

    @Test func parsesNetworksAndTrustedProxies() {
        #expect(networks.networks["corp-vpn"]?.networks.map(\.text) == ["10.8.0.0/16", "2001:db8:8::/48"])
        #expect(networks.networks["office"]?.networks.count == 1)
        #expect(networks.trustedProxies.header == .forwarded)
        #expect(networks.trustedProxies.networks.map(\.text) == ["10.0.0.0/29", "192.0.2.0/24"])
    }

    @Test func parsesEveryRoleField() throws {
        let yaml = """
        roles:
          - name: db-admin
            description: Databases
            audiences: [https://db.example.com]
            scopes: [db:admin]
            default_duration: 15m
            max_duration: 1h
            eligible:
              upstreams: [corp]
              groups: [dba]
              subjects: ["alice", "svc-*"]
            allowed_clients: tessera-cli
            conditions:
              mfa: {amr: [mfa, hwk], acr: [urn:mfa]}
              strength: phishing_resistant
              max_auth_age: 30m
              device_compliant: true
              networks: [corp-vpn, 198.51.100.0/24, "2001:db8::1"]
              time_windows:
                - {days: [mon-fri], hours: "08:00-18:00", time_zone: Europe/Berlin}
                - {days: [sat, sunday], hours: "22:00-06:00"}
              claims:
                repository: {equals: acme/payments}
                environment: {one_of: [production, staging]}
                ref: {glob: "refs/heads/*"}
                sha: {regex: "[0-9a-f]{40}"}
                actor: present
                act: absent
              justification: required
              ticket: {required: true, pattern: "^(INC|CHG)-[0-9]+$"}
              approval: {required: true, approvers: [sre-leads], count: 2}
              on_call: {schedule: payments-primary}
            signing_alg: RS256
          - name: minimal
            audiences: https://a.example.com
            max_duration: 10m
        """
        let roles = try PolicyBundle.parseRoles(yaml, file: "roles/db.yaml", networks: networks.networks)
        #expect(roles.count == 2)
        let role = roles[0]
        #expect(role.name == "db-admin")
        #expect(role.defaultDurationSeconds == 900)
        #expect(role.maxDurationSeconds == 3600)
        #expect(role.eligibility == Eligibility(upstreams: ["corp"], groups: ["dba"], subjects: [GlobPattern("alice"), GlobPattern("svc-*")]))
        #expect(role.allowedClients == ["tessera-cli"])
        let conditions = role.conditions
        #expect(conditions.mfa == MFACondition(methods: ["mfa", "hwk"], contexts: ["urn:mfa"]))
        #expect(conditions.phishingResistant != nil)
        #expect(conditions.maxAuthAgeSeconds == 1800)
        #expect(conditions.deviceCompliant)
        #expect(conditions.networks?.map(\.name) == ["corp-vpn", "198.51.100.0/24", "2001:db8::1"])
        #expect(conditions.timeWindows?.count == 2)
        #expect(conditions.timeWindows?[0].dayMask == 0b0111110)
        #expect(conditions.timeWindows?[0].timeZone.identifier == "Europe/Berlin")
        #expect(conditions.timeWindows?[1].dayMask == 0b1000001)
        #expect(conditions.timeWindows?[1].startMinute == 22 * 60)
        #expect(conditions.timeWindows?[1].timeZoneName == "UTC")
        #expect(conditions.claims.map(\.claim) == ["repository", "environment", "ref", "sha", "actor", "act"])
        #expect(conditions.claims[5].test == .absent)
        #expect(conditions.justification == JustificationCondition())
        #expect(conditions.ticket?.pattern?.pattern == "^(INC|CHG)-[0-9]+$")
        #expect(conditions.approval == ApprovalPlan(approverGroups: ["sre-leads"], count: 2))
        #expect(conditions.onCall == OnCallCondition(schedule: "payments-primary"))
        #expect(role.location.line == 2)
        #expect(roles[1].defaultDurationSeconds == 600, "default_duration defaults to max_duration")
        #expect(roles[1].eligibility == Eligibility())
        #expect(role.signingAlgorithm == "RS256")
        #expect(roles[1].signingAlgorithm == nil, "signing_alg is optional")
    }

    /// Each broken role is refused with an error naming the file, line and field.
    @Test("rejects broken roles naming line and field", arguments: [
        ("roles:\n  - name: Bad Name\n    audiences: [a]\n    max_duration: 1h\n", 2, "roles[0].name", "lowercase"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 13h\n", 4, "roles[0].max_duration", "12h"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    default_duration: 2h\n", 5, "roles[0].default_duration", "at most max_duration"),
        ("roles:\n  - name: r\n    audiences: [a]\n", 2, "roles[0]", "max_duration"),
        ("roles:\n  - name: r\n    max_duration: 1h\n", 2, "roles[0]", "audiences"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      mfa: maybe\n", 6, "roles[0].conditions.mfa", "true or false"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      networks: [10.0.0.0/33]\n", 6, "roles[0].conditions.networks[0]", "not a CIDR"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      networks: [10.1.2.3/8]\n", 6, "roles[0].conditions.networks[0]", "did you mean 10.0.0.0/8"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      networks: [home-vpn]\n", 6, "roles[0].conditions.networks[0]", "unknown network \"home-vpn\""),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      claims:\n        ref: {regex: \"(main\"}\n", 7, "roles[0].conditions.claims.ref.regex", "invalid regular expression"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      claims:\n        ref: {equals: a, glob: b}\n", 7, "roles[0].conditions.claims.ref", "exactly one"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      time_windows:\n        - {hours: \"8-18\"}\n", 7, "roles[0].conditions.time_windows[0].hours", "HH:MM-HH:MM"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      time_windows:\n        - {time_zone: Mars/Olympus}\n", 7, "roles[0].conditions.time_windows[0].time_zone", "unknown time zone"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      time_windows:\n        - {days: [funday]}\n", 7, "roles[0].conditions.time_windows[0].days[0]", "expected a day"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      approval: {required: true}\n", 6, "roles[0].conditions.approval", "approvers"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      ticket: {pattern: \"[\"}\n", 6, "roles[0].conditions.ticket.pattern", "invalid regular expression"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      mfa: true\n      geo: eu\n", 7, "roles[0].conditions.geo", "unknown field"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    eligible: {users: [a]}\n", 5, "roles[0].eligible.users", "unknown field"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n      strength: strong\n", 6, "roles[0].conditions.strength", "phishing_resistant"),
        ("roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    signing_alg: RS512\n", 5, "roles[0].signing_alg", "supported: ES256, RS256, PS256, EdDSA"),
        ("roles:\n  - name: r\n    audiences: [a]\n    scopes: [tessera:admin]\n    max_duration: 1h\n", 4, "roles[0].scopes", "reserved"),
    ])
    func rejectsBrokenRoles(yaml: String, line: Int, field: String, message: String) {
        let error = #expect(throws: PolicyError.self) {
            try PolicyBundle.parseRoles(yaml, file: "policies/roles/r.yaml", networks: networks.networks)
        }
        #expect(error?.location.file == "policies/roles/r.yaml")
        #expect(error?.location.line == line, "\(String(describing: error))")
        #expect(error?.field == field, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test("rejects broken networks files", arguments: [
        ("networks:\n  corp: [10.0.0.0/40]\n", 2, "networks.corp[0]", "not a CIDR"),
        ("networks:\n  Corp VPN: [10.0.0.0/8]\n", 2, "networks.Corp VPN", "network names"),
        ("networks:\n  10.0.0.1: [10.0.0.0/8]\n", 2, "networks.10.0.0.1", "network names"),
        ("trusted_proxies:\n  header: x-real-ip\n", 2, "trusted_proxies.header", "x-forwarded-for"),
        ("trusted_proxies:\n  networks: [lb]\n", 2, "trusted_proxies.networks[0]", "unknown network"),
        ("proxies: []\n", 1, "proxies", "unknown field"),
    ])
    func rejectsBrokenNetworks(yaml: String, line: Int, field: String, message: String) {
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseNetworks(yaml, file: "networks.yaml") }
        #expect(error?.location.line == line, "\(String(describing: error))")
        #expect(error?.field == field, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test func loadsRolesFromTheFolderAndRefusesDuplicatesAcrossFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-roles-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("roles"), withIntermediateDirectories: true)
        try "networks:\n  corp: [10.0.0.0/8]\n".write(to: folder.appendingPathComponent("networks.yaml"), atomically: true, encoding: .utf8)
        let role = "roles:\n  - name: a\n    audiences: [x]\n    max_duration: 1h\n    conditions: {networks: [corp]}\n"
        try role.write(to: folder.appendingPathComponent("roles/a.yaml"), atomically: true, encoding: .utf8)
        try "# not a role file\n".write(to: folder.appendingPathComponent("roles/README.md"), atomically: true, encoding: .utf8)
        let bundle = try PolicyBundle.load(directory: folder.path)
        #expect(bundle.roles.map(\.name) == ["a"])
        #expect(bundle.networkSettings.networks["corp"] != nil)
        #expect(bundle.clients.isEmpty)

        try role.write(to: folder.appendingPathComponent("roles/b.yml"), atomically: true, encoding: .utf8)
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.load(directory: folder.path) }
        #expect(error?.location.file.hasSuffix("roles/b.yml") == true)
        #expect(error?.location.line == 2)
        #expect(error?.message.contains("already declared at") == true)
    }

    @Test func aBundleWithoutRolesOrNetworksLoads() throws {
        let bundle = try PolicyBundle.load(directory: "/nonexistent/tessera-policies")
        #expect(bundle.roles.isEmpty)
        #expect(bundle.networkSettings == NetworkSettings())
    }
}

@Suite("example bundle and policy test cases")
struct ExampleBundleTests {
    @Test func exampleBundleLoadsWithTheIssueRoles() throws {
        let bundle = try PolicyBundle.load(directory: examplePolicies)
        let names = Set(bundle.roles.map(\.name))
        #expect(names.isSuperset(of: ["prod-readonly", "db-admin", "break-glass", "ci-deploy"]))
        #expect(bundle.role(named: "break-glass")?.maxDurationSeconds == 900)
        #expect(bundle.role(named: "break-glass")?.conditions.approval != nil)
    }

    @Test func everyExampleCasePasses() throws {
        let bundle = try PolicyBundle.load(directory: examplePolicies)
        let cases = try bundle.loadTestCases(now: monday10)
        #expect(cases.count >= 30)
        let engine = PolicyEngine(bundle: bundle)
        for testCase in cases {
            let result = testCase.run(engine)
            #expect(result.passed, "\(testCase.name) at \(testCase.location): \(result.problems) \n\(result.decision.trace)")
        }
    }

    @Test func exampleCasesCoverEveryCondition() throws {
        let bundle = try PolicyBundle.load(directory: examplePolicies)
        let engine = PolicyEngine(bundle: bundle)
        var metRules = Set<String>()
        var failedRules = Set<String>()
        for testCase in try bundle.loadTestCases(now: monday10) {
            for result in testCase.run(engine).decision.rules {
                let rule = result.rule.hasPrefix("claims.") ? "claims" : result.rule
                if result.isFailed { failedRules.insert(rule) } else { metRules.insert(rule) }
            }
        }
        let every: Set<String> = [
            "eligibility", "allowed_clients", "mfa", "strength", "max_auth_age", "device_compliant", "networks", "time_windows",
            "claims", "on_call", "justification", "ticket", "lifetime",
        ]
        #expect(every.subtracting(metRules).isEmpty, "never met: \(every.subtracting(metRules))")
        #expect(every.subtracting(failedRules).isEmpty, "never failed: \(every.subtracting(failedRules))")
        #expect(metRules.contains("approval"))
    }

    @Test func aFailingCaseSaysWhy() throws {
        let yaml = """
        cases:
          - name: wrong expectation
            identity: {upstream: corp, subject: bob, groups: [engineering], amr: [pwd]}
            context: {time: "2026-03-02T10:00:00Z"}
            request: {role: prod-readonly}
            expect: {outcome: allow}
          - name: wrong reason
            identity: {upstream: corp, subject: bob, groups: [engineering], amr: [pwd]}
            request: {role: prod-readonly}
            expect: {outcome: deny, reason_contains: "network"}
        """
        let bundle = try PolicyBundle.load(directory: examplePolicies)
        let cases = try PolicyBundle.parseTestCases(yaml, file: "t.yaml", now: monday10)
        let engine = PolicyEngine(bundle: bundle)
        let first = cases[0].run(engine)
        #expect(!first.passed)
        #expect(first.problems == ["expected allow, got deny: MFA required: token amr [pwd] has none of [mfa, mca, hwk, swk, otp, sc]"])
        let second = cases[1].run(engine)
        #expect(second.problems.first?.hasPrefix("no failed rule's reason contains \"network\"") == true)
        #expect(cases[1].context.now == monday10, "a case without a time uses the runner's now")
        #expect(cases[0].location.line == 2)
    }

    @Test func testCaseErrorsNameTheLine() {
        let yaml = "cases:\n  - name: x\n    identity: {upstream: corp, subject: a, auth_time: yesterday}\n    request: {role: r}\n    expect: {outcome: allow}\n"
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseTestCases(yaml, file: "t.yaml", now: monday10) }
        #expect(error?.location.line == 3)
        #expect(error?.field == "cases[0].identity.auth_time")
        let outcome = "cases:\n  - name: x\n    identity: {upstream: corp, subject: a}\n    request: {role: r}\n    expect: {outcome: maybe}\n"
        let second = #expect(throws: PolicyError.self) { try PolicyBundle.parseTestCases(outcome, file: "t.yaml", now: monday10) }
        #expect(second?.field == "cases[0].expect.outcome")
    }

    @Test func relativeAuthTimeCountsFromTheCaseTime() throws {
        let yaml = "cases:\n  - name: x\n    identity: {upstream: corp, subject: a, auth_time: -10m}\n    context: {time: \"2026-03-02T10:00:00Z\"}\n    request: {role: r}\n    expect: {outcome: allow}\n"
        let cases = try PolicyBundle.parseTestCases(yaml, file: "t.yaml", now: Date())
        #expect(cases[0].identity.authenticatedAt == monday10.addingTimeInterval(-600))
        #expect(cases[0].identity.claims["sub"] == .string("a"))
    }
}
