import Foundation
import TesseraPolicy

/// Where and what `PagerDutyClient` fetches, and its bounds.
///
/// Its description leaves the token out, so logging a configuration never leaks it.
public struct PagerDutyConfiguration: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let defaultBaseURL = "https://api.pagerduty.com"
    /// Per request, head and body together (Grafana OnCall fetched feeds within 10 s).
    public static let defaultTimeout: Duration = .seconds(10)
    /// Per response. A full page (100 entries, users included) is about 150 KB.
    public static let defaultMaximumBytes = 2 * 1024 * 1024
    /// How long one fetch may spend waiting out `429`s in total. PagerDuty's limit is per
    /// minute, so a minute covers one reset; a sync that has to wait longer should give up and
    /// try again at its next poll, with the last good data still in force.
    public static let defaultRateLimitBudget: Duration = .seconds(60)
    /// PagerDuty's maximum `limit`.
    public static let maximumPageSize = 100

    /// `https://api.pagerduty.com`, or a stub's `http://127.0.0.1:port` in tests; a path (a
    /// proxy's prefix) is kept, `/oncalls` is appended to it.
    public var baseURL: String
    /// A REST API key, sent as `Authorization: Token token=...`.
    public var token: String
    public var scheduleIDs: [String]
    public var escalationPolicyIDs: [String]
    public var timeout: Duration
    public var maximumBytes: Int
    public var rateLimitBudget: Duration
    /// Entries asked for per page, 1 to 100.
    public var pageSize: Int
    public var userAgent: String

    public init(baseURL: String = PagerDutyConfiguration.defaultBaseURL, token: String, scheduleIDs: [String] = [],
                escalationPolicyIDs: [String] = [], timeout: Duration = PagerDutyConfiguration.defaultTimeout,
                maximumBytes: Int = PagerDutyConfiguration.defaultMaximumBytes,
                rateLimitBudget: Duration = PagerDutyConfiguration.defaultRateLimitBudget,
                pageSize: Int = PagerDutyConfiguration.maximumPageSize, userAgent: String = "Tessera (on-call sync)") {
        self.baseURL = baseURL
        self.token = token
        self.scheduleIDs = scheduleIDs
        self.escalationPolicyIDs = escalationPolicyIDs
        self.timeout = timeout
        self.maximumBytes = maximumBytes
        self.rateLimitBudget = rateLimitBudget
        self.pageSize = pageSize
        self.userAgent = userAgent
    }

    public var description: String {
        "PagerDuty at \(baseURL): schedules [\(scheduleIDs.joined(separator: ", "))], "
            + "escalation policies [\(escalationPolicyIDs.joined(separator: ", "))]"
    }

    public var debugDescription: String { description }

    /// The configuration as the client uses it, or why it cannot work.
    func validated() throws(OnCallSourceError) -> PagerDutyConfiguration {
        var valid = self
        while valid.baseURL.hasSuffix("/") { valid.baseURL.removeLast() }
        guard UpstreamDefinition.isAcceptableURL(valid.baseURL), URLComponents(string: valid.baseURL)?.query == nil else {
            throw invalid("the PagerDuty base URL \(baseURL) must be an https URL without a query (http only on 127.0.0.1, localhost or [::1])")
        }
        // A token read from a file usually ends with a newline.
        valid.token = token.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !valid.token.isEmpty else { throw invalid("the PagerDuty API token is empty") }
        // Anything outside printable ASCII could split the Authorization header.
        guard valid.token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw invalid("the PagerDuty API token contains spaces or characters outside printable ASCII")
        }
        guard !scheduleIDs.isEmpty || !escalationPolicyIDs.isEmpty else {
            // Without a filter PagerDuty answers every on-call of the account.
            throw invalid("a PagerDuty source needs at least one schedule id or escalation policy id")
        }
        if let bad = (scheduleIDs + escalationPolicyIDs).first(where: { $0.isEmpty || $0.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) }) {
            throw invalid("\"\(AuditText.bounded(bad, maximumBytes: 64))\" is not a PagerDuty id")
        }
        guard timeout > .zero else { throw invalid("the PagerDuty timeout must be longer than zero") }
        guard maximumBytes > 0 else { throw invalid("the PagerDuty response size limit must be positive") }
        guard rateLimitBudget >= .zero else { throw invalid("the PagerDuty rate-limit budget cannot be negative") }
        guard (1...Self.maximumPageSize).contains(pageSize) else {
            throw invalid("the PagerDuty page size must be from 1 to \(Self.maximumPageSize), not \(pageSize)")
        }
        return valid
    }

    private func invalid(_ message: String) -> OnCallSourceError {
        OnCallSourceError(.invalidConfiguration, message)
    }
}
