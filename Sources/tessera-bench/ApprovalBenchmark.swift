import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import TesseraCore
import TesseraServer

/// The approval workflow over HTTP on one node with its durable SQLite store: requests created
/// through token exchange (`403 approval_required`), a long poll parked on each, then one
/// approval each. Reports what a parked waiter costs in resident memory, the time from sending
/// a decision to its waiter's answer (target: p99 within 100 ms), and the create and approve
/// rates. The client runs in this process too, so memory per waiter includes its connection.
struct ApprovalBenchmark {
    static let waiters = 1000
    static let targetP99Seconds = 0.1
    static let role = "bench-approval"
    static let clientID = "bench-cli"
    /// Requests created and approved at once (a burst of people, not one at a time).
    static let concurrency = 32

    func run(in workspace: Workspace) async throws {
        let (server, data) = try await DevBundleServer.start(in: workspace, name: "approvals", files: Self.policyFiles)
        var pool = HTTPClient.Configuration.ConnectionPool()
        pool.concurrentHTTP1ConnectionsPerHostSoftLimit = Self.waiters + Self.concurrency + 16
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(
            timeout: .init(connect: .seconds(10), read: .seconds(90)), connectionPool: pool))
        print("== approvals: \(Self.waiters) requests through token exchange, a long poll on each, then one approval each (SQLite, durable audit)")
        do {
            try await measure(server: server, client: client, data: data)
        } catch {
            try? await client.shutdown()
            await server.stop()
            throw error
        }
        try await client.shutdown()
        await server.stop()
    }

    private func measure(server: BenchServer, client: HTTPClient, data: String) async throws {
        let base = server.baseURL
        let upstream = try DevUpstream.open(dataDirectory: data, tesseraIssuer: TokenFixture.issuer)
        let now = Date()
        let requesters = try (0..<Self.waiters).map { index in
            try upstream.mint(DevUpstream.Claims(subject: "requester-\(index)", groups: ["bench-requesters"], authenticationMethods: ["mfa"]), now: now)
        }
        let approver = try upstream.mint(DevUpstream.Claims(subject: "lead", groups: ["bench-leads"], authenticationMethods: ["mfa"]), now: now)

        let clock = ContinuousClock()
        let createStart = clock.now
        let ids = try await Self.concurrently(requesters.indices) { index in
            try await Self.requestID(client: client, base: base, subjectToken: requesters[index])
        }
        let createSeconds = Self.seconds(createStart.duration(to: clock.now))
        print("   create: \(Format.count(Double(ids.count) / createSeconds)) requests/s (\(ids.count) exchanges answered 403 approval_required, "
            + "\(Self.concurrency) at a time)")

        let before = Self.residentBytes()
        let answers = Instants()
        let polls = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in ids.indices {
                    group.addTask {
                        let body = try await Self.call(client, "GET", "\(base)/requests/\(ids[index])?wait=60s", bearer: requesters[index])
                        guard Self.field("state", in: body) == "approved" else {
                            throw BenchError(description: "a long poll answered before its approval: \(String(decoding: body, as: UTF8.self))")
                        }
                        let answeredAt = clock.now
                        answers.record(index, answeredAt)
                    }
                }
                try await group.waitForAll()
            }
        }
        // Long enough for every poll to connect and park.
        try await Task.sleep(for: .seconds(3))
        let parked = Self.residentBytes()
        guard answers.all.isEmpty else { throw BenchError(description: "long polls answered before any decision") }
        let perWaiter = Double(max(0, parked - before)) / Double(ids.count)
        print("   \(ids.count) long polls parked: resident memory \(Self.mebibytes(before)) -> \(Self.mebibytes(parked)), "
            + String(format: "%.1f KiB per waiter", perWaiter / 1024) + " (server and client connection)")

        let (sent, decided) = (Instants(), Instants())
        let approveStart = clock.now
        _ = try await Self.concurrently(ids.indices) { index in
            sent.record(index, clock.now)
            let body = try await Self.call(client, "POST", "\(base)/requests/\(ids[index])/approve", bearer: approver, form: "comment=bench")
            decided.record(index, clock.now)
            guard Self.field("state", in: body) == "approved" else {
                throw BenchError(description: "an approval was refused: \(String(decoding: body, as: UTF8.self))")
            }
            return index
        }
        let approveSeconds = Self.seconds(approveStart.duration(to: clock.now))
        try await polls.value
        let roundTrips = Self.durations(from: sent.all, to: decided.all)
        guard roundTrips.count == ids.count else { throw BenchError(description: "\(ids.count - roundTrips.count) approvals never answered") }
        print("   approve: \(Format.count(Double(ids.count) / approveSeconds)) approvals/s (\(Self.concurrency) at a time, each waking its waiter), "
            + "round trip \(Self.percentiles(roundTrips))")
        // The approval is committed before its answer is written, so a waiter often answers
        // first: those count as 0.
        let wakeUps = Self.durations(from: decided.all, to: answers.all)
        guard wakeUps.count == ids.count else { throw BenchError(description: "\(ids.count - wakeUps.count) waiters never answered") }
        let p99 = wakeUps[min(wakeUps.count - 1, Int(Double(wakeUps.count) * 0.99))]
        let verdict = p99 <= Self.targetP99Seconds ? "PASS" : "ABOVE TARGET"
        print("   decision answered -> its waiter answered: \(Self.percentiles(wakeUps))  \(verdict) (target p99 <= \(Int(Self.targetP99Seconds * 1000)) ms)")
        print("   decision sent -> its waiter answered: \(Self.percentiles(Self.durations(from: sent.all, to: answers.all)))")
    }

    /// Each index's time from `starts` to `ends`, sorted; negative ones (the end came first) as 0.
    static func durations(from starts: [Int: ContinuousClock.Instant], to ends: [Int: ContinuousClock.Instant]) -> [Double] {
        starts.compactMap { index, start in ends[index].map { max(0, seconds(start.duration(to: $0))) } }.sorted()
    }

    /// `p50 1.20 ms, p99 4.00 ms` of sorted seconds.
    static func percentiles(_ sorted: [Double]) -> String {
        guard !sorted.isEmpty else { return "none" }
        let p50 = sorted[sorted.count / 2]
        let p99 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
        return "p50 \(Format.milliseconds(p50 * 1e6)), p99 \(Format.milliseconds(p99 * 1e6))"
    }

    /// One exchange for the role: it must answer 403 approval_required with a request id.
    static func requestID(client: HTTPClient, base: String, subjectToken: String) async throws -> String {
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"), ("client_id", clientID), ("subject_token", subjectToken),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token"), ("scope", role), ("justification", "benchmark"),
        ].map { "\($0.0)=\(FormEncoding.encode($0.1))" }.joined(separator: "&")
        let body = try await call(client, "POST", "\(base)/token", form: form, expecting: 403)
        guard let id = field("request_id", in: body) else {
            throw BenchError(description: "the exchange did not answer approval_required: \(String(decoding: body, as: UTF8.self))")
        }
        return id
    }

    static func call(_ client: HTTPClient, _ method: String, _ url: String, bearer: String? = nil, form: String? = nil,
                     expecting status: UInt = 200) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        }
        let response = try await client.execute(request, timeout: .seconds(90))
        let body = Array(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status.code == status else {
            throw BenchError(description: "\(method) \(url) answered \(response.status.code): \(String(decoding: body, as: UTF8.self))")
        }
        return body
    }

    static func field(_ name: String, in body: [UInt8]) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?[name] as? String
    }

    /// Runs `body` for each index, `concurrency` at a time; the results in index order.
    static func concurrently<T: Sendable>(_ indices: Range<Int>, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var results: [T?] = Array(repeating: nil, count: indices.count)
            var next = indices.lowerBound
            for _ in 0..<min(concurrency, indices.count) {
                let index = next
                group.addTask { (index, try await body(index)) }
                next += 1
            }
            while let (index, result) = try await group.next() {
                results[index - indices.lowerBound] = result
                if next < indices.upperBound {
                    let index = next
                    group.addTask { (index, try await body(index)) }
                    next += 1
                }
            }
            return results.map { $0! }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// VmRSS of this process, from /proc.
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return kilobytes * 1024
    }

    static func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    /// A public client and one role behind a one-stage plan that any `bench-leads` member approves.
    static let policyFiles = [
        "clients.yaml": """
        clients:
          - id: \(clientID)
            public: true
            description: tessera-bench approvals client
        """,
        "roles/approvals.yaml": """
        roles:
          - name: \(role)
            audiences: [\(TokenFixture.audience)]
            default_duration: 15m
            max_duration: 1h
            eligible:
              upstreams: [dev]
              groups: [bench-requesters]
            conditions:
              approval: {required: true, approvers: [bench-leads], count: 1}
        """,
    ]
}

/// When each numbered waiter or decision happened, written from many tasks.
final class Instants: Sendable {
    private let instants = Mutex<[Int: ContinuousClock.Instant]>([:])

    func record(_ index: Int, _ instant: ContinuousClock.Instant) {
        instants.withLock { $0[index] = instant }
    }

    var all: [Int: ContinuousClock.Instant] { instants.withLock { $0 } }
}
