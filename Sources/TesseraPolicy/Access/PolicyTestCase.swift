import Foundation
import Yams

/// One case of `policies/tests/*.yaml`: an identity, a context and a request, and what the
/// engine must answer. `tessera policy test` runs them; so do the package's own tests.
public struct PolicyTestCase: Sendable {
    public enum ExpectedOutcome: String, Sendable, CaseIterable {
        case allow
        case approvalRequired = "approval_required"
        case deny
    }

    public var name: String
    public var identity: Identity
    public var request: AccessRequest
    public var context: DecisionContext
    /// `context.on_call`: the schedules the subject is on call for, as the case asserts.
    public var assumedOnCall: Set<String>?
    public var expected: ExpectedOutcome
    /// For allow (and approval_required): the lifetime that must be granted.
    public var expectedLifetimeSeconds: Int?
    /// A substring of a failed rule's reason (deny), or of any rule's reason otherwise.
    public var reasonContains: String?
    /// How many stages the role's approval plan has (`expect.stages`).
    public var expectedStages: Int?
    /// Whether an `auto_approve` rule approved the request (`expect.auto_approved`).
    public var expectedAutoApproved: Bool?
    public var location: SourceLocation

    /// Runs the case and says what, if anything, differs from the expectation.
    public func run(_ engine: PolicyEngine) -> PolicyTestResult {
        let decision = engine.decide(identity: identity, request: request, context: context)
        var problems: [String] = []
        let actual: ExpectedOutcome = switch decision.outcome {
        case .allow: .allow
        case .approvalRequired: .approvalRequired
        case .deny: .deny
        }
        if actual != expected {
            var problem = "expected \(expected.rawValue), got \(decision.outcomeText)"
            if actual == .deny { problem += ": \(decision.failureSummary)" }
            problems.append(problem)
        }
        if let expectedLifetimeSeconds, decision.lifetimeSeconds != expectedLifetimeSeconds {
            problems.append("expected lifetime \(DurationText.format(expectedLifetimeSeconds)), got "
                + (decision.lifetimeSeconds.map(DurationText.format) ?? "none"))
        }
        if let expectedStages {
            let stages = decision.role?.conditions.approval?.stages.count
            if stages != expectedStages {
                problems.append("expected an approval plan of \(expectedStages) stage(s), got " + (stages.map { "\($0)" } ?? "no approval plan"))
            }
        }
        if let expectedAutoApproved {
            let autoApproved = decision.isAllowed && decision.autoApproval != nil
            if autoApproved != expectedAutoApproved {
                problems.append(expectedAutoApproved ? "expected an auto-approval, got \(decision.outcomeText) without one"
                                                     : "expected no auto-approval, got \(decision.autoApproval ?? "one")")
            }
        }
        if let reasonContains {
            let reasons = (expected == .deny ? decision.failures : decision.rules).map(\.reason)
            if !reasons.contains(where: { $0.contains(reasonContains) }) {
                problems.append("no \(expected == .deny ? "failed rule's " : "")reason contains \"\(reasonContains)\"; reasons: "
                    + (reasons.isEmpty ? "none" : reasons.joined(separator: "; ")))
            }
        }
        return PolicyTestResult(testCase: self, decision: decision, problems: problems)
    }
}

public struct PolicyTestResult: Sendable {
    public let testCase: PolicyTestCase
    public let decision: AccessDecision
    /// Empty when the case passed.
    public let problems: [String]

    public var passed: Bool { problems.isEmpty }
}

extension PolicyBundle {
    public static let testsDirectoryName = "tests"

    /// Reads every `*.yaml`/`*.yml` of the bundle's `tests/` folder, in name order. Cases without
    /// a `time` use `now`; addresses given as `peer` plus forwarding headers resolve through the
    /// bundle's trusted proxies.
    public func loadTestCases(now: Date) throws(PolicyError) -> [PolicyTestCase] {
        let folder = (directory as NSString).appendingPathComponent(Self.testsDirectoryName)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { return [] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw PolicyError(SourceLocation(file: folder), field: nil, "cannot list the folder: \(error.localizedDescription)")
        }
        var cases: [PolicyTestCase] = []
        for name in names {
            let path = (folder as NSString).appendingPathComponent(name)
            cases += try Self.parseTestCases(try Self.readPolicyFile(path), file: path, now: now,
                                             trustedProxies: networkSettings.trustedProxies, bundle: self)
        }
        return cases
    }

    /// Parses the text of one policy test file.
    /// Conditions on the bundle's own on-call schedules are answered from them at each case's
    /// time; a case's `context.on_call` (the schedules the subject is on call for) overrides.
    public static func parseTestCases(_ text: String, file: String, now: Date, trustedProxies: TrustedProxies = TrustedProxies(),
                                      bundle: PolicyBundle? = nil) throws(PolicyError) -> [PolicyTestCase] {
        guard let root = try parseYAMLDocument(text, file: file), !root.isNull else { return [] }
        guard let list = try root.mapping(allowed: ["cases"])["cases"], !list.isNull else { return [] }
        var cases: [PolicyTestCase] = []
        for element in try list.sequence() {
            var testCase = try PolicyTestCase(field: element, now: now, trustedProxies: trustedProxies)
            if let bundle {
                testCase.context.onCall = testCase.assumedOnCall.map {
                    OnCallState.assuming(testCase.identity, onCallFor: $0, configuration: bundle.onCall, now: testCase.context.now)
                } ?? bundle.onCallState(at: testCase.context.now)
            } else if let assumed = testCase.assumedOnCall {
                testCase.context.onCall = OnCallState.assuming(testCase.identity, onCallFor: assumed, configuration: OnCallConfiguration(),
                                                               now: testCase.context.now)
            }
            cases.append(testCase)
        }
        return cases
    }
}

/// "Would this identity, from here, at this time, get this role?": a policy test case without its
/// expectation. The admin what-if endpoint takes one as JSON (JSON is YAML), in the same shape
/// as the `identity`, `context` and `request` of a test case.
public struct PolicyQuestion: Sendable {
    public var identity: Identity
    public var request: AccessRequest
    public var context: DecisionContext
    /// `context.on_call`: the schedules the subject is on call for, as the question asserts;
    /// nil to use the actual on-call state.
    public var assumedOnCall: Set<String>?

    /// The context with on-call state: the question's assumption, else `actual`.
    public func context(actual: OnCallState?, configuration: OnCallConfiguration) -> DecisionContext {
        var context = context
        context.onCall = assumedOnCall.map { OnCallState.assuming(identity, onCallFor: $0, configuration: configuration, now: context.now) }
            ?? actual
        return context
    }

    /// A question arrives over HTTP (`POST /admin/explain`), so it may not use YAML aliases:
    /// Yams compares mapping keys by hashing them whole before anything can bound the size, and
    /// an aliased key can expand to billions of nodes. JSON, the documented form, has none.
    public static func parse(_ text: String, file: String, now: Date, trustedProxies: TrustedProxies) throws(PolicyError) -> PolicyQuestion {
        if let line = YAMLAliases.firstLine(in: text) {
            throw PolicyError(SourceLocation(file: file, line: line), field: nil,
                              "YAML aliases (*name) are not accepted in a question; write the value out (JSON has no aliases)")
        }
        guard let root = try parseYAMLDocument(text, file: file), !root.isNull else {
            throw PolicyError(SourceLocation(file: file), field: nil, "expected {identity: ..., context: ..., request: ...}")
        }
        return try PolicyQuestion(members: root.mapping(allowed: ["identity", "context", "request"]), field: root, now: now,
                                  trustedProxies: trustedProxies)
    }

    init(members: [String: YAMLField], field: YAMLField, now fallbackNow: Date, trustedProxies: TrustedProxies) throws(PolicyError) {
        // The context first: relative auth_time values count from its time.
        var now = fallbackNow
        var clientID = "tessera-cli"
        var address: IPAddress?
        var onCall: Set<String>?
        if let contextField = members["context"], !contextField.isNull {
            let context = try contextField.mapping(allowed: ["ip", "peer", "x_forwarded_for", "forwarded", "time", "client", "on_call"])
            if let time = context["time"] { now = try time.instant(relativeTo: fallbackNow) }
            if let client = context["client"] { clientID = try client.nonEmptyString() }
            if let ip = context["ip"] {
                guard context["peer"] == nil else { throw ip.error("give either ip or peer (with forwarding headers), not both") }
                address = try ip.ipAddress()
            } else if let peer = context["peer"] {
                address = trustedProxies.clientAddress(
                    peer: try peer.ipAddress(), xForwardedFor: try context["x_forwarded_for"]?.stringList() ?? [],
                    forwarded: try context["forwarded"]?.stringList() ?? [])
            }
            if let schedules = context["on_call"] {
                onCall = schedules.isNull ? nil : Set(try schedules.stringList())
            }
        }
        context = DecisionContext(clientID: clientID, clientAddress: address, now: now)
        assumedOnCall = onCall

        guard let identityField = members["identity"] else { throw field.error("a case needs an identity") }
        let fields = try identityField.mapping(allowed: [
            "upstream", "subject", "email", "groups", "amr", "acr", "auth_time", "device_compliant", "claims",
        ])
        guard let upstream = fields["upstream"] else { throw identityField.error("an identity needs an upstream") }
        guard let subject = fields["subject"] else { throw identityField.error("an identity needs a subject") }
        var claims: [String: ClaimValue] = [:]
        if let claimsField = fields["claims"] {
            for (key, value) in try claimsField.entries() { claims[key] = try value.claimValue() }
        }
        let subjectText = try subject.nonEmptyString()
        if claims["sub"] == nil { claims["sub"] = .string(subjectText) }
        identity = Identity(
            upstream: try upstream.nonEmptyString(), subject: subjectText, email: try fields["email"]?.string(),
            groups: try fields["groups"]?.stringList() ?? [], authenticationMethods: try fields["amr"]?.stringList() ?? [],
            authenticationContext: try fields["acr"]?.string(), authenticatedAt: try fields["auth_time"]?.instant(relativeTo: now),
            deviceCompliant: try fields["device_compliant"]?.bool(), claims: claims)

        guard let requestField = members["request"] else { throw field.error("a case needs a request") }
        let requestMembers = try requestField.mapping(allowed: ["role", "lifetime", "justification", "ticket", "break_glass"])
        guard let role = requestMembers["role"] else { throw requestField.error("a request needs a role") }
        request = AccessRequest(role: try role.nonEmptyString(), lifetimeSeconds: try requestMembers["lifetime"]?.durationSeconds(),
                                justification: try requestMembers["justification"]?.string(), ticket: try requestMembers["ticket"]?.string(),
                                breakGlass: try requestMembers["break_glass"]?.bool() ?? false)
    }
}

extension PolicyTestCase {
    init(field: YAMLField, now: Date, trustedProxies: TrustedProxies) throws(PolicyError) {
        let members = try field.mapping(allowed: ["name", "identity", "context", "request", "expect"])
        guard let nameField = members["name"] else { throw field.error("a case needs a name") }
        name = try nameField.nonEmptyString()
        location = field.location
        let question = try PolicyQuestion(members: members, field: field, now: now, trustedProxies: trustedProxies)
        identity = question.identity
        request = question.request
        context = question.context
        assumedOnCall = question.assumedOnCall

        guard let expectField = members["expect"] else { throw field.error("a case needs expect: {outcome: allow | approval_required | deny}") }
        let expectation = try expectField.mapping(allowed: ["outcome", "lifetime", "reason_contains", "stages", "auto_approved"])
        guard let outcomeField = expectation["outcome"] else { throw expectField.error("expect needs an outcome") }
        let outcomeText = try outcomeField.string()
        guard let outcome = ExpectedOutcome(rawValue: outcomeText) else {
            throw outcomeField.error("expected allow, approval_required or deny")
        }
        expected = outcome
        expectedLifetimeSeconds = try expectation["lifetime"]?.durationSeconds()
        reasonContains = try expectation["reason_contains"]?.nonEmptyString()
        if let stagesField = expectation["stages"] {
            let stages = try stagesField.integer()
            guard stages >= 1 else { throw stagesField.error("a plan has at least 1 stage") }
            expectedStages = stages
        }
        expectedAutoApproved = try expectation["auto_approved"]?.bool()
    }
}

/// RFC 3339 date-times (`2026-03-02T09:30:00Z`, `2026-03-02T09:30:00.5+01:00`).
public enum RFC3339 {
    public static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    public static func string(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// An RFC 3339 time, or one relative to `reference`: `-10m`, `+1h`, `now`.
    public static func instant(_ text: String, relativeTo reference: Date) -> Date? {
        if text == "now" { return reference }
        if let sign = text.first, sign == "-" || sign == "+", let seconds = DurationText.seconds(String(text.dropFirst())) {
            return reference.addingTimeInterval(Double(sign == "-" ? -seconds : seconds))
        }
        return date(text)
    }
}

extension YAMLField {
    func instant(relativeTo reference: Date) throws(PolicyError) -> Date {
        let text = try nonEmptyString()
        guard let date = RFC3339.instant(text, relativeTo: reference) else {
            throw error("expected an RFC 3339 time such as 2026-03-02T09:30:00Z, or a relative one such as -10m")
        }
        return date
    }

    func ipAddress() throws(PolicyError) -> IPAddress {
        let text = try nonEmptyString()
        guard let address = IPAddress(text) else { throw error("\"\(text)\" is not an IPv4 or IPv6 address") }
        return address
    }

    /// A claim as JSON would carry it: plain `true`/`false` and numbers keep their type,
    /// quoted scalars are strings.
    func claimValue() throws(PolicyError) -> ClaimValue {
        switch node {
        case .scalar(let scalar):
            if isNull { return .null }
            if scalar.style == .plain {
                switch scalar.string {
                case "true": return .bool(true)
                case "false": return .bool(false)
                default: if let number = Double(scalar.string) { return .number(number) }
                }
            }
            return .string(scalar.string)
        case .sequence:
            var values: [ClaimValue] = []
            for element in try sequence() { values.append(try element.claimValue()) }
            return .array(values)
        case .mapping:
            var object: [String: ClaimValue] = [:]
            for (key, value) in try entries() { object[key] = try value.claimValue() }
            return .object(object)
        default:
            throw error("expected a value, a list or a mapping")
        }
    }
}
