import ArgumentParser
import Foundation
import TesseraCore
import TesseraJWT
import TesseraPolicy
import TesseraSchedules

/// The roles and networks part of `tessera policy check`.
func printAccessSummary(_ bundle: PolicyBundle) {
    let proxies = bundle.networkSettings.trustedProxies
    print("\(bundle.roles.count) role(s), \(bundle.networkSettings.networks.count) network(s), "
        + "\(proxies.networks.count) trusted proxy block(s) (header \(proxies.header.rawValue))")
    for role in bundle.roles {
        var notes = ["max \(DurationText.format(role.maxDurationSeconds))"]
        if role.conditions.approval != nil { notes.append("approval") }
        if role.eligibility.groups.isEmpty, role.eligibility.subjects.isEmpty { notes.append("admits nobody") }
        let rules = PolicyEngine.rules(for: role).map(\.name).joined(separator: ", ")
        print("  \(role.name) (\(notes.joined(separator: ", "))): \(rules)")
    }
}

/// The notifications part of `tessera policy check`: sinks by name and kind, never their URLs
/// (a Slack URL is a credential).
func printNotificationSummary(_ settings: NotificationSettings) {
    guard !settings.sinks.isEmpty else {
        print("no notifications (\(NotificationSettings.fileName) absent or without sinks)")
        return
    }
    let sinks = settings.sinks.map { "\($0.name) (\($0.kind.rawValue))" }.joined(separator: ", ")
    print("\(settings.sinks.count) notification sink(s): \(sinks); \(settings.routes.count) route(s)"
        + (settings.securitySinks.isEmpty ? "" : "; security sinks: \(settings.securitySinks.joined(separator: ", "))"))
}

/// The schedules part of `tessera policy check`, with a warning for each participant that maps
/// to no identity (an on-call condition could never hold for them).
func printOnCallSummary(_ bundle: PolicyBundle) {
    let onCall = bundle.onCall
    guard !onCall.isEmpty else { return }
    print("\(onCall.native.count) native schedule(s), \(onCall.feeds.count) imported, \(onCall.escalationPolicies.count) escalation policy(ies)")
    for native in onCall.native {
        let named = native.schedule.layers.flatMap(\.participants) + native.schedule.overrides.map(\.person)
        var seen = Set<String>()
        for participant in named where seen.insert(participant).inserted && !onCall.maps(participant) {
            print("warning: \(native.location): participant \"\(participant)\" of \(native.schedule.id) maps to no identity: "
                + "use an e-mail address, upstream:subject, or add it to people.aliases")
        }
    }
}

extension Policy {
    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the policy test cases of DIR/tests/*.yaml; exits non-zero when any case fails.")

        @Argument(help: "The policy bundle folder (default: --policies, TESSERA_POLICIES or ./policies).")
        var directory: String?

        @Flag(name: .shortAndLong, help: "Print the full decision trace of every case, not only failures.")
        var verbose = false

        @OptionGroup var folders: FolderOptions

        func run() throws {
            let folder = directory ?? folders.policies
            let bundle: PolicyBundle
            let cases: [PolicyTestCase]
            do {
                bundle = try PolicyBundle.load(directory: folder)
                cases = try bundle.loadTestCases(now: Date())
            } catch {
                fail(error.description)
            }
            guard !cases.isEmpty else { fail("no test cases in \(folder)/\(PolicyBundle.testsDirectoryName)/*.yaml") }
            let engine = PolicyEngine(bundle: bundle)
            var failures = 0
            for testCase in cases {
                let result = testCase.run(engine)
                print("\(result.passed ? "PASS" : "FAIL")  \(testCase.name)")
                if !result.passed {
                    failures += 1
                    print("      at \(testCase.location)")
                    for problem in result.problems { print("      \(problem)") }
                }
                if verbose || !result.passed {
                    print(result.decision.trace.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
                }
            }
            print("\(cases.count - failures) passed, \(failures) failed")
            if failures > 0 { throw ExitCode.failure }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what the policy engine would decide for an identity and request, rule by rule. Issues nothing.",
            discussion: "Exits 0 when the role would be allowed, 3 when denied, 4 when it needs approval (1 for a broken bundle or bad options).")

        @Option(help: "The role asked for.") var role: String
        @Option(help: "The subject (as the upstream writes it).") var subject: String
        @Option(help: "The upstream id.") var upstream: String
        @Option(help: "Groups, comma-separated.") var groups: String = ""
        @Option(help: "amr values, comma-separated (e.g. pwd,mfa).") var amr: String = ""
        @Option(help: "acr value.") var acr: String?
        @Option(name: .customLong("auth-time"), parsing: .unconditional, help: "When the user authenticated: RFC 3339 or relative to --time (-10m).")
        var authTime: String?
        @Option(name: .customLong("device-compliant"), help: "true or false; omitted means the upstream did not say.")
        var deviceCompliant: Bool?
        @Option(help: "The client address.") var ip: String?
        @Option(help: "The time of the request, RFC 3339 (default now).") var time: String?
        @Option(help: "The client id.") var client: String = "tessera-cli"
        @Option(name: .customLong("on-call"), help: "A schedule the subject is on call for (repeat); omitted means unknown.")
        var onCall: [String] = []
        @Flag(name: .customLong("not-on-call"), help: "The subject is known to be on call for no schedule.")
        var notOnCall = false
        @Option(name: .customLong("claim"), help: "A token claim as key=value (repeat).") var claims: [String] = []
        @Option(help: "Requested lifetime, e.g. 30m.") var lifetime: String?
        @Option(help: "Justification.") var justification: String?
        @Option(help: "Ticket reference.") var ticket: String?
        @Flag(name: .customLong("break-glass"), help: "Ask for break-glass (the role's break_glass limits, no approval).")
        var breakGlass = false
        @Flag(help: "Print the decision as JSON (outcome, lifetime_seconds, rules, trace) instead of the trace.")
        var json = false

        @OptionGroup var folders: FolderOptions

        /// The exit status says the outcome, so scripts can use `explain` as a check.
        static let deniedStatus: Int32 = 3
        static let approvalRequiredStatus: Int32 = 4

        func run() throws {
            let bundle: PolicyBundle
            do {
                bundle = try PolicyBundle.load(directory: folders.policies)
            } catch {
                fail(error.description)
            }
            var now = Date()
            if let time {
                guard let parsed = RFC3339.date(time) else { fail("--time must be RFC 3339, e.g. 2026-03-02T03:00:00Z") }
                now = parsed
            }
            var authenticatedAt: Date?
            if let authTime {
                guard let parsed = RFC3339.instant(authTime, relativeTo: now) else { fail("--auth-time must be RFC 3339 or relative, e.g. -10m") }
                authenticatedAt = parsed
            }
            var address: IPAddress?
            if let ip {
                guard let parsed = IPAddress(ip) else { fail("--ip \(ip) is not an IPv4 or IPv6 address") }
                address = parsed
            }
            var lifetimeSeconds: Int?
            if let lifetime {
                guard let seconds = DurationText.seconds(lifetime) else { fail("--lifetime must be a duration such as 30m") }
                lifetimeSeconds = seconds
            }
            var claimValues: [String: ClaimValue] = ["sub": .string(subject)]
            for claim in claims {
                guard let equals = claim.firstIndex(of: "="), equals != claim.startIndex else { fail("--claim must be key=value, got \(claim)") }
                claimValues[String(claim[..<equals])] = .string(String(claim[claim.index(after: equals)...]))
            }
            let list = { (text: String) in text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            let identity = Identity(upstream: upstream, subject: subject, groups: list(groups), authenticationMethods: list(amr),
                                    authenticationContext: acr, authenticatedAt: authenticatedAt, deviceCompliant: deviceCompliant,
                                    claims: claimValues)
            // --on-call / --not-on-call assert the subject's schedules; otherwise the bundle's own
            // schedules answer at --time.
            let assumed: Set<String>? = notOnCall ? [] : (onCall.isEmpty ? nil : Set(onCall))
            var context = DecisionContext(clientID: client, clientAddress: address, now: now)
            context.onCall = assumed.map { OnCallState.assuming(identity, onCallFor: $0, configuration: bundle.onCall, now: now) }
                ?? bundle.onCallState(at: now)
            let request = AccessRequest(role: role, lifetimeSeconds: lifetimeSeconds, justification: justification, ticket: ticket,
                                        breakGlass: breakGlass)
            let decision = PolicyEngine(bundle: bundle).decide(identity: identity, request: request, context: context)
            if json {
                var writer = JSONWriter()
                writer.value(decision.explanation(role: role))
                print(String(decoding: writer.bytes, as: UTF8.self))
            } else {
                print("\(subject) from \(upstream) at \(RFC3339.string(now)) from \(address.map(String.init(describing:)) ?? "(unknown address)") via client \(client)")
                print(decision.trace)
            }
            switch decision.outcome {
            case .allow: return
            case .approvalRequired: throw ExitCode(Self.approvalRequiredStatus)
            case .deny: throw ExitCode(Self.deniedStatus)
            }
        }
    }
}
