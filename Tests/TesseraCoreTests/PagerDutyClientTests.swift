import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Testing
@testable import TesseraCore
import TesseraSchedules

/// `PagerDutyClient` against `PagerDutyStubServer`: what it sends, how it pages, and that every
/// failure (status, timeout, garbage, size, rate limit) is an error with its code, never a
/// partial answer, and never shows the token.
@Suite("PagerDuty client")
struct PagerDutyClientTests {
    static let token = "y_NbAkKc66ryYTWUXYEu"
    static let since = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15T08:00:00Z
    static let until = since + 7 * 86_400
    static let logger: Logger = {
        var logger = Logger(label: "tessera.tests.pagerduty")
        logger.logLevel = .critical
        return logger
    }()

    // MARK: Answers

    @Test func groupsAnAnswerBySchedulesAndEscalationLevels() async throws {
        let entries = [
            Self.entry(policy: "P1", level: 1, schedule: "S1", user: "U1", email: "alice@example.com",
                       start: "2027-01-15T06:00:00Z", end: "2027-01-16T06:00:00Z"),
            Self.entry(policy: "P1", level: 1, schedule: "S1", user: "U2", email: "bob@example.com",
                       start: "2027-01-16T06:00:00Z", end: "2027-01-17T06:00:00Z"),
            Self.entry(policy: "P1", level: 2, schedule: "S2", user: "U3", email: "carol@example.com",
                       start: "2027-01-15T00:00:00+01:00", end: "2027-01-22T00:00:00+01:00"),
            // Named directly by the policy, no e-mail in the answer: the user id stands in.
            Self.entry(policy: "P1", level: 3, schedule: nil, user: "U4", email: nil, start: nil, end: nil),
            // S1 again through another policy: one shift in S1, one at each level.
            Self.entry(policy: "P2", level: 1, schedule: "S1", user: "U1", email: "alice@example.com",
                       start: "2027-01-15T06:00:00Z", end: "2027-01-16T06:00:00Z"),
        ]
        let result = try await Self.fetch(answers: [.respond(status: 200, body: Self.page(entries))],
                                          scheduleIDs: ["S1", "S3"], policyIDs: ["P1", "P2"]).result.get()
        let alice = Shift(person: "alice@example.com", start: Self.date("2027-01-15T06:00:00Z"), end: Self.date("2027-01-16T06:00:00Z"))
        let bob = Shift(person: "bob@example.com", start: Self.date("2027-01-16T06:00:00Z"), end: Self.date("2027-01-17T06:00:00Z"))
        let carol = Shift(person: "carol@example.com", start: Self.date("2027-01-14T23:00:00Z"), end: Self.date("2027-01-21T23:00:00Z"))
        let dave = Shift(person: "U4", start: Self.since, end: Self.until)
        #expect(result.schedules == ["S1": [alice, bob], "S2": [carol], "S3": []])
        #expect(result.escalationLevels == ["P1": [1: [alice, bob], 2: [carol], 3: [dave]], "P2": [1: [alice]]])
    }

    @Test func sendsTheVersionedAcceptHeaderTheTokenAndTheQuery() async throws {
        // A window with fractions of a second is widened to whole seconds.
        let fetched = try await Self.fetch(answers: [.respond(status: 200, body: Self.page([]))], scheduleIDs: ["S1", "S2"],
                                           policyIDs: ["P1"], since: Self.since + 0.25, until: Self.until - 0.75)
        _ = try fetched.result.get()
        let request = try #require(fetched.requests.first)
        #expect(fetched.requests.count == 1)
        #expect(request.path == "/oncalls")
        #expect(request.header("Accept") == "application/vnd.pagerduty+json;version=2")
        #expect(request.header("Authorization") == "Token token=\(Self.token)")
        #expect(request.header("User-Agent")?.contains("Tessera") == true)
        #expect(request.values("include[]") == ["users"])
        #expect(request.values("schedule_ids[]") == ["S1", "S2"])
        #expect(request.values("escalation_policy_ids[]") == ["P1"])
        #expect(request.value("since") == "2027-01-15T08:00:00Z")
        #expect(request.value("until") == "2027-01-22T08:00:00Z")
        #expect(request.value("limit") == "100")
        #expect(request.value("offset") == "0")
    }

    @Test func followsEveryPageAdvancingTheOffsetByTheEntriesReturned() async throws {
        let all = (0..<5).map { index in
            Self.entry(policy: "P1", level: 1, schedule: "S1", user: "U\(index)", email: "user\(index)@example.com",
                       start: "2027-01-\(15 + index)T08:00:00Z", end: "2027-01-\(16 + index)T08:00:00Z")
        }
        let fetched = try await Self.fetch(scheduleIDs: ["S1"], policyIDs: [], pageSize: 2) { request, _ in
            let offset = Int(request.value("offset") ?? "") ?? -1
            let limit = Int(request.value("limit") ?? "") ?? 0
            let slice = Array(all[min(offset, all.count)..<min(offset + limit, all.count)])
            return .respond(status: 200, body: Self.page(slice, more: offset + limit < all.count, offset: offset, limit: limit))
        }
        let result = try fetched.result.get()
        #expect(fetched.requests.map { $0.value("offset") } == ["0", "2", "4"])
        #expect(fetched.requests.allSatisfy { $0.value("limit") == "2" })
        let shifts = try #require(result.schedules["S1"])
        #expect(shifts.map(\.person) == (0..<5).map { "user\($0)@example.com" })
        #expect(result.escalationLevels["P1"]?[1] == shifts)
    }

    @Test func nullStartOrEndCoversTheWholeWindow() async throws {
        let entries = [
            Self.entry(policy: "P1", level: 1, schedule: "S1", user: "U1", email: "always@example.com", start: nil, end: nil),
            Self.entry(policy: "P1", level: 1, schedule: "S1", user: "U2", email: "until@example.com", start: nil, end: "2027-01-16T08:00:00Z"),
            Self.entry(policy: "P1", level: 1, schedule: "S1", user: "U3", email: "from@example.com", start: "2027-01-20T08:00:00Z", end: nil),
        ]
        let result = try await Self.fetch(answers: [.respond(status: 200, body: Self.page(entries))]).result.get()
        // Sorted by start, then end.
        #expect(result.schedules["S1"] == [
            Shift(person: "until@example.com", start: Self.since, end: Self.date("2027-01-16T08:00:00Z")),
            Shift(person: "always@example.com", start: Self.since, end: Self.until),
            Shift(person: "from@example.com", start: Self.date("2027-01-20T08:00:00Z"), end: Self.until),
        ])
    }

    // MARK: Failures

    @Test(arguments: [500, 401])
    func anErrorStatusFailsWithItsStatusAndNeverTheToken(status: Int) async throws {
        // A server echoing the token in its error text must not get it into the message.
        let body = #"{"error":{"message":"Invalid token \#(Self.token)","code":2006,"errors":["token \#(Self.token) refused"]}}"#
        let error = try await Self.failure(answers: [.respond(status: status, body: Array(body.utf8))])
        #expect(error.code == .httpStatus)
        #expect(error.status == status)
        #expect(error.message.contains("HTTP \(status)"))
        #expect(error.message.contains("Invalid token"))
        #expect(!error.message.contains(Self.token))
        if status == 401 { #expect(error.message.contains("refused the API token")) }
    }

    /// The bounds on how long a fetch took are loose, because a loaded machine running the
    /// whole suite at once starves the stub and the client for seconds. They are still far
    /// below what a broken bound would take: the test HTTP client's 2-minute read timeout, or an
    /// hour's rate-limit wait.
    static let promptly: Duration = .seconds(30)

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        let fetched = try await Self.fetch(answers: [.hang], timeout: .milliseconds(300))
        #expect(fetched.error?.code == .timeout)
        #expect(fetched.duration < Self.promptly, "took \(fetched.duration)")
    }

    /// AsyncHTTPClient's own deadline ends once the head arrives; the client's covers the body.
    @Test func aBodyThatStallsAfterTheHeadTimesOut() async throws {
        let fetched = try await Self.fetch(answers: [.stallAfterHead], timeout: .milliseconds(300))
        #expect(fetched.error?.code == .timeout)
        #expect(fetched.duration < Self.promptly, "took \(fetched.duration)")
    }

    static let garbage: [(String, String)] = [
        ("not JSON", "<html><body>502 Bad Gateway</body></html>"),
        ("a JSON array", "[]"),
        ("oncalls not an array", #"{"oncalls":{},"more":false}"#),
        ("more missing", #"{"oncalls":[]}"#),
        ("more not a boolean", #"{"oncalls":[],"more":"no"}"#),
        ("an entry not an object", #"{"oncalls":[1],"more":false}"#),
        ("escalation_level a string", entryPage(level: #""1""#)),
        ("escalation_level a fraction", entryPage(level: "1.5")),
        ("escalation_level zero", entryPage(level: "0")),
        ("no escalation policy", #"{"oncalls":[{"escalation_level":1,"schedule":null,"user":{"id":"U1"},"start":null,"end":null}],"more":false}"#),
        ("user missing", #"{"oncalls":[{"escalation_policy":{"id":"P1"},"escalation_level":1,"schedule":null,"start":null,"end":null}],"more":false}"#),
        ("user id a number", entryPage(user: #"{"id":7}"#)),
        ("email a number", entryPage(user: #"{"id":"U1","email":7}"#)),
        ("schedule id missing", entryPage(schedule: #"{"type":"schedule_reference"}"#)),
        ("end missing", #"{"oncalls":[{"escalation_policy":{"id":"P1"},"escalation_level":1,"schedule":null,"user":{"id":"U1"},"start":null}],"more":false}"#),
        ("a month 13", entryPage(start: #""2027-13-15T08:00:00Z""#)),
        ("30 February", entryPage(start: #""2027-02-30T08:00:00Z""#)),
        ("a date without a zone", entryPage(start: #""2027-01-15T08:00:00""#)),
        ("a word for a date", entryPage(start: #""yesterday""#)),
        ("a number for a date", entryPage(start: "1800000000")),
        ("an end before the start", entryPage(start: #""2027-01-16T08:00:00Z""#, end: #""2027-01-15T08:00:00Z""#)),
        ("another offset than asked", #"{"oncalls":[],"more":false,"offset":25}"#),
        ("more with no entries", #"{"oncalls":[],"more":true}"#),
        ("a duplicate member", #"{"oncalls":[],"more":false,"more":true}"#),
    ]

    @Test(arguments: garbage)
    func garbageIsAnErrorNeverAPartialAnswer(_ name: String, _ body: String) async throws {
        let error = try await Self.failure(answers: [.respond(status: 200, body: Array(body.utf8))])
        #expect(error.code == .malformed, "\(name): \(error.message)")
        #expect(error.message.contains("cannot read"))
    }

    @Test func garbageOnALaterPageFailsTheWholeFetch() async throws {
        let good = Self.page([Self.entry(policy: "P1", level: 1, schedule: "S1", user: "U1", email: nil, start: nil, end: nil)], more: true)
        let error = try await Self.failure(answers: [.respond(status: 200, body: good),
                                                     .respond(status: 200, body: Array(entryPage(start: #""soon""#).utf8))])
        #expect(error.code == .malformed)
        #expect(error.message.contains("offset 1"))
    }

    @Test(arguments: [false, true])
    func anOversizedBodyIsRefused(chunked: Bool) async throws {
        let entries = (0..<40).map { Self.entry(policy: "P1", level: 1, schedule: "S1", user: "U\($0)", email: nil, start: nil, end: nil) }
        let body = Self.page(entries)
        #expect(body.count > 2048)
        let error = try await Self.failure(answers: [.respond(status: 200, body: body, chunked: chunked)], maximumBytes: 2048)
        #expect(error.code == .tooLarge)
        #expect(error.message.contains("2048"))
    }

    @Test func waitsOutA429ForItsResetThenRetries() async throws {
        let entries = [Self.entry(policy: "P1", level: 1, schedule: "S1", user: "U1", email: "alice@example.com", start: nil, end: nil)]
        let fetched = try await Self.fetch(answers: [
            .respond(status: 429, headers: ["ratelimit-limit": "960", "ratelimit-remaining": "0", "ratelimit-reset": "1"],
                     body: Array(#"{"error":{"message":"Rate Limit Exceeded","code":2020}}"#.utf8)),
            .respond(status: 200, body: Self.page(entries)),
        ], rateLimitBudget: .seconds(5))
        let result = try fetched.result.get()
        #expect(fetched.duration >= .seconds(1))
        #expect(fetched.requests.map { $0.value("offset") } == ["0", "0"])
        #expect(result.schedules["S1"]?.map(\.person) == ["alice@example.com"])
    }

    @Test func a429BeyondTheBudgetFailsAtOnce() async throws {
        let fetched = try await Self.fetch(answers: [.respond(status: 429, headers: ["ratelimit-reset": "3600"], body: [])],
                                           rateLimitBudget: .seconds(5))
        guard case .failure(let error) = fetched.result else { Issue.record("a 429 beyond the budget succeeded"); return }
        #expect(error.code == .rateLimited)
        #expect(error.status == 429)
        #expect(error.message.contains("3600 s"))
        #expect(fetched.requests.count == 1)
        #expect(fetched.duration < Self.promptly, "took \(fetched.duration)")
    }

    @Test func aClosedPortIsUnreachable() async throws {
        // A port that was free a moment ago: the stub's, after it stopped.
        let stub = try await PagerDutyStubServer.start { _, _ in .hang }
        let url = stub.baseURL
        await stub.stop()
        let http = PagerDutyClient.makeHTTPClient()
        let result: Result<PagerDutyOnCalls, OnCallSourceError>
        do {
            result = await Self.result(try PagerDutyClient(configuration: Self.configuration(baseURL: url), httpClient: http, logger: Self.logger))
        } catch {
            result = .failure(error)
        }
        try await http.shutdown()
        guard case .failure(let error) = result else { Issue.record("a closed port answered"); return }
        #expect(error.code == .unreachable)
        #expect(error.message.contains("cannot reach PagerDuty at \(url)"))
        #expect(!error.message.contains(Self.token))
    }

    // MARK: Configuration

    struct Unworkable: Sendable, CustomTestStringConvertible {
        var baseURL = "https://api.pagerduty.com"
        var scheduleIDs = ["S1"]
        var token = PagerDutyClientTests.token
        let testDescription: String
    }

    @Test(arguments: [
        Unworkable(baseURL: "http://api.pagerduty.com", testDescription: "plain http off loopback"),
        Unworkable(baseURL: "ftp://127.0.0.1", testDescription: "not http"),
        Unworkable(baseURL: "https://api.pagerduty.com?x=1", testDescription: "a query in the base URL"),
        Unworkable(token: "  \n", testDescription: "a blank token"),
        Unworkable(token: "two words", testDescription: "a token with a space"),
        Unworkable(scheduleIDs: [], testDescription: "nothing to fetch"),
        Unworkable(scheduleIDs: ["S 1"], testDescription: "an id with a space"),
    ])
    func refusesConfigurationsThatCannotWork(_ unworkable: Unworkable) {
        var configuration = Self.configuration(baseURL: unworkable.baseURL, scheduleIDs: unworkable.scheduleIDs)
        configuration.token = unworkable.token
        do {
            _ = try PagerDutyClient(configuration: configuration, httpClient: HTTPClient.shared, logger: Self.logger)
            Issue.record("accepted \(unworkable.testDescription)")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(!error.message.contains(Self.token))
        }
    }

    @Test func theConfigurationsDescriptionLeavesTheTokenOut() {
        let configuration = Self.configuration(baseURL: "https://api.pagerduty.com")
        #expect(!"\(configuration)".contains(Self.token))
        #expect(!String(reflecting: configuration).contains(Self.token))
    }

    @Test func readsTimestampsStrictly() {
        #expect(PagerDutyTimestamp.date(from: "2015-03-06T20:28:51Z") == Date(timeIntervalSince1970: 1_425_673_731))
        #expect(PagerDutyTimestamp.date(from: "2015-03-06T15:28:51-05:00") == Date(timeIntervalSince1970: 1_425_673_731))
        #expect(PagerDutyTimestamp.date(from: "2015-03-06T21:28:51+0100") == Date(timeIntervalSince1970: 1_425_673_731))
        #expect(PagerDutyTimestamp.date(from: "2015-03-06T20:28:51.5Z") == Date(timeIntervalSince1970: 1_425_673_731.5))
        #expect(PagerDutyTimestamp.date(from: "2024-02-29T00:00:00Z") == Date(timeIntervalSince1970: 1_709_164_800))
        for bad in ["2023-02-29T00:00:00Z", "2015-03-06 20:28:51Z", "2015-03-06T20:28:60Z", "2015-03-06T20:28:51", "2015-03-06T20:28:51.Z",
                    "2015-03-06T20:28:51Zjunk", "2015-3-06T20:28:51Z", "", "2015-03-06T24:00:00Z", "2015-03-06T20:28:51+24:00"] {
            #expect(PagerDutyTimestamp.date(from: bad) == nil, "\(bad)")
        }
    }

    // MARK: Helpers

    struct Fetched {
        let result: Result<PagerDutyOnCalls, OnCallSourceError>
        let requests: [PagerDutyStubServer.Request]
        /// Of the fetch alone, without starting and stopping the stub.
        let duration: Duration

        var error: OnCallSourceError? {
            guard case .failure(let error) = result else { return nil }
            return error
        }
    }

    static func configuration(baseURL: String, scheduleIDs: [String] = ["S1"], policyIDs: [String] = [],
                              timeout: Duration = .seconds(5), maximumBytes: Int = PagerDutyConfiguration.defaultMaximumBytes,
                              rateLimitBudget: Duration = .seconds(5), pageSize: Int = 100) -> PagerDutyConfiguration {
        PagerDutyConfiguration(baseURL: baseURL, token: token, scheduleIDs: scheduleIDs, escalationPolicyIDs: policyIDs, timeout: timeout,
                               maximumBytes: maximumBytes, rateLimitBudget: rateLimitBudget, pageSize: pageSize)
    }

    /// Answers the requests in turn (the last answer again once they run out).
    static func fetch(answers: [PagerDutyStubServer.Answer], scheduleIDs: [String] = ["S1"], policyIDs: [String] = ["P1"],
                      since: Date = Self.since, until: Date = Self.until, timeout: Duration = .seconds(5),
                      maximumBytes: Int = PagerDutyConfiguration.defaultMaximumBytes,
                      rateLimitBudget: Duration = .seconds(5)) async throws -> Fetched {
        try await fetch(scheduleIDs: scheduleIDs, policyIDs: policyIDs, since: since, until: until, timeout: timeout, maximumBytes: maximumBytes,
                        rateLimitBudget: rateLimitBudget) { _, index in answers[min(index, answers.count - 1)] }
    }

    static func fetch(scheduleIDs: [String] = ["S1"], policyIDs: [String] = ["P1"], since: Date = Self.since, until: Date = Self.until,
                      timeout: Duration = .seconds(5), maximumBytes: Int = PagerDutyConfiguration.defaultMaximumBytes,
                      rateLimitBudget: Duration = .seconds(5), pageSize: Int = 100,
                      _ handler: @escaping PagerDutyStubServer.Handler) async throws -> Fetched {
        let stub = try await PagerDutyStubServer.start(handler)
        let http = testHTTPClient()
        let configuration = Self.configuration(baseURL: stub.baseURL, scheduleIDs: scheduleIDs, policyIDs: policyIDs, timeout: timeout,
                                               maximumBytes: maximumBytes, rateLimitBudget: rateLimitBudget, pageSize: pageSize)
        let client: PagerDutyClient
        do {
            client = try PagerDutyClient(configuration: configuration, httpClient: http, logger: logger)
        } catch {
            try await http.shutdown()
            await stub.stop()
            throw error
        }
        let clock = ContinuousClock()
        let started = clock.now
        let result = await Self.result(client, since: since, until: until)
        let duration = clock.now - started
        try await http.shutdown()
        await stub.stop()
        if case .failure(let error) = result { #expect(!error.message.contains(token)) }
        return Fetched(result: result, requests: stub.requests, duration: duration)
    }

    /// As `PagerDutyClient.makeHTTPClient()`, with a read timeout long enough that only the
    /// client's own deadline can end a stalled exchange within `promptly`.
    static func testHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(5), read: .seconds(120))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    static func result(_ client: PagerDutyClient, since: Date = Self.since, until: Date = Self.until) async -> Result<PagerDutyOnCalls, OnCallSourceError> {
        do {
            return .success(try await client.fetch(since: since, until: until))
        } catch {
            return .failure(error)
        }
    }

    static func failure(answers: [PagerDutyStubServer.Answer], timeout: Duration = .seconds(5),
                        maximumBytes: Int = PagerDutyConfiguration.defaultMaximumBytes) async throws -> OnCallSourceError {
        let fetched = try await fetch(answers: answers, timeout: timeout, maximumBytes: maximumBytes)
        switch fetched.result {
        case .success(let answer):
            Issue.record("expected an error, got \(answer)")
            return OnCallSourceError(.malformed, "none")
        case .failure(let error):
            #expect(!error.message.contains(token))
            return error
        }
    }

    static func date(_ text: String) -> Date {
        PagerDutyTimestamp.date(from: text) ?? .distantPast
    }

    /// One `oncalls` entry as PagerDuty writes it, reference objects and all.
    static func entry(policy: String, level: Int, schedule: String?, user: String, email: String?, start: String?, end: String?) -> String {
        let scheduleJSON = schedule.map {
            #"{"id":"\#($0)","type":"schedule_reference","summary":"Schedule \#($0)","self":"https://api.pagerduty.com/schedules/\#($0)"}"#
        } ?? "null"
        let emailJSON = email.map { #","email":"\#($0)""# } ?? ""
        func time(_ value: String?) -> String { value.map { "\"\($0)\"" } ?? "null" }
        return #"""
            {"escalation_policy":{"id":"\#(policy)","type":"escalation_policy_reference","summary":"Policy \#(policy)"},\#
            "escalation_level":\#(level),"schedule":\#(scheduleJSON),\#
            "user":{"id":"\#(user)","type":"user","summary":"User \#(user)","name":"User \#(user)"\#(emailJSON),"time_zone":"Europe/Paris"},\#
            "start":\#(time(start)),"end":\#(time(end))}
            """#
    }

    static func page(_ entries: [String], more: Bool = false, offset: Int = 0, limit: Int = 100) -> [UInt8] {
        Array(#"{"oncalls":[\#(entries.joined(separator: ","))],"limit":\#(limit),"offset":\#(offset),"more":\#(more),"total":null}"#.utf8)
    }
}

/// A one-entry page with one field replaced by raw JSON (for the garbage cases).
func entryPage(level: String = "1", schedule: String = "null", user: String = #"{"id":"U1","email":"a@example.com"}"#,
               start: String = "null", end: String = "null") -> String {
    #"{"oncalls":[{"escalation_policy":{"id":"P1"},"escalation_level":\#(level),"schedule":\#(schedule),"user":\#(user),"start":\#(start),"end":\#(end)}],"more":false}"#
}
