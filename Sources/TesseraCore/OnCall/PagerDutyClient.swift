import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TesseraJWT
import TesseraSchedules

/// Who PagerDuty has on call over a window, grouped the two ways an `on_call` condition asks.
public struct PagerDutyOnCalls: Sendable, Hashable {
    /// Shifts by schedule id. Every schedule asked for is a key, with no shifts when nobody is
    /// on call in it, so "nobody" differs from "not fetched"; schedules reached through an
    /// escalation policy asked for are keys too.
    public var schedules: [String: [Shift]]
    /// Shifts by escalation policy id, then level (1 is paged first): everyone PagerDuty pages
    /// at that level, through a schedule or named directly. Every policy asked for is a key.
    public var escalationLevels: [String: [Int: [Shift]]]

    public init(schedules: [String: [Shift]] = [:], escalationLevels: [String: [Int: [Shift]]] = [:]) {
        self.schedules = schedules
        self.escalationLevels = escalationLevels
    }
}

/// Reads who is on call from PagerDuty's REST API, `GET /oncalls` (facts in REFERENCE.md):
/// the configured schedules and escalation policies, users included (for their e-mails), every
/// page of the answer, over one window.
///
/// It only fetches: caching, staleness and mapping people to identities belong to the caller.
/// An answer is all or nothing: any page that fails or cannot be read fails the whole fetch,
/// because a partial answer would silently drop people from the rotation.
///
/// The `HTTPClient` belongs to the caller, who shuts it down. Use `makeHTTPClient()` or one
/// configured the same way: a client that follows redirects would send the API token on to
/// wherever a redirect points.
public struct PagerDutyClient: Sendable {
    /// PagerDuty refuses `offset + limit` above this (HTTP 400).
    static let maximumOffset = 10_000
    /// The least wait after a 429: retrying at once is what rate limits punish.
    static let minimumRateLimitWait: Duration = .seconds(1)

    public let configuration: PagerDutyConfiguration
    let get: BoundedHTTPGet
    let logger: Logger

    /// Fails with `invalid_configuration` when the configuration cannot work: a base URL that
    /// is plain http off loopback, an empty token, no schedule and no escalation policy.
    public init(configuration: PagerDutyConfiguration, httpClient: HTTPClient, logger: Logger) throws(OnCallSourceError) {
        let valid = try configuration.validated()
        self.configuration = valid
        self.get = BoundedHTTPGet(client: httpClient, timeout: valid.timeout, maximumBytes: valid.maximumBytes)
        self.logger = logger
    }

    /// An `HTTPClient` for PagerDuty: redirects are not followed (the API token goes to the
    /// configured host or nowhere), connections are made within 5 s, and a connection that
    /// cannot be made fails the request at once with its reason instead of being retried
    /// until the timeout: the sync tries again at its next poll anyway.
    public static func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(5), read: .seconds(30))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Everyone on call at some time in [since, until), every page of the answer. Entries with
    /// no start (`"start": null`) start at `since`, entries with no end at `until`: a permanent
    /// on-call covers the whole window. Shifts keep PagerDuty's own times otherwise, which may
    /// reach outside the window.
    public func fetch(since: Date, until: Date) async throws(OnCallSourceError) -> PagerDutyOnCalls {
        guard since < until else {
            throw OnCallSourceError(.invalidConfiguration, "\(source): the window to fetch is empty (since is not before until)")
        }
        // Whole seconds that cover the window.
        let window = (since: Date(timeIntervalSince1970: since.timeIntervalSince1970.rounded(.down)),
                      until: Date(timeIntervalSince1970: until.timeIntervalSince1970.rounded(.up)))
        var result = PagerDutyOnCallsBuilder(configuration: configuration, since: since, until: until)
        var offset = 0
        var rateLimitWaits = Duration.zero
        var pages = 0
        while true {
            let limit = min(configuration.pageSize, Self.maximumOffset - offset)
            guard limit > 0 else {
                throw OnCallSourceError(.tooLarge, "\(source): more than \(Self.maximumOffset) on-call entries, the most PagerDuty pages "
                    + "through; fetch a shorter window or fewer schedules")
            }
            let page = try await page(offset: offset, limit: limit, since: window.since, until: window.until, rateLimitWaits: &rateLimitWaits)
            pages += 1
            result.add(page.entries)
            guard page.more else { break }
            guard !page.entries.isEmpty else {
                throw malformed(offset: offset, "\"more\" is true on a page with no entries, so paging would never end")
            }
            offset += page.entries.count
        }
        logger.debug("fetched on-call entries from PagerDuty", metadata: [
            "tessera.oncall.pages": .stringConvertible(pages), "tessera.oncall.entries": .stringConvertible(result.entryCount),
        ])
        return result.result()
    }

    /// One page, waiting out 429s while the budget allows.
    private func page(offset: Int, limit: Int, since: Date, until: Date,
                      rateLimitWaits: inout Duration) async throws(OnCallSourceError) -> PagerDutyOnCallsPage {
        let url = pageURL(offset: offset, limit: limit, since: since, until: until)
        while true {
            let response: BoundedHTTPGet.Response
            do {
                response = try await get.get(url, headers: headers)
            } catch {
                throw failure(error, offset: offset)
            }
            switch response.status {
            case 200:
                do {
                    return try PagerDutyOnCallsPage.decode(response.body, requestedOffset: offset)
                } catch {
                    throw malformed(offset: offset, error.reason)
                }
            case 429:
                let wait = Self.rateLimitWait(response.headers)
                guard rateLimitWaits + wait <= configuration.rateLimitBudget else {
                    throw OnCallSourceError(.rateLimited, "\(source): rate limited (HTTP 429) and asked to wait \(Self.seconds(wait)), "
                        + "which would pass the budget of \(Self.seconds(configuration.rateLimitBudget)) for one sync "
                        + "(\(Self.seconds(rateLimitWaits)) already waited); the next sync tries again", status: 429)
                }
                logger.notice("PagerDuty rate limited the on-call sync; waiting", metadata: [
                    "tessera.oncall.wait_seconds": .stringConvertible(Self.seconds(wait)),
                ])
                do {
                    try await Task.sleep(for: wait)
                } catch {
                    throw OnCallSourceError(.cancelled, "\(source): the sync was cancelled while waiting out a rate limit")
                }
                rateLimitWaits += wait
            default:
                throw statusError(response, offset: offset)
            }
        }
    }

    private var headers: HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Accept", value: "application/vnd.pagerduty+json;version=2")
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Authorization", value: "Token token=\(configuration.token)")
        headers.add(name: "User-Agent", value: configuration.userAgent)
        return headers
    }

    /// `/oncalls` with repeated `name[]` parameters, brackets percent-encoded as PagerDuty's own
    /// examples write them.
    func pageURL(offset: Int, limit: Int, since: Date, until: Date) -> String {
        var parameters: [(String, String)] = [("include[]", "users")]
        parameters += configuration.scheduleIDs.map { ("schedule_ids[]", $0) }
        parameters += configuration.escalationPolicyIDs.map { ("escalation_policy_ids[]", $0) }
        parameters += [
            ("since", PagerDutyTimestamp.text(since)), ("until", PagerDutyTimestamp.text(until)),
            ("limit", String(limit)), ("offset", String(offset)),
        ]
        let query = parameters.map { Self.percentEncoded($0.0) + "=" + Self.percentEncoded($0.1) }.joined(separator: "&")
        return configuration.baseURL + "/oncalls?" + query
    }

    static func percentEncoded(_ text: String) -> String {
        // RFC 3986 unreserved characters stay; everything else (brackets, ':', '+') is encoded.
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// `ratelimit-reset` (seconds until the limit resets), else `retry-after` in seconds, else
    /// the minimum; never less than the minimum.
    static func rateLimitWait(_ headers: HTTPHeaders) -> Duration {
        for name in ["ratelimit-reset", "retry-after"] {
            guard let text = headers.first(name: name)?.trimmingCharacters(in: .whitespaces),
                  !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let seconds = Double(text), seconds.isFinite
            else { continue }
            // Beyond a day is as good as forever for one sync; the cap keeps the arithmetic finite.
            let wait = Duration.milliseconds(Int64((min(seconds, 86_400) * 1000).rounded(.up)))
            return max(wait, minimumRateLimitWait)
        }
        return minimumRateLimitWait
    }

    static func seconds(_ duration: Duration) -> String {
        let (whole, attoseconds) = duration.components
        let milliseconds = attoseconds / 1_000_000_000_000_000
        return milliseconds == 0 ? "\(whole) s" : String(format: "%.1f s", Double(whole) + Double(milliseconds) / 1000)
    }

    // MARK: Errors

    /// Names the API and its host in every message; never the token, never the query.
    private var source: String { "PagerDuty at \(configuration.baseURL)" }

    private func malformed(offset: Int, _ reason: String) -> OnCallSourceError {
        OnCallSourceError(.malformed, "\(source) answered GET /oncalls (offset \(offset)) with something Tessera cannot read: \(reason); "
            + "nothing of this sync was used")
    }

    private func failure(_ failure: BoundedHTTPGet.Failure, offset: Int) -> OnCallSourceError {
        switch failure {
        case .timeout:
            OnCallSourceError(.timeout, "\(source) did not answer GET /oncalls (offset \(offset)) within \(Self.seconds(configuration.timeout))")
        case .connectTimeout:
            OnCallSourceError(.timeout, "\(source): could not connect within the time allowed")
        case .tooLarge(let declared):
            OnCallSourceError(.tooLarge, "\(source) sent " + (declared.map { "\($0) bytes" } ?? "more")
                + " for one page of GET /oncalls, more than the limit of \(configuration.maximumBytes) bytes")
        case .unreachable(let reason):
            OnCallSourceError(.unreachable, "cannot reach \(source): \(redacted(reason))")
        case .cancelled:
            OnCallSourceError(.cancelled, "\(source): the sync was cancelled before PagerDuty answered")
        }
    }

    private func statusError(_ response: BoundedHTTPGet.Response, offset: Int) -> OnCallSourceError {
        let hint: String = switch response.status {
        case 401: "; PagerDuty refused the API token: check the token and that it is a REST API key"
        case 403: "; the API token may not read these schedules or escalation policies"
        case 404: "; check the base URL"
        case 400: "; check the schedule and escalation policy ids"
        case 500...599: "; PagerDuty is failing, the next sync tries again"
        default: ""
        }
        let said = serverMessage(response.body).map { " (PagerDuty said: \($0))" } ?? ""
        return OnCallSourceError(.httpStatus, "\(source) answered HTTP \(response.status) to GET /oncalls (offset \(offset))\(said)\(hint)",
                                 status: response.status)
    }

    /// PagerDuty's error text (`{"error": {"message": ..., "errors": [...]}}`), cleaned and cut
    /// short; nil for any other body (an HTML error page says nothing a person can use).
    private func serverMessage(_ body: [UInt8]) -> String? {
        guard let error = (try? JSONParser.parseObject(body))?["error"]?.objectValue,
              let message = error["message"]?.stringValue, !message.isEmpty
        else { return nil }
        var text = message
        if let details = error["errors"]?.stringList, !details.isEmpty {
            text += ": " + details.joined(separator: "; ")
        }
        return AuditText.bounded(redacted(text), maximumBytes: 200)
    }

    /// `text` without the token, should a server or a library ever echo it.
    private func redacted(_ text: String) -> String {
        text.replacingOccurrences(of: configuration.token, with: "[token]")
    }
}

/// Groups entries by schedule and by escalation level, once each: a schedule reached through
/// several policies or levels comes back once per (policy, level), and pages may overlap when
/// PagerDuty's data changes between them.
struct PagerDutyOnCallsBuilder {
    private let since: Date
    private let until: Date
    private var schedules: [String: Set<Shift>] = [:]
    private var levels: [String: [Int: Set<Shift>]] = [:]
    private(set) var entryCount = 0

    init(configuration: PagerDutyConfiguration, since: Date, until: Date) {
        self.since = since
        self.until = until
        for id in configuration.scheduleIDs { schedules[id] = [] }
        for id in configuration.escalationPolicyIDs { levels[id] = [:] }
    }

    mutating func add(_ entries: [PagerDutyOnCallEntry]) {
        for entry in entries {
            entryCount += 1
            let shift = Shift(person: entry.person, start: entry.start ?? min(since, entry.end ?? since),
                              end: entry.end ?? max(until, entry.start ?? until))
            if let schedule = entry.scheduleID { schedules[schedule, default: []].insert(shift) }
            levels[entry.policyID, default: [:]][entry.level, default: []].insert(shift)
        }
    }

    /// Shifts sorted by start, then end, then person, so equal answers compare equal.
    func result() -> PagerDutyOnCalls {
        PagerDutyOnCalls(schedules: schedules.mapValues(Self.sorted), escalationLevels: levels.mapValues { $0.mapValues(Self.sorted) })
    }

    private static func sorted(_ shifts: Set<Shift>) -> [Shift] {
        shifts.sorted { ($0.start, $0.end, $0.person) < ($1.start, $1.end, $1.person) }
    }
}
