import Foundation
import Testing
import TesseraPolicy

/// 2026-03-02T10:00:00Z, a Monday.
let monday10 = RFC3339.date("2026-03-02T10:00:00Z")!

func makeRole(name: String = "r", eligibility: Eligibility = Eligibility(upstreams: ["corp"], groups: ["sre"]),
              allowedClients: [String]? = nil, defaultDuration: Int = 1800, maxDuration: Int = 3600,
              _ conditions: RoleConditions = RoleConditions()) -> RoleDefinition {
    RoleDefinition(name: name, audiences: ["https://api.example.com"], scopes: ["s"], defaultDurationSeconds: defaultDuration,
                   maxDurationSeconds: maxDuration, eligibility: eligibility, allowedClients: allowedClients, conditions: conditions)
}

func person(_ subject: String = "alice", upstream: String = "corp", groups: [String] = ["sre"], amr: [String] = ["pwd", "mfa"],
            acr: String? = nil, authenticatedAt: Date? = nil, device: Bool? = nil, claims: [String: ClaimValue] = [:]) -> Identity {
    Identity(upstream: upstream, subject: subject, groups: groups, authenticationMethods: amr, authenticationContext: acr,
             authenticatedAt: authenticatedAt, deviceCompliant: device, claims: claims)
}

func context(ip: String? = "10.1.2.3", now: Date = monday10, client: String = "cli", onCall: Set<String>? = nil) -> DecisionContext {
    DecisionContext(clientID: client, clientAddress: ip.flatMap { IPAddress($0) }, now: now,
                    onCall: onCall.map { OnCallState.assuming(person(), onCallFor: $0, configuration: OnCallConfiguration(), now: now) })
}

func decide(_ role: RoleDefinition, _ identity: Identity = person(), _ request: AccessRequest? = nil,
            _ context: DecisionContext = context()) -> AccessDecision {
    PolicyEngine(roles: [role]).decide(identity: identity, request: request ?? AccessRequest(role: role.name), context: context)
}

extension AccessDecision {
    func result(_ rule: String) -> RuleResult? { rules.first { $0.rule == rule } }
}

@Suite("policy engine")
struct PolicyEngineTests {
    // MARK: deny by default

    @Test func unknownRoleIsDeniedWithoutARole() {
        let decision = PolicyEngine(roles: [makeRole()]).decide(identity: person(), request: AccessRequest(role: "nope"), context: context())
        #expect(decision.outcome == .deny)
        #expect(decision.role == nil)
        #expect(decision.rules == [.failed("role", "unknown role \"nope\"")])
    }

    @Test func roleWithoutEligibilityAdmitsNobody() {
        let decision = decide(makeRole(eligibility: Eligibility(upstreams: ["corp"])))
        #expect(decision.outcome == .deny)
        #expect(decision.result("eligibility")?.reason == "role admits nobody: it lists no eligible subjects or groups")
    }

    @Test func eligibilityByGroupSubjectGlobAndUpstream() {
        let role = makeRole(eligibility: Eligibility(upstreams: ["corp"], groups: ["sre"], subjects: [GlobPattern("bob"), GlobPattern("svc-*")]))
        #expect(decide(role).result("eligibility")?.reason == "alice from corp is eligible through group sre")
        #expect(decide(role, person("bob", groups: [])).result("eligibility")?.reason == "bob from corp is eligible as subject bob")
        #expect(decide(role, person("svc-backup", groups: [])).isAllowed)
        let outsider = decide(role, person("eve", groups: ["marketing"]))
        #expect(outsider.outcome == .deny)
        #expect(outsider.result("eligibility")?.reason
            == "eve from corp is not eligible: subject not in [bob, svc-*] and groups [marketing] include none of [sre]")
        let otherUpstream = decide(role, person(upstream: "dev"))
        #expect(otherUpstream.result("eligibility")?.reason == "alice from dev is not eligible: upstream dev not in [corp]")
    }

    @Test func allowedClients() {
        let role = makeRole(allowedClients: ["cli"])
        #expect(decide(role).result("allowed_clients")?.isMet == true)
        let other = decide(role, person(), nil, context(client: "batch"))
        #expect(other.outcome == .deny)
        #expect(other.result("allowed_clients")?.reason == "client batch is not allowed; allowed clients: [cli]")
    }

    @Test func allowsWithDefaultLifetimeWhenNothingElseIsAsked() {
        let decision = decide(makeRole())
        #expect(decision.outcome == .allow(lifetimeSeconds: 1800))
        #expect(decision.lifetimeSeconds == 1800)
        #expect(decision.role?.name == "r")
        #expect(decision.rules.map(\.rule) == ["eligibility", "lifetime"])
    }

    // MARK: lifetime

    @Test func lifetimeAboveMaximumIsDeniedBelowIsGranted() {
        let role = makeRole()
        #expect(decide(role, person(), AccessRequest(role: "r", lifetimeSeconds: 600)).outcome == .allow(lifetimeSeconds: 600))
        #expect(decide(role, person(), AccessRequest(role: "r", lifetimeSeconds: 3600)).outcome == .allow(lifetimeSeconds: 3600))
        let tooLong = decide(role, person(), AccessRequest(role: "r", lifetimeSeconds: 7200))
        #expect(tooLong.outcome == .deny)
        #expect(tooLong.result("lifetime")?.reason == "requested lifetime 2h exceeds the role's maximum 1h")
        #expect(decide(role, person(), AccessRequest(role: "r", lifetimeSeconds: 0)).outcome == .deny)
    }

    // MARK: authentication

    @Test func mfa() {
        let role = makeRole(RoleConditions(mfa: MFACondition(methods: ["mfa", "hwk"])))
        #expect(decide(role).result("mfa")?.reason == "MFA: token amr [pwd, mfa] includes mfa")
        let denied = decide(role, person(amr: ["pwd"]))
        #expect(denied.outcome == .deny)
        #expect(denied.result("mfa")?.reason == "MFA required: token amr [pwd] has none of [mfa, hwk]")
        #expect(denied.failureSummary == "MFA required: token amr [pwd] has none of [mfa, hwk]")
    }

    @Test func mfaThroughAcr() {
        let role = makeRole(RoleConditions(mfa: MFACondition(methods: ["mfa"], contexts: ["urn:example:mfa"])))
        #expect(decide(role, person(amr: [], acr: "urn:example:mfa")).isAllowed)
        let denied = decide(role, person(amr: ["pwd"], acr: "urn:example:pwd"))
        #expect(denied.result("mfa")?.reason
            == "MFA required: token amr [pwd] has none of [mfa] and acr urn:example:pwd is not one of [urn:example:mfa]")
    }

    @Test func defaultMFAMethodsFollowRFC8176() {
        let role = makeRole(RoleConditions(mfa: MFACondition()))
        for method in ["mfa", "hwk", "swk", "otp", "sc", "mca"] { #expect(decide(role, person(amr: [method])).isAllowed, "\(method)") }
        for method in ["pwd", "sms", "kba", "tel"] { #expect(!decide(role, person(amr: [method])).isAllowed, "\(method)") }
    }

    @Test func phishingResistantStrength() {
        let role = makeRole(RoleConditions(phishingResistant: StrengthCondition()))
        #expect(decide(role, person(amr: ["hwk", "mfa"])).isAllowed)
        #expect(decide(role, person(amr: ["fido"])).isAllowed)
        #expect(decide(role, person(amr: ["pwd"], acr: "phr")).isAllowed)
        let denied = decide(role, person(amr: ["pwd", "otp"]))
        #expect(denied.result("strength")?.reason
            == "phishing-resistant authentication required: token amr [pwd, otp] has none of [hwk, sc, fido] and acr (none) is not one of [phr, phrh]")
    }

    @Test func maxAuthAge() {
        let role = makeRole(RoleConditions(maxAuthAgeSeconds: 1800))
        let recent = decide(role, person(authenticatedAt: monday10.addingTimeInterval(-600)))
        #expect(recent.result("max_auth_age")?.reason == "authenticated 10m ago, within 30m")
        #expect(decide(role, person(authenticatedAt: monday10.addingTimeInterval(-1800))).isAllowed, "the limit itself is allowed")
        let old = decide(role, person(authenticatedAt: monday10.addingTimeInterval(-1801)))
        #expect(old.result("max_auth_age")?.reason == "authentication too old: 30m1s ago, at most 30m; sign in again")
        let missing = decide(role, person())
        #expect(missing.outcome == .deny)
        #expect(missing.result("max_auth_age")?.reason
            == "authentication time unknown: the token has no auth_time; the role needs an authentication within 30m")
    }

    @Test func deviceCompliance() {
        let role = makeRole(RoleConditions(deviceCompliant: true))
        #expect(decide(role, person(device: true)).result("device_compliant")?.reason == "device is compliant")
        #expect(decide(role, person(device: false)).result("device_compliant")?.reason
            == "compliant device required: the upstream says the device is not compliant")
        let unknown = decide(role, person(device: nil))
        #expect(unknown.outcome == .deny)
        #expect(unknown.result("device_compliant")?.reason == "compliant device required: the upstream did not say whether the device is compliant")
    }

    // MARK: network

    @Test func networks() throws {
        let corp = NetworkSet(name: "corp-vpn", networks: [try #require(IPNetwork("10.0.0.0/8")), try #require(IPNetwork("2001:db8::/32"))])
        let role = makeRole(RoleConditions(networks: [corp, NetworkSet(name: "198.51.100.7/32", networks: [try #require(IPNetwork("198.51.100.7/32"))])]))
        #expect(decide(role).result("networks")?.reason == "network 10.1.2.3 in corp-vpn")
        #expect(decide(role, person(), nil, context(ip: "::ffff:10.9.9.9")).isAllowed)
        #expect(decide(role, person(), nil, context(ip: "2001:db8::5")).isAllowed)
        #expect(decide(role, person(), nil, context(ip: "198.51.100.7")).result("networks")?.reason == "network 198.51.100.7 in 198.51.100.7/32")
        let home = decide(role, person(), nil, context(ip: "203.0.113.9"))
        #expect(home.outcome == .deny)
        #expect(home.result("networks")?.reason == "network 203.0.113.9 not in corp-vpn, 198.51.100.7/32")
        let unknown = decide(role, person(), nil, context(ip: nil))
        #expect(unknown.result("networks")?.reason == "client address unknown; the role requires a network in corp-vpn, 198.51.100.7/32")
    }

    // MARK: time windows

    private func window(days: UInt8 = 0x7F, _ start: String, _ end: String, _ zone: String) -> TimeWindow {
        func minutes(_ text: String) -> Int { Int(text.prefix(2))! * 60 + Int(text.suffix(2))! }
        return TimeWindow(dayMask: days, startMinute: minutes(start), endMinute: minutes(end), timeZone: TimeZone(identifier: zone)!, timeZoneName: zone)
    }

    private func at(_ text: String) -> DecisionContext { context(now: RFC3339.date(text)!) }

    @Test func officeHoursInUTC() {
        let role = makeRole(RoleConditions(timeWindows: [window(days: 0b0111110, "08:00", "18:00", "UTC")]))
        #expect(decide(role, person(), nil, at("2026-03-02T08:00:00Z")).isAllowed)
        #expect(decide(role, person(), nil, at("2026-03-02T17:59:00Z")).isAllowed)
        let evening = decide(role, person(), nil, at("2026-03-02T18:00:00Z"))
        #expect(evening.outcome == .deny)
        #expect(evening.result("time_windows")?.reason
            == "outside the allowed time: mon 18:00 UTC is not within mon,tue,wed,thu,fri 08:00-18:00 UTC")
        #expect(!decide(role, person(), nil, at("2026-03-07T10:00:00Z")).isAllowed, "Saturday")
    }

    @Test func windowAcrossMidnightBelongsToItsStartDay() {
        // Fridays only, 22:00-06:00.
        let role = makeRole(RoleConditions(timeWindows: [window(days: 1 << 5, "22:00", "06:00", "UTC")]))
        #expect(decide(role, person(), nil, at("2026-03-06T22:00:00Z")).isAllowed, "Friday 22:00")
        #expect(decide(role, person(), nil, at("2026-03-07T03:00:00Z")).isAllowed, "Saturday 03:00 is Friday night")
        #expect(!decide(role, person(), nil, at("2026-03-07T06:00:00Z")).isAllowed, "Saturday 06:00 is over")
        #expect(!decide(role, person(), nil, at("2026-03-06T03:00:00Z")).isAllowed, "Friday 03:00 is Thursday night")
        #expect(!decide(role, person(), nil, at("2026-03-07T22:30:00Z")).isAllowed, "Saturday night")
        #expect(!decide(role, person(), nil, at("2026-03-06T21:59:00Z")).isAllowed)
    }

    @Test func berlinWindowFollowsTheSpringDSTChange() {
        // On 2026-03-29 Berlin moves from CET (+1) to CEST (+2) at 01:00 UTC.
        let role = makeRole(RoleConditions(timeWindows: [window("08:00", "09:00", "Europe/Berlin")]))
        #expect(decide(role, person(), nil, at("2026-03-28T07:30:00Z")).isAllowed, "08:30 CET the day before")
        #expect(!decide(role, person(), nil, at("2026-03-28T06:30:00Z")).isAllowed, "07:30 CET")
        #expect(decide(role, person(), nil, at("2026-03-29T06:30:00Z")).isAllowed, "08:30 CEST")
        let late = decide(role, person(), nil, at("2026-03-29T07:30:00Z"))
        #expect(!late.isAllowed, "09:30 CEST")
        #expect(late.result("time_windows")?.reason == "outside the allowed time: sun 09:30 Europe/Berlin is not within every day 08:00-09:00 Europe/Berlin")
    }

    @Test func berlinNightWindowAcrossTheDSTGap() {
        // 01:00-04:00 local on the night of the change: 01:00 CET = 00:00 UTC; 03:00 CEST = 01:00 UTC; 04:00 CEST = 02:00 UTC.
        let role = makeRole(RoleConditions(timeWindows: [window("01:00", "04:00", "Europe/Berlin")]))
        #expect(!decide(role, person(), nil, at("2026-03-28T23:59:00Z")).isAllowed, "00:59 CET")
        #expect(decide(role, person(), nil, at("2026-03-29T00:30:00Z")).isAllowed, "01:30 CET")
        #expect(decide(role, person(), nil, at("2026-03-29T01:30:00Z")).isAllowed, "03:30 CEST")
        #expect(!decide(role, person(), nil, at("2026-03-29T02:00:00Z")).isAllowed, "04:00 CEST")
        // Autumn: 2026-10-25 at 01:00 UTC Berlin goes back to CET.
        let morning = makeRole(RoleConditions(timeWindows: [window("08:00", "09:00", "Europe/Berlin")]))
        #expect(decide(morning, person(), nil, at("2026-10-25T07:30:00Z")).isAllowed, "08:30 CET after the change")
        #expect(!decide(morning, person(), nil, at("2026-10-24T07:30:00Z")).isAllowed, "09:30 CEST before it")
    }

    @Test func anyOfSeveralWindows() {
        let role = makeRole(RoleConditions(timeWindows: [window("08:00", "09:00", "UTC"), window("20:00", "21:00", "UTC")]))
        #expect(decide(role, person(), nil, at("2026-03-02T20:30:00Z")).isAllowed)
        #expect(!decide(role, person(), nil, at("2026-03-02T12:00:00Z")).isAllowed)
    }

    // MARK: claims

    @Test func claimTests() throws {
        let claims: [String: ClaimValue] = [
            "repository": .string("acme/payments"), "ref": .string("refs/heads/main"), "environment": .string("production"),
            "run_attempt": .number(2), "aud": .array([.string("a"), .string("b")]), "head_ref": .string(""),
        ]
        let cases: [(ClaimCondition.Test, String, Bool, String)] = [
            (.equals("acme/payments"), "repository", true, "claim repository \"acme/payments\" equals \"acme/payments\""),
            (.equals("acme/web"), "repository", false, "claim repository \"acme/payments\" fails: expected it equals \"acme/web\""),
            (.oneOf(["staging", "production"]), "environment", true, "claim environment \"production\" is one of [staging, production]"),
            (.oneOf(["staging"]), "environment", false, "claim environment \"production\" fails: expected it is one of [staging]"),
            (.glob(GlobPattern("refs/heads/*")), "ref", true, "claim ref \"refs/heads/main\" matches glob refs/heads/*"),
            (.glob(GlobPattern("refs/tags/v?.*")), "ref", false, "claim ref \"refs/heads/main\" fails: expected it matches glob refs/tags/v?.*"),
            (.regex(try RegexPattern("refs/heads/(main|release-[0-9]+)")), "ref", true, "claim ref \"refs/heads/main\" matches regex refs/heads/(main|release-[0-9]+)"),
            (.regex(try RegexPattern("main")), "ref", false, "claim ref \"refs/heads/main\" fails: expected it matches regex main"),
            (.present, "repository", true, "claim repository \"acme/payments\" is present"),
            (.present, "actor", false, "claim actor (missing) fails: expected it is present"),
            (.absent, "act", true, "claim act (missing) is absent"),
            (.absent, "head_ref", false, "claim head_ref \"\" fails: expected it is absent"),
            (.equals("2"), "run_attempt", true, "claim run_attempt 2 equals \"2\""),
            (.equals("b"), "aud", true, "claim aud [\"a\", \"b\"] equals \"b\""),
            (.equals("c"), "aud", false, "claim aud [\"a\", \"b\"] fails: expected it equals \"c\""),
        ]
        for (test, claim, allowed, reason) in cases {
            let role = makeRole(RoleConditions(claims: [ClaimCondition(claim: claim, test: test)]))
            let decision = decide(role, person(claims: claims))
            #expect(decision.isAllowed == allowed, "\(claim) \(test)")
            #expect(decision.result("claims.\(claim)")?.reason == reason)
        }
    }

    @Test func regexIsAnchoredToTheWholeValue() throws {
        let regex = try RegexPattern("refs/heads/main")
        #expect(regex.matches("refs/heads/main"))
        #expect(!regex.matches("refs/heads/main-evil"))
        #expect(!regex.matches("xrefs/heads/main"))
        #expect(try RegexPattern("a|b").matches("b"))
        #expect(!(try RegexPattern("a|b").matches("ab")))
        #expect(throws: PolicyError.self) { try RegexPattern("(unclosed") }
    }

    @Test func globs() {
        #expect(GlobPattern("repo:acme/*:ref:refs/heads/main").matches("repo:acme/payments:ref:refs/heads/main"))
        #expect(!GlobPattern("repo:acme/*:ref:refs/heads/main").matches("repo:acme/payments:ref:refs/heads/dev"))
        #expect(GlobPattern("v?.?").matches("v1.2"))
        #expect(GlobPattern("v?").matches("vé"), "? is one character, not one byte")
        #expect(!GlobPattern("v?").matches("v"))
        #expect(GlobPattern("*").matches(""))
        #expect(GlobPattern("a*b*c").matches("aXXbYYc"))
        #expect(!GlobPattern("a*b*c").matches("aXXbYY"))
        #expect(GlobPattern("exact").matches("exact"))
        #expect(!GlobPattern("exact").matches("exact!"))
    }

    // MARK: the request

    @Test func justification() {
        let role = makeRole(RoleConditions(justification: JustificationCondition(minimumLength: 5, maximumLength: 20)))
        #expect(decide(role, person(), AccessRequest(role: "r", justification: "replica lag")).result("justification")?.reason
            == "justification given (11 characters)")
        #expect(decide(role, person(), AccessRequest(role: "r", justification: "   ")).result("justification")?.reason
            == "justification required: say why you need this role")
        #expect(decide(role, person(), AccessRequest(role: "r")).outcome == .deny)
        #expect(decide(role, person(), AccessRequest(role: "r", justification: "abc")).result("justification")?.reason
            == "justification too short: 3 characters, at least 5")
        #expect(decide(role, person(), AccessRequest(role: "r", justification: String(repeating: "x", count: 21))).result("justification")?.reason
            == "justification too long: 21 characters, at most 20")
    }

    @Test func ticket() throws {
        let role = makeRole(RoleConditions(ticket: TicketCondition(required: true, pattern: try RegexPattern("^(INC|CHG)-[0-9]+$"))))
        #expect(decide(role, person(), AccessRequest(role: "r", ticket: "INC-4211")).result("ticket")?.reason == "ticket INC-4211 matches ^(INC|CHG)-[0-9]+$")
        #expect(decide(role, person(), AccessRequest(role: "r", ticket: "CHG-x")).result("ticket")?.reason == "ticket CHG-x does not match ^(INC|CHG)-[0-9]+$")
        #expect(decide(role, person(), AccessRequest(role: "r", ticket: "INC-1\nINC-2")).outcome == .deny)
        #expect(decide(role, person(), AccessRequest(role: "r")).result("ticket")?.reason
            == "ticket required: give a ticket reference matching ^(INC|CHG)-[0-9]+$")
        // Optional ticket: none is fine, a bad one is not.
        let optional = makeRole(RoleConditions(ticket: TicketCondition(required: false, pattern: try RegexPattern("INC-[0-9]+"))))
        #expect(decide(optional).isAllowed)
        #expect(!decide(optional, person(), AccessRequest(role: "r", ticket: "JIRA-1")).isAllowed)
    }

    @Test func onCall() {
        let role = makeRole(RoleConditions(onCall: OnCallCondition(schedule: "payments-primary")))
        let onCall = decide(role, person(), nil, context(onCall: ["payments-primary"])).result("on_call")?.reason
        #expect(onCall == "corp:alice is on call for payments-primary until 2026-03-03 10:00 UTC", "\(onCall ?? "")")
        #expect(decide(role, person(), nil, context(onCall: [])).result("on_call")?.reason
            == "corp:alice is not on call for payments-primary; on call now: nobody")
        let unknown = decide(role, person(), nil, context(onCall: nil))
        #expect(unknown.outcome == .deny)
        #expect(unknown.result("on_call")?.reason
            == "on-call state unknown: no schedules are configured, so corp:alice cannot be shown on call for payments-primary")
    }

    @Test func approvalOnlyWhenEverythingElseHolds() {
        let approval = ApprovalPlan(approverGroups: ["sre-leads"], count: 2)
        let role = makeRole(maxDuration: 900, RoleConditions(mfa: MFACondition(), approval: approval))
        let decision = decide(role, person(), AccessRequest(role: "r", lifetimeSeconds: 600))
        #expect(decision.outcome == .approvalRequired(approval))
        #expect(decision.lifetimeSeconds == 600)
        #expect(decision.result("approval")?.status == .approvalRequired)
        #expect(decision.result("approval")?.reason == "approval required: 2 approvers from groups [sre-leads]")
        let denied = decide(role, person(amr: ["pwd"]))
        #expect(denied.outcome == .deny, "a failed rule denies; approval is not asked for")
        #expect(denied.result("approval")?.status == .approvalRequired, "the trace still says approval would be needed")
    }

    // MARK: combined

    @Test func everyConditionCombinedReportsEveryFailure() throws {
        let role = makeRole(allowedClients: ["cli"], RoleConditions(
            mfa: MFACondition(), phishingResistant: StrengthCondition(), maxAuthAgeSeconds: 600, deviceCompliant: true,
            networks: [NetworkSet(name: "corp-vpn", networks: [try #require(IPNetwork("10.0.0.0/8"))])],
            timeWindows: [window("08:00", "18:00", "UTC")],
            claims: [ClaimCondition(claim: "department", test: .equals("payments"))],
            justification: JustificationCondition(), ticket: TicketCondition(required: true, pattern: try RegexPattern("INC-[0-9]+")),
            onCall: OnCallCondition(schedule: "p")))
        let good = decide(role, person(amr: ["hwk"], authenticatedAt: monday10.addingTimeInterval(-60), device: true,
                                       claims: ["department": .string("payments")]),
                          AccessRequest(role: "r", lifetimeSeconds: 900, justification: "incident", ticket: "INC-1"),
                          context(onCall: ["p"]))
        #expect(good.outcome == .allow(lifetimeSeconds: 900), "\(good.trace)")
        #expect(good.rules.map(\.rule) == [
            "eligibility", "allowed_clients", "mfa", "strength", "max_auth_age", "device_compliant", "networks", "time_windows",
            "claims.department", "on_call", "justification", "ticket", "lifetime",
        ])
        #expect(good.rules.allSatisfy { $0.isMet })

        let bad = decide(role, person(groups: [], amr: ["pwd"]), AccessRequest(role: "r", lifetimeSeconds: 7200),
                         context(ip: "203.0.113.9", now: RFC3339.date("2026-03-02T03:00:00Z")!, client: "x"))
        #expect(bad.outcome == .deny)
        #expect(bad.failures.count == bad.rules.count, "every rule fails and every one is reported: \(bad.trace)")
        #expect(bad.failureSummary.contains("network 203.0.113.9 not in corp-vpn"))
        #expect(bad.trace.hasPrefix("role r: deny\n"))
    }
}
