import AsyncHTTPClient
import Foundation
import Logging
import NIOHTTP1
import TesseraPolicy
import TesseraSchedules

/// Fetches an imported schedule and resolves it to a timeline: an iCalendar file of the bundle,
/// an iCalendar feed over https (size-capped, the whole exchange timed out, no redirects), or
/// PagerDuty (a schedule, or one level of an escalation policy).
public struct OnCallSources: Sendable {
    public static let feedTimeout: Duration = .seconds(10)

    let http: HTTPClient
    let logger: Logger

    public init(http: HTTPClient, logger: Logger) {
        self.http = http
        self.logger = logger
    }

    func timeline(for feed: OnCallConfiguration.ScheduleFeed, over window: Range<Date>,
                  pagerDuty: OnCallConfiguration.PagerDutyConnection?) async throws(OnCallSourceError) -> ShiftTimeline {
        let options = ICalendarOptions(defaultTimeZone: feed.timeZone, people: feed.people)
        let bytes: [UInt8]
        switch feed.source {
        case .iCalendarFile(let path):
            bytes = try Self.read(path, limit: options.maximumBytes)
        case .iCalendarURL(let url):
            bytes = try await fetch(url, limit: options.maximumBytes)
        case .pagerDutySchedule(let id):
            let answer = try await pagerDutyOnCalls(pagerDuty, PagerDutyQuery(scheduleIDs: [id]), for: feed, over: window)
            return ShiftTimeline(shifts: answer.schedules[id] ?? [], window: window)
        case .pagerDutyEscalationLevel(let policy, let level):
            let answer = try await pagerDutyOnCalls(pagerDuty, PagerDutyQuery(escalationPolicyIDs: [policy]), for: feed, over: window)
            return ShiftTimeline(shifts: answer.escalationLevels[policy]?[level] ?? [], window: window)
        }
        do {
            return try ICalendarFeed(parsing: bytes, options: options).timeline(over: window)
        } catch {
            throw OnCallSourceError(.malformed, "\(feed.sourceDescription): \(error)")
        }
    }

    /// An iCalendar feed over http(s): 200 with at most `limit` bytes, within the timeout.
    private func fetch(_ url: String, limit: Int) async throws(OnCallSourceError) -> [UInt8] {
        var headers = HTTPHeaders()
        headers.add(name: "Accept", value: "text/calendar")
        headers.add(name: "User-Agent", value: HTTPDocumentFetcher.userAgent)
        let response: BoundedHTTPGet.Response
        do {
            response = try await BoundedHTTPGet(client: http, timeout: Self.feedTimeout, maximumBytes: limit).get(url, headers: headers)
        } catch {
            throw switch error {
            case .timeout, .connectTimeout: OnCallSourceError(.timeout, "\(url) did not answer within \(Self.feedTimeout)")
            case .tooLarge(let declared):
                OnCallSourceError(.tooLarge, "\(url) sent " + (declared.map { "\($0) bytes" } ?? "more") + ", more than the limit of \(limit) bytes")
            case .unreachable(let reason): OnCallSourceError(.unreachable, "cannot reach \(url): \(reason)")
            case .cancelled: OnCallSourceError(.cancelled, "\(url): the sync was cancelled")
            }
        }
        guard response.status == 200 else {
            throw OnCallSourceError(.httpStatus, "\(url) answered HTTP \(response.status)", status: response.status)
        }
        return response.body
    }

    /// What to ask PagerDuty's `GET /oncalls` for.
    private struct PagerDutyQuery {
        var scheduleIDs: [String] = []
        var escalationPolicyIDs: [String] = []
    }

    private func pagerDutyOnCalls(_ connection: OnCallConfiguration.PagerDutyConnection?, _ query: PagerDutyQuery,
                           for feed: OnCallConfiguration.ScheduleFeed, over window: Range<Date>) async throws(OnCallSourceError) -> PagerDutyOnCalls {
        let what = feed.sourceDescription
        guard let connection else { throw OnCallSourceError(.invalidConfiguration, "\(what): no pagerduty connection is configured") }
        let token: String
        switch connection.token {
        case .file(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw OnCallSourceError(.invalidConfiguration, "\(what): cannot read the token file \(path)")
            }
            token = text
        case .environment(let name):
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
                throw OnCallSourceError(.invalidConfiguration, "\(what): the environment variable \(name) holding the token is not set")
            }
            token = value
        }
        do throws(OnCallSourceError) {
            let configuration = PagerDutyConfiguration(baseURL: connection.baseURL, token: token, scheduleIDs: query.scheduleIDs,
                                                       escalationPolicyIDs: query.escalationPolicyIDs)
            return try await PagerDutyClient(configuration: configuration, httpClient: http, logger: logger)
                .fetch(since: window.lowerBound, until: window.upperBound)
        } catch {
            throw OnCallSourceError(error.code, "\(what): \(error.message)", status: error.status)
        }
    }

    /// A file's bytes, refusing one over `limit` before reading it.
    private static func read(_ path: String, limit: Int) throws(OnCallSourceError) -> [UInt8] {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            throw OnCallSourceError(.unreachable, "cannot read \(path)")
        }
        guard size <= limit else { throw OnCallSourceError(.tooLarge, "\(path) has \(size) bytes, more than the limit of \(limit)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw OnCallSourceError(.unreachable, "cannot read \(path)") }
        return Array(data)
    }
}
