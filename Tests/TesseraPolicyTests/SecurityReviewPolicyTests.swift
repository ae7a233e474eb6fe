import Foundation
import Testing
@testable import TesseraPolicy

/// The pure parts of the security review's fixes (issue 15): exact identifier comparison in the
/// engine (finding 3), checked time arithmetic (finding 2), the request text that is checked,
/// issued and audited (finding 10), and bounded YAML alias expansion.
@Suite("security review: policy engine")
struct SecurityReviewPolicyTests {
    // MARK: finding 3

    @Test func groupsSubjectsClientsAndClaimsCompareAsBytes() {
        let groups = makeRole(eligibility: Eligibility(upstreams: ["corp"], groups: ["K8s-admins", "\u{00C9}quipe-SRE"]))
        #expect(decide(groups, person(groups: ["K8s-admins"])).isAllowed)
        #expect(!decide(groups, person(groups: ["\u{212A}8s-admins"])).isAllowed)
        #expect(!decide(groups, person(groups: ["E\u{0301}quipe-SRE"])).isAllowed)
        // More than eight groups take the set path: the same answer.
        let many = makeRole(eligibility: Eligibility(upstreams: ["corp"], groups: (0..<10).map { "g\($0)" } + ["K8s-admins"]))
        #expect(decide(many, person(groups: ["K8s-admins"])).isAllowed)
        #expect(!decide(many, person(groups: ["\u{212A}8s-admins"])).isAllowed)

        let subject = makeRole(eligibility: Eligibility(upstreams: ["corp"], subjects: [GlobPattern("Kim")]))
        #expect(decide(subject, person("Kim", groups: [])).isAllowed)
        #expect(!decide(subject, person("\u{212A}im", groups: [])).isAllowed)

        let clients = makeRole(allowedClients: ["Kubectl"])
        #expect(decide(clients, person(), nil, context(client: "Kubectl")).isAllowed)
        #expect(!decide(clients, person(), nil, context(client: "\u{212A}ubectl")).isAllowed)

        var conditions = RoleConditions()
        conditions.claims = [ClaimCondition(claim: "repository", test: .equals("acme/Kafka")),
                             ClaimCondition(claim: "team", test: .oneOf(["K8s", "ops"]))]
        let claims = makeRole(conditions)
        let good: [String: ClaimValue] = ["repository": .string("acme/Kafka"), "team": .string("K8s")]
        #expect(decide(claims, person(claims: good)).isAllowed)
        #expect(!decide(claims, person(claims: good.merging(["repository": .string("acme/\u{212A}afka")]) { $1 })).isAllowed)
        #expect(!decide(claims, person(claims: good.merging(["team": .string("\u{212A}8s")]) { $1 })).isAllowed)
        // A claim whose name is an equivalent spelling is another claim.
        var named = RoleConditions()
        named.claims = [ClaimCondition(claim: "Kind", test: .equals("prod"))]
        #expect(decide(makeRole(named), person(claims: ["Kind": .string("prod")])).isAllowed)
        #expect(!decide(makeRole(named), person(claims: ["\u{212A}ind": .string("prod")])).isAllowed)

        var mfa = RoleConditions()
        mfa.mfa = MFACondition(methods: ["hwK"])
        #expect(decide(makeRole(mfa), person(amr: ["hwK"])).isAllowed)
        #expect(!decide(makeRole(mfa), person(amr: ["hw\u{212A}"])).isAllowed)
    }

    @Test func roleNamesAreLookedUpExactly() {
        let engine = PolicyEngine(roles: [makeRole(name: "ops")])
        #expect(engine.role(named: "ops") != nil)
        #expect(engine.decide(identity: person(), request: AccessRequest(role: "ops"), context: context()).isAllowed)
    }

    // MARK: finding 2

    @Test func authenticationAgeOfAnyDateNeverTraps() {
        var conditions = RoleConditions()
        conditions.maxAuthAgeSeconds = 8 * 3600
        let role = makeRole(conditions)
        for absurd in [-1e300, 1e300, -Double.greatestFiniteMagnitude] {
            let decision = decide(role, person(authenticatedAt: Date(timeIntervalSince1970: absurd)))
            #expect(!decision.isAllowed, "auth_time \(absurd)")
        }
        #expect(decide(role, person(authenticatedAt: monday10.addingTimeInterval(-60))).isAllowed)
    }

    @Test func timeWindowsOfAnyDateNeverTrap() {
        let window = TimeWindow(startMinute: 0, endMinute: 1440, timeZone: TimeZone(identifier: "UTC")!)
        for absurd in [-1e300, 1e300] {
            _ = window.contains(Date(timeIntervalSince1970: absurd))
        }
        #expect(window.contains(monday10))
    }

    // MARK: finding 10

    @Test func requestTextIsTrimmedAndControlCharactersAreRefused() throws {
        #expect(try RequestText.ticket("\u{2003}INC-42\u{2003}\n") == "INC-42")
        #expect(try RequestText.justification("  replica lag \u{2003}") == "replica lag")
        #expect(try RequestText.justification("   ") == nil)
        #expect(try RequestText.ticket(nil) == nil)
        for hostile in ["INC-42\nINC-43", "a\u{0}b", "a\u{7F}b", "a\u{85}b", "a\u{202E}b", "a\u{2066}b", "tab\there"] {
            #expect(throws: RequestText.Refusal.self, "\(hostile.debugDescription)") { try RequestText.justification(hostile) }
        }
        #expect(throws: RequestText.Refusal.self) { try RequestText.ticket(String(repeating: "1", count: 129)) }
        #expect(try RequestText.ticket(String(repeating: "1", count: 128))?.count == 128)
        #expect(throws: RequestText.Refusal.self) { try RequestText.justification(String(repeating: "x", count: 10_001)) }
        // The refusal names the character, in words a person reads.
        #expect(throws: RequestText.Refusal(message: "ticket contains the control character U+000A; write it on one line of printable text")) {
            try RequestText.ticket("INC-1\nINC-2")
        }
    }

    // MARK: suspected: YAML aliases expanded without bound

    @Test func aliasBombsAreRefusedQuickly() throws {
        // Nine levels of nine: 9^9 (387 million) leaves from a few hundred bytes.
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            let previous = "*a\(level - 1)"
            yaml += "a\(level): &a\(level) [" + Array(repeating: previous, count: 9).joined(separator: ", ") + "]\n"
        }
        // In a policy file: the expansion is bounded once parsed.
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseClients(yaml, file: "clients.yaml") }
        #expect(error?.message.contains("expands to more than") == true, "\(String(describing: error))")
        // In a question over HTTP no alias is accepted at all: Yams hashes whole mapping keys
        // while it parses, so a bomb used as a key would never reach the bound.
        let keyed = yaml + "identity: {? *a9 : x}\n"
        let refused = #expect(throws: PolicyError.self) {
            try PolicyQuestion.parse(keyed, file: "explain", now: monday10, trustedProxies: TrustedProxies())
        }
        #expect(refused?.location.line == 2 && refused?.message.contains("aliases") == true, "\(String(describing: refused))")
        // Ordinary anchors still work in files.
        let anchored = "clients:\n  - id: a\n    public: true\n    description: &d shared\n  - id: b\n    public: true\n    description: *d\n"
        #expect(try PolicyBundle.parseClients(anchored, file: "c.yaml").map(\.description) == ["shared", "shared"])
    }

    /// The alias scan agrees with YAML about what is quoted: text cannot hide an alias from it.
    @Test(arguments: [
        ("identity: *a", 1), ("a: [x, *b]", 1), ("a: {k: *b}", 1), ("- *a", 1), ("? *a\n: x", 1), ("x: 1\ny: *z", 2),
        // Quotes and escapes as YAML reads them.
        ("a: \"x\\\\\" *b", 1), ("a: 'x'' \"' , *b", 1), ("a: 'it''s' *b", 1),
        // Not aliases.
        ("a: \"*b\"", nil), ("a: '*b'", nil), ("a: refs/tags/v*", nil), ("a: x # *b", nil), ("a: \"x\\\" *b\"", nil),
        ("glob: \"acme/*\"", nil), ("a: 2 * 3", nil), ("a: don't *b", 1),
    ] as [(String, Int?)])
    func findsAliasesAsYAMLReadsThem(_ text: String, _ line: Int?) {
        #expect(YAMLAliases.firstLine(in: text) == line, "\(text)")
    }
}
