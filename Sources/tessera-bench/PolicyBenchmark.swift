import Foundation
import TesseraPolicy

/// Policy evaluation alone, on one core: decisions per second for a bundle of 1,000 roles, each
/// with the conditions of a database-admin role (eligibility, MFA, authentication age, device,
/// network, justification and a regex ticket), every rule passing so every rule runs.
struct PolicyBenchmark {
    static let target = 200_000.0
    static let roleCount = 1000
    static let seconds = 2.0

    func run() throws {
        let network = try NetworkSet(name: "corp", networks: [require(IPNetwork("10.0.0.0/8"))])
        let ticket = TicketCondition(required: true, pattern: try RegexPattern("^(INC|CHG)-[0-9]+$"))
        let roles = (0..<Self.roleCount).map { index in
            RoleDefinition(
                name: "role-\(index)", audiences: ["https://api.example.com"], scopes: ["read"], defaultDurationSeconds: 1800,
                maxDurationSeconds: 3600, eligibility: Eligibility(upstreams: ["corp"], groups: ["team-\(index % 50)"]),
                conditions: RoleConditions(mfa: MFACondition(), maxAuthAgeSeconds: 8 * 3600, deviceCompliant: true, networks: [network],
                                           justification: JustificationCondition(), ticket: ticket))
        }
        let engine = PolicyEngine(roles: roles)
        let now = Date()
        let identity = Identity(upstream: "corp", subject: "alice", groups: (0..<50).map { "team-\($0)" }, authenticationMethods: ["pwd", "mfa"],
                                authenticatedAt: now - 600, deviceCompliant: true)
        let context = DecisionContext(clientID: "tessera-cli", clientAddress: IPAddress("10.1.2.3"), now: now)
        let requests = (0..<Self.roleCount).map {
            AccessRequest(role: "role-\($0)", justification: "replica lag on db-3", ticket: "INC-4211")
        }
        guard engine.decide(identity: identity, request: requests[0], context: context).isAllowed else {
            throw BenchError(description: "the benchmark's request is not allowed: it would measure a deny path")
        }
        let rate = Self.decisionRate(engine, identity: identity, requests: requests, context: context)
        let verdict = rate.perSecond >= Self.target ? "PASS" : "BELOW TARGET"
        print("== policy: \(Self.roleCount) roles of 7 rules each, one core")
        print("   decisions  \(Format.right(Format.count(rate.perSecond), 9))/s  \(verdict) (target >= \(Format.count(Self.target))/s)")
        try runDated(network: network, ticket: ticket, now: now, requests: requests)
    }

    static let datedEntryCount = 10_000
    static let assignmentCount = 10_000

    /// The same bundle with time-bound eligibility: 10 dated subjects per role in the bundle
    /// (10,000) and 10,000 run-time assignments, the person eligible only through one of them.
    private func runDated(network: NetworkSet, ticket: TicketCondition, now: Date, requests: [AccessRequest]) throws {
        let perRole = Self.datedEntryCount / Self.roleCount
        let roles = (0..<Self.roleCount).map { index in
            RoleDefinition(
                name: "role-\(index)", audiences: ["https://api.example.com"], scopes: ["read"], defaultDurationSeconds: 1800,
                maxDurationSeconds: 3600,
                eligibility: Eligibility(upstreams: ["corp", "partner"], groups: ["team-\(index % 50)"], dated: (0..<perRole).map { entry in
                    DatedEligibility(who: .subject("partner:contractor-\(index)-\(entry)@example.com"), from: now - 86_400, until: now + 86_400 * 14,
                                     sponsor: "corp:alice")
                }),
                conditions: RoleConditions(mfa: MFACondition(), maxAuthAgeSeconds: 8 * 3600, deviceCompliant: true, networks: [network],
                                           justification: JustificationCondition(), ticket: ticket))
        }
        let engine = PolicyEngine(roles: roles)
        // 10,000 assignments: dana once per role (so every decision allows through one), the rest other people.
        let assignments = EligibilityAssignments((0..<Self.assignmentCount).map { index in
            let role = index % Self.roleCount
            let subject = index < Self.roleCount ? "partner:dana@example.com" : "partner:temp-\(index)@example.com"
            return ("role-\(role)", DatedEligibility(who: .subject(subject), from: now - 3600, until: now + 86_400 * 7, assignmentID: "asg-\(index)"))
        })
        let identity = Identity(upstream: "partner", subject: "dana@example.com", groups: [], authenticationMethods: ["pwd", "mfa"],
                                authenticatedAt: now - 600, deviceCompliant: true)
        let context = DecisionContext(clientID: "tessera-cli", clientAddress: IPAddress("10.1.2.3"), now: now, assignments: assignments)
        guard engine.decide(identity: identity, request: requests[0], context: context).isAllowed else {
            throw BenchError(description: "the dated benchmark's request is not allowed: it would measure a deny path")
        }
        let rate = Self.decisionRate(engine, identity: identity, requests: requests, context: context)
        let verdict = rate.perSecond >= Self.target ? "PASS" : "BELOW TARGET"
        print("== policy with time-bound eligibility: \(Format.count(Double(Self.datedEntryCount))) dated entries, "
            + "\(Format.count(Double(Self.assignmentCount))) assignments, one core")
        print("   decisions  \(Format.right(Format.count(rate.perSecond), 9))/s  \(verdict) (target >= \(Format.count(Self.target))/s)")
    }

    /// Decisions per second, asking for each role of `requests` in turn.
    static func decisionRate(_ engine: PolicyEngine, identity: Identity, requests: [AccessRequest], context: DecisionContext) -> Rate {
        var index = 0
        return Stopwatch.run(for: seconds) {
            _ = engine.decide(identity: identity, request: requests[index], context: context)
            index = (index + 1) % requests.count
        }
    }
}

/// `#require` for the benchmark: a fixture that cannot be built is a programming error.
private func require<T>(_ value: T?) throws -> T {
    guard let value else { throw BenchError(description: "the policy benchmark's fixture is invalid") }
    return value
}
