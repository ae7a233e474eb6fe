import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import TesseraPolicy
import TesseraSchedules

/// Why an imported schedule could not be synced, in words for the log and for reasons.
public struct OnCallSourceFailure: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Fetches an imported schedule and resolves it to a timeline: an iCalendar file of the bundle,
/// an iCalendar feed over https (size-capped, timed out, no redirects), or PagerDuty.
public struct OnCallSources: Sendable {
    public static let feedTimeout: TimeAmount = .seconds(10)

    let http: HTTPClient
    let logger: Logger

    public init(http: HTTPClient, logger: Logger) {
        self.http = http
        self.logger = logger
    }

    func timeline(for feed: OnCallConfiguration.ScheduleFeed, over window: Range<Date>,
                  pagerDuty: OnCallConfiguration.PagerDutyConnection?) async throws(OnCallSourceFailure) -> ShiftTimeline {
        let options = ICalendarOptions(defaultTimeZone: feed.timeZone, people: feed.people)
        let bytes: [UInt8]
        switch feed.source {
        case .iCalendarFile(let path):
            bytes = try Self.read(path, limit: options.maximumBytes)
        case .iCalendarURL(let url):
            do {
                bytes = try await HTTPDocumentFetcher(client: http, timeout: Self.feedTimeout, maximumBytes: options.maximumBytes,
                                                      accept: "text/calendar").fetch(url).body
            } catch {
                throw OnCallSourceFailure(error.message)
            }
        case .pagerDutySchedule(let id):
            return try await pagerDutyTimeline(schedule: id, over: window, connection: pagerDuty)
        }
        do {
            return try ICalendarFeed(parsing: bytes, options: options).timeline(over: window)
        } catch {
            throw OnCallSourceFailure("\(feed.sourceDescription): \(error)")
        }
    }

    /// One PagerDuty schedule's on-call entries over the window (`GET /oncalls`).
    private func pagerDutyTimeline(schedule id: String, over window: Range<Date>,
                                   connection: OnCallConfiguration.PagerDutyConnection?) async throws(OnCallSourceFailure) -> ShiftTimeline {
        guard let connection else { throw OnCallSourceFailure("PagerDuty schedule \(id): no pagerduty connection is configured") }
        let token: String
        switch connection.token {
        case .file(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw OnCallSourceFailure("PagerDuty schedule \(id): cannot read the token file \(path)")
            }
            token = text
        case .environment(let name):
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
                throw OnCallSourceFailure("PagerDuty schedule \(id): the environment variable \(name) holding the token is not set")
            }
            token = value
        }
        do {
            let client = try PagerDutyClient(configuration: PagerDutyConfiguration(baseURL: connection.baseURL, token: token, scheduleIDs: [id]),
                                             httpClient: http, logger: logger)
            let answer = try await client.fetch(since: window.lowerBound, until: window.upperBound)
            return ShiftTimeline(shifts: answer.schedules[id] ?? [], window: window)
        } catch {
            throw OnCallSourceFailure("PagerDuty schedule \(id): \(error.message)")
        }
    }

    /// A file's bytes, refusing one over `limit` before reading it.
    private static func read(_ path: String, limit: Int) throws(OnCallSourceFailure) -> [UInt8] {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            throw OnCallSourceFailure("cannot read \(path)")
        }
        guard size <= limit else { throw OnCallSourceFailure("\(path) has \(size) bytes, more than the limit of \(limit)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw OnCallSourceFailure("cannot read \(path)") }
        return Array(data)
    }
}
