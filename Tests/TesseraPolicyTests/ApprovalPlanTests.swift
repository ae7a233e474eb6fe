import Foundation
import Testing
@testable import TesseraPolicy

/// The rules of approving as pure functions (STYLE.md): no store, the time passed in.
@Suite("approval plans")
struct ApprovalPlanTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let plan = ApprovalPlan(stages: [
        ApprovalStage(approvers: ApproverSet(groups: ["leads"]), escalateAfterSeconds: 900, escalateTo: ApproverSet(groups: ["commanders"])),
        ApprovalStage(approvers: ApproverSet(groups: ["security"], subjects: ["corp:ciso"]), count: 2),
    ], approverConditions: ApproverConditions(mfa: MFACondition(), maxAuthAgeSeconds: 1800))

    static func person(_ subject: String, _ groups: [String], amr: [String] = ["mfa"], authAge: TimeInterval = 60) -> Identity {
        Identity(upstream: "corp", subject: subject, groups: groups, authenticationMethods: amr, authenticatedAt: start.addingTimeInterval(-authAge))
    }

    func judge(_ approver: Identity, approvals: [GivenApproval] = [], at offset: TimeInterval = 0) -> ApprovalVerdict {
        Self.plan.judge(approver: approver, requester: "corp:alice", approvals: approvals, stageStartedAt: Self.start,
                        now: Self.start.addingTimeInterval(offset))
    }

    @Test func stagesAreSatisfiedInOrderByDistinctPeople() {
        #expect(judge(Self.person("bob", ["leads"])) == .counts(stage: 0, viaEscalation: false, completes: false))
        let afterBob = [GivenApproval(approver: "corp:bob", stage: 0)]
        #expect(judge(Self.person("carol", ["security"]), approvals: afterBob) == .counts(stage: 1, viaEscalation: false, completes: false))
        let afterCarol = afterBob + [GivenApproval(approver: "corp:carol", stage: 1)]
        #expect(judge(Self.person("ciso", []), approvals: afterCarol) == .counts(stage: 1, viaEscalation: false, completes: true))
        guard case .refused(let reason) = judge(Self.person("bob", ["leads", "security"]), approvals: afterBob) else {
            Issue.record("one person counted twice across stages")
            return
        }
        #expect(reason.contains("one person counts once"))
    }

    @Test func theRequesterAndPeopleOutsideTheStageAreRefused() {
        guard case .refused(let own) = judge(Self.person("alice", ["leads"])) else {
            Issue.record("self-approval counted")
            return
        }
        #expect(own.contains("cannot approve"))
        guard case .refused(let outside) = judge(Self.person("carol", ["security"])) else {
            Issue.record("stage 2 approved stage 1")
            return
        }
        #expect(outside.contains("not an approver of stage 1"))
    }

    @Test func approversWithoutFreshMFAAreRefused() {
        guard case .refused(let noMFA) = judge(Self.person("bob", ["leads"], amr: ["pwd"])) else {
            Issue.record("an approver without MFA counted")
            return
        }
        #expect(noMFA.contains("MFA required"))
        guard case .refused(let stale) = judge(Self.person("bob", ["leads"], authAge: 7200)) else {
            Issue.record("a stale sign-in counted")
            return
        }
        #expect(stale.contains("authentication too old"))
    }

    @Test func theEscalationGroupDecidesOnlyOnceTheStageHasWaited() {
        guard case .refused(let early) = judge(Self.person("dan", ["commanders"]), at: 600) else {
            Issue.record("escalated early")
            return
        }
        #expect(early.contains("only once it escalates"))
        #expect(judge(Self.person("dan", ["commanders"]), at: 900) == .counts(stage: 0, viaEscalation: true, completes: false))
    }

    @Test func autoApprovalNamesTheFirstRuleThatHolds() throws {
        let plan = ApprovalPlan(stages: Self.plan.stages, autoApprove: [
            AutoApprovalRule(maxLifetimeSeconds: 900, ticket: try RegexPattern("INC-[0-9]+")), AutoApprovalRule(groups: ["oncall"]),
        ])
        let request = AccessRequest(role: "r", ticket: "INC-42")
        let context = DecisionContext(clientID: "cli", now: Date())
        #expect(plan.autoApproval(identity: Self.person("a", []), request: request, lifetimeSeconds: 900, context: context)?.number == 1)
        #expect(plan.autoApproval(identity: Self.person("a", []), request: request, lifetimeSeconds: 901, context: context) == nil)
        #expect(plan.autoApproval(identity: Self.person("a", ["oncall"]), request: AccessRequest(role: "r"), lifetimeSeconds: 3600,
                                  context: context)?.number == 2)
    }

    @Test("broken plans are refused naming line and field", arguments: [
        ("      approval:\n        stages: []\n", 7, "roles[0].conditions.approval.stages", "1 to 5 stages"),
        ("      approval:\n        approvers: [a]\n        stages: [{approvers: [b]}]\n", 7, "roles[0].conditions.approval.approvers", "not both"),
        ("      approval:\n        stages:\n          - {approvers: {subjects: [corp:a]}, count: 2}\n", 8, "roles[0].conditions.approval.stages[0].count", "never be reached"),
        ("      approval:\n        stages:\n          - {approvers: [a], escalate_after: 15m}\n", 8, "roles[0].conditions.approval.stages[0].escalate_after", "escalate_to"),
        ("      approval:\n        stages:\n          - {approvers: {subjects: [ciso]}}\n", 8, "roles[0].conditions.approval.stages[0].approvers.subjects", "namespaced"),
        ("      approval:\n        approvers: [a]\n        window_starts: later\n", 8, "roles[0].conditions.approval.window_starts", "first_token"),
        ("      approval:\n        approvers: [a]\n        auto_approve: [{}]\n", 8, "roles[0].conditions.approval.auto_approve[0]", "at least one"),
    ])
    func rejectsBrokenPlans(plan: String, line: Int, field: String, message: String) {
        let yaml = "roles:\n  - name: r\n    audiences: [a]\n    max_duration: 1h\n    conditions:\n" + plan
        let error = #expect(throws: PolicyError.self) {
            try PolicyBundle.parseRoles(yaml, file: "policies/roles/r.yaml", networks: [:])
        }
        #expect(error?.location.line == line, "\(String(describing: error))")
        #expect(error?.field == field, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test func policyTestCasesCheckStagesAndAutoApproval() throws {
        let yaml = """
        cases:
          - name: wrong stage count
            identity: {upstream: corp, subject: alice@example.com, groups: [payments-sre], amr: [mfa]}
            request: {role: payments-admin, justification: rotate keys}
            expect: {outcome: approval_required, stages: 1}
          - name: claimed auto-approval
            identity: {upstream: corp, subject: alice@example.com, groups: [payments-sre], amr: [mfa]}
            request: {role: payments-admin, justification: rotate keys}
            expect: {outcome: approval_required, auto_approved: true}
          - name: missed auto-approval
            identity: {upstream: corp, subject: alice@example.com, groups: [payments-sre], amr: [mfa]}
            request: {role: payments-admin, lifetime: 15m, justification: outage, ticket: INC-1}
            expect: {outcome: allow, auto_approved: false}
          - name: a role without a plan
            identity: {upstream: corp, subject: alice@example.com, groups: [engineering], amr: [mfa]}
            request: {role: prod-readonly}
            expect: {outcome: allow, stages: 1}
        """
        let bundle = try PolicyBundle.load(directory: examplePolicies)
        let engine = PolicyEngine(bundle: bundle)
        let problems = try PolicyBundle.parseTestCases(yaml, file: "t.yaml", now: monday10).map { $0.run(engine).problems }
        #expect(problems[0] == ["expected an approval plan of 1 stage(s), got 2"])
        #expect(problems[1] == ["expected an auto-approval, got approval_required without one"])
        #expect(problems[2] == ["expected no auto-approval, got auto-approved by rule 1 (max_lifetime 15m, ticket ^INC-[0-9]+$)"])
        #expect(problems[3] == ["expected an approval plan of 1 stage(s), got no approval plan"])
        let broken = "cases:\n  - name: n\n    identity: {upstream: corp, subject: a}\n    request: {role: r}\n    expect: {outcome: allow, stages: 0}\n"
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseTestCases(broken, file: "t.yaml", now: monday10) }
        #expect(error?.message.contains("at least 1 stage") == true)
    }
}
