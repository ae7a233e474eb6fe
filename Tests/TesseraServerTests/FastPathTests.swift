import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import TesseraCore
import TesseraCrypto
@testable import TesseraServer
import TesseraStore
import TesseraTestLogging

/// The JWKS, the discovery documents and token requests answered on the event loop
/// (`FastPath`), tested over real TCP since the fast path sits in the connection's pipeline.
@Suite("fast path")
struct FastPathTests {
    let fixture: ServerFixture

    init() throws {
        fixture = try ServerFixture()
    }

    /// One HTTP/1.1 response read off a byte stream: status, header fields (lowercased names) and body.
    struct Answer {
        let status: Int
        let headers: [String: String]
        let body: String
    }

    /// Splits pipelined responses, each delimited by its Content-Length.
    static func answers(_ bytes: [UInt8]) -> [Answer] {
        var answers: [Answer] = []
        var rest = bytes[...]
        let separator = Array("\r\n\r\n".utf8)
        while let end = rest.firstRange(of: separator) {
            let head = String(decoding: rest[rest.startIndex..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
            var headers: [String: String] = [:]
            for line in head.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            let bodyStart = end.upperBound
            let bodyEnd = min(rest.endIndex, bodyStart + length)
            let status = Int(head[0].split(separator: " ").dropFirst().first ?? "") ?? 0
            answers.append(Answer(status: status, headers: headers, body: String(decoding: rest[bodyStart..<bodyEnd], as: UTF8.self)))
            rest = rest[bodyEnd...]
        }
        return answers
    }

    @Test func answersLikeTheRouterAndWaitsForTheRequestAheadOfIt() async throws {
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let host = "Host: 127.0.0.1:\(port)\r\n"
            // On one connection: a token request (its audit record is a durable store write), a GET the
            // fast path may not answer before it, the discovery document, then the JWKS through
            // the router (`Connection: close` is the router's), which closes the connection.
            let body = "grant_type=client_credentials"
            let pipelined = "POST /token HTTP/1.1\r\n\(host)Authorization: Basic \(Data("demo:\(fixture.basicSecret)".utf8).base64EncodedString())\r\n"
                + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                + "GET /.well-known/jwks.json HTTP/1.1\r\n\(host)\r\n"
                + "GET /.well-known/openid-configuration?x=1 HTTP/1.1\r\n\(host)\r\n"
                + "GET /.well-known/jwks.json HTTP/1.1\r\n\(host)Connection: close\r\n\r\n"
            let bytes = try await onBlockingThread { try LoopbackSocket.exchange(Array(pipelined.utf8), port: port) }
            let answers = Self.answers(bytes)
            try #require(answers.count == 4, "\(String(decoding: bytes, as: UTF8.self))")

            // In request order: HTTP/1.1 has no other way to pair answers with requests.
            #expect(answers[0].status == 200 && answers[0].body.contains("access_token"))
            #expect(answers[1].status == 200 && answers[1].body.hasPrefix(#"{"keys":["#))
            #expect(answers[2].status == 200 && answers[2].body.contains(#""jwks_uri""#))
            #expect(answers[3].status == 200)

            // The fast path's JWKS and the router's are the same answer.
            let (fast, routed) = (answers[1], answers[3])
            #expect(fast.body == routed.body)
            for name in ["content-type", "cache-control", "etag", "content-length", "server"] {
                #expect(fast.headers[name] != nil && fast.headers[name] == routed.headers[name], "\(name)")
            }
            #expect(fast.headers["content-type"] == "application/jwk-set+json")
            #expect(fast.headers["date"]?.hasSuffix(" GMT") == true)
        }
    }

    /// The HTTP/1 encoder pairs each response with its request's method: a fast answer it did
    /// not see would pair the next `HEAD` with the GET before it, and the HEAD's answer would
    /// carry a body the client reads as the start of the next response.
    @Test func aHeadAfterFastAnswersGetsNoBody() async throws {
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let host = "Host: 127.0.0.1:\(port)\r\nConnection: keep-alive\r\n"
            let requests = "GET /.well-known/jwks.json HTTP/1.1\r\n\(host)\r\n"
                + Self.tokenRequest(host, fields: "Content-Type: application/x-www-form-urlencoded\r\nAuthorization: \(fixture.basicAuthorization)\r\n")
                + "HEAD /healthz HTTP/1.1\r\n\(host)\r\n"
                + "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
            let bytes = try await onBlockingThread { try LoopbackSocket.exchange(Array(requests.utf8), port: port) }
            let text = String(decoding: bytes, as: UTF8.self)
            // The HEAD's answer has a Content-Length but no body: the GET's status line follows its head.
            #expect(text.contains("Server: tessera\r\n\r\nHTTP/1.1 200 OK"), "\(text)")
            #expect(text.components(separatedBy: #"{"status":"ok"}"#).count - 1 == 1, "\(text)")
            #expect(text.hasSuffix(#"{"status":"ok"}"#), "\(text)")
        }
    }

    @Test func fastAnswersAreCountedAndConditionalOnesGoThroughTheRouter() async throws {
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let host = "Host: 127.0.0.1:\(port)\r\n"
            let first = Self.answers(try await onBlockingThread {
                try LoopbackSocket.exchange(Array("GET /.well-known/jwks.json HTTP/1.1\r\n\(host)Connection: close\r\n\r\n".utf8), port: port)
            })
            let etag = try #require(first.first?.headers["etag"])
            // Three fast answers on one connection, then a conditional GET: 304, from the router.
            let requests = String(repeating: "GET /.well-known/jwks.json HTTP/1.1\r\n\(host)\r\n", count: 3)
                + "GET /.well-known/jwks.json HTTP/1.1\r\n\(host)If-None-Match: \(etag)\r\nConnection: close\r\n\r\n"
            let answers = Self.answers(try await onBlockingThread { try LoopbackSocket.exchange(Array(requests.utf8), port: port) })
            #expect(answers.map(\.status) == [200, 200, 200, 304])

            let metrics = Self.answers(try await onBlockingThread {
                try LoopbackSocket.exchange(Array("GET /metrics HTTP/1.1\r\n\(host)Connection: close\r\n\r\n".utf8), port: port)
            })
            let scrape = try #require(metrics.first).body
            #expect(scrape.contains(#"tessera_http_requests_total{route="/.well-known/jwks.json",method="GET",status="2xx"} 4"#), "\(scrape)")
            #expect(scrape.contains(#"tessera_http_requests_total{route="/.well-known/jwks.json",method="GET",status="3xx"} 1"#))
        }
    }

    /// The first `count` answers read off `connection` (fewer if it closes first).
    static func answers(_ count: Int, from connection: LoopbackSocket.Connection) throws -> [Answer] {
        var bytes: [UInt8] = []
        while answers(bytes).count < count, let more = try connection.receive() { bytes += more }
        return answers(bytes)
    }

    /// A form-encoded POST /token; `fields` go between the request line and the body.
    static func tokenRequest(_ host: String, fields: String, body: String = "grant_type=client_credentials") -> String {
        "POST /token HTTP/1.1\r\n\(host)\(fields)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    @Test func tokenRequestsAnswerLikeTheRouterInRequestOrder() async throws {
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let host = "Host: 127.0.0.1:\(port)\r\n"
            let form = "Content-Type: application/x-www-form-urlencoded\r\n"
            let good = "Authorization: \(fixture.basicAuthorization)\r\n"
            let wrong = "Authorization: Basic \(Data("demo:not-the-secret".utf8).base64EncodedString())\r\n"
            let chunkedBody = "grant_type=client_credentials"
            // On one connection: three token requests the fast path answers (a token, a wrong
            // secret, a JSON body), a chunked one and a probe the router answers, then a token
            // request with `Connection: close`, also the router's.
            let pipelined = Self.tokenRequest(host, fields: form + good)
                + Self.tokenRequest(host, fields: form + wrong)
                + Self.tokenRequest(host, fields: "Content-Type: application/json\r\n" + good, body: #"{"grant_type":"client_credentials"}"#)
                + "POST /token HTTP/1.1\r\n\(host)\(form)\(good)Transfer-Encoding: chunked\r\n\r\n"
                + String(chunkedBody.utf8.count, radix: 16) + "\r\n\(chunkedBody)\r\n0\r\n\r\n"
                + "GET /healthz HTTP/1.1\r\n\(host)\r\n"
                + Self.tokenRequest(host, fields: form + good + "Connection: close\r\n")
            let bytes = try await onBlockingThread { try LoopbackSocket.exchange(Array(pipelined.utf8), port: port) }
            let answers = Self.answers(bytes)
            try #require(answers.count == 6, "\(String(decoding: bytes, as: UTF8.self))")
            #expect(answers.map(\.status) == [200, 401, 400, 200, 200, 200])
            #expect(answers[4].body.contains(#""status":"ok""#))
            for index in [0, 3, 5] { #expect(answers[index].body.contains(#""access_token":""#), "\(index)") }

            // The fast path's token answer and the router's have the same fields.
            let (fast, routed) = (answers[0], answers[5])
            for name in ["content-type", "cache-control", "pragma", "server"] {
                #expect(fast.headers[name] != nil && fast.headers[name] == routed.headers[name], "\(name)")
            }
            #expect(fast.headers["cache-control"] == "no-store")
            #expect(fast.headers["date"]?.hasSuffix(" GMT") == true)
            #expect(answers[1].headers["www-authenticate"] == #"Basic realm="tessera""#)
            #expect(answers[1].body.contains(#""error":"invalid_client""#))
            #expect(answers[2].body.contains("/token takes application/x-www-form-urlencoded bodies only"), "\(answers[2].body)")

            // Every one is counted under the same route, whichever path answered it.
            let metrics = Self.answers(try await onBlockingThread {
                try LoopbackSocket.exchange(Array("GET /metrics HTTP/1.1\r\n\(host)Connection: close\r\n\r\n".utf8), port: port)
            })
            let scrape = try #require(metrics.first).body
            #expect(scrape.contains(#"tessera_http_requests_total{route="/token",method="POST",status="2xx"} 3"#), "\(scrape)")
            #expect(scrape.contains(#"tessera_http_requests_total{route="/token",method="POST",status="4xx"} 2"#), "\(scrape)")
        }
    }

    /// A client that closes its side after sending (a half-close) still gets its token, and
    /// the requests it sent before closing are answered in order.
    @Test func aHalfClosedConnectionGetsItsAnswersBeforeItCloses() async throws {
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let host = "Host: 127.0.0.1:\(port)\r\n"
            let fields = "Content-Type: application/x-www-form-urlencoded\r\nAuthorization: \(fixture.basicAuthorization)\r\n"
            let requests = Self.tokenRequest(host, fields: fields) + "GET /healthz HTTP/1.1\r\n\(host)\r\n" + Self.tokenRequest(host, fields: fields)
            let bytes = try await onBlockingThread { try LoopbackSocket.exchange(Array(requests.utf8), port: port, halfClose: true) }
            let answers = Self.answers(bytes)
            #expect(answers.map(\.status) == [200, 200, 200], "\(String(decoding: bytes, as: UTF8.self))")
            #expect(answers.first?.body.contains(#""access_token":""#) == true)
            #expect(answers.last?.body.contains(#""access_token":""#) == true)
        }
    }

    /// The form's media type in any case and with parameters (RFC 9110 §8.3.1), and nothing that
    /// only begins like it.
    @Test func theFormMediaTypeIsMatchedLikeTheRouterDoes() async throws {
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let host = "Host: 127.0.0.1:\(port)\r\n"
            let types = ["application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded ; charset=utf-8",
                         "application/x-www-form-urlencodedx", "application/json"]
            let requests = types.map {
                Self.tokenRequest(host, fields: "Content-Type: \($0)\r\nAuthorization: \(fixture.basicAuthorization)\r\n")
            }.joined() + "GET /healthz HTTP/1.1\r\n\(host)Connection: close\r\n\r\n"
            let answers = Self.answers(try await onBlockingThread { try LoopbackSocket.exchange(Array(requests.utf8), port: port) })
            #expect(answers.map(\.status) == [200, 200, 400, 400, 200])
        }
    }

    @Test func aBodyOverTheLimitIsTheRoutersAnswer() async throws {
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let body = "grant_type=client_credentials&pad=" + String(repeating: "x", count: TokenController.maximumBodyBytes)
            let request = Self.tokenRequest("Host: 127.0.0.1:\(port)\r\n",
                                            fields: "Content-Type: application/x-www-form-urlencoded\r\nAuthorization: \(fixture.basicAuthorization)\r\n",
                                            body: body)
                + "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
            let answers = Self.answers(try await onBlockingThread { try LoopbackSocket.exchange(Array(request.utf8), port: port) })
            #expect(answers.first?.status == 413)
            #expect(answers.first?.body.contains("larger than \(TokenController.maximumBodyBytes) bytes") == true)
        }
    }

    /// An audit store that holds each group until the test lets it go, then commits or fails it.
    final class HeldAuditStore: AuditStore {
        let committed = InMemoryStorage()
        private let held = Mutex<[CheckedContinuation<Bool, Never>]>([])
        struct Refused: Error {}

        var heldGroups: Int { held.withLock { $0.count } }

        func appendAudit(seal: @escaping @Sendable (AuditChainHead?) throws -> [SealedAuditEntry]) async throws -> [SealedAuditEntry] {
            let commit = await withCheckedContinuation { continuation in held.withLock { $0.append(continuation) } }
            guard commit else { throw Refused() }
            return try await committed.appendAudit(seal: seal)
        }

        func release(commit: Bool) {
            let groups = held.withLock { held in
                defer { held.removeAll() }
                return held
            }
            for continuation in groups { continuation.resume(returning: commit) }
        }

        func auditEntries(matching query: AuditQuery) async throws -> [SealedAuditEntry] { await committed.auditEntries(matching: query) }
        func auditHead() async throws -> AuditChainHead? { await committed.auditHead() }
    }

    /// The server with its fast path's token endpoint writing to a `HeldAuditStore`, at a limit
    /// of one request in flight; `body` gets the client and that store.
    func withHeldAuditStore(_ body: @escaping @Sendable (any TestClientProtocol, HeldAuditStore) async throws -> Void) async throws {
        let logger = Logger.forCurrentTest()
        let storage = try await Issuer.openStorage(fixture.settings.issuer)
        let issuer = try await Issuer.load(fixture.settings.issuer, storage: storage, logger: logger)
        let store = HeldAuditStore()
        let audit = AuditLog(store: store, timeSource: SystemTimeSource())
        let authenticator = ClientAuthenticator(clients: issuer.clients, issuer: issuer.urls.issuer, tokenEndpoint: issuer.urls.tokenEndpoint,
                                                replayStore: storage, timeSource: SystemTimeSource())
        let endpoint = TokenEndpoint(grants: [ClientCredentialsGrant()], authenticator: authenticator,
                                     minter: TokenMinter(issuer: issuer.urls.issuer, keys: issuer.keys, timeSource: SystemTimeSource()),
                                     audit: audit, failures: FailureAuditThrottle(audit: audit, timeSource: SystemTimeSource(), logger: logger))
        let answerers = FastPath.Answerers(
            responses: PreparedResponses(documents: WellKnownDocuments(issuer: issuer)),
            tokens: TokenFastPath(endpoint: endpoint, metrics: issuer.metrics, limit: 1, inFlight: InFlightCount(), logger: logger),
            metrics: issuer.metrics)
        var quiet = logger
        quiet.logLevel = .warning
        let application = Application(router: buildRouter(for: issuer), server: FastPathHTTP1Channel.builder(answerers), logger: quiet)
        do {
            try await application.test(.live) { client in try await body(client, store) }
        } catch {
            await issuer.shutdown()
            try await storage.close()
            throw error
        }
        await issuer.shutdown()
        try await storage.close()
    }

    /// The fast path's hand-off: a token leaves only once its group is durable, a group the
    /// store fails gives its client a 503 and no token, and requests held count against the limit.
    @Test func aTokenLeavesOnlyAfterItsAuditGroupCommits() async throws {
        let fixture = fixture
        try await withHeldAuditStore { client, store in
            let headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .authorization: fixture.basicAuthorization]
            let body = ByteBuffer(string: "grant_type=client_credentials")
            for commit in [false, true] {
                let answered = Atomic<Bool>(false)
                let request = Task {
                    defer { answered.store(true, ordering: .sequentiallyConsistent) }
                    return try await client.execute(uri: "/token", method: .post, headers: headers, body: body)
                }
                // The request's group is in the store (only the fast path's endpoint writes there).
                while store.heldGroups == 0 { try await Task.sleep(for: .milliseconds(5)) }
                try await Task.sleep(for: .milliseconds(300))
                let early = answered.load(ordering: .sequentiallyConsistent)
                #expect(!early, "answered before its audit group was durable")
                if !commit {
                    // The held request is the one the limit allows: another connection's is refused at once.
                    let port = try #require(client.port)
                    let other = Self.tokenRequest("Host: 127.0.0.1:\(port)\r\n",
                                                  fields: "Content-Type: application/x-www-form-urlencoded\r\nAuthorization: \(fixture.basicAuthorization)\r\n")
                    // Its answer comes at once, and the connection stays open (keep-alive).
                    let connection = try LoopbackSocket.Connection(port: port, timeoutSeconds: 2)
                    try connection.write(Array(other.utf8))
                    let refused = try await onBlockingThread { try Self.answers(1, from: connection) }
                    #expect(refused.first?.status == 503)
                    #expect(refused.first?.body.contains("limit of 1 requests in flight") == true, "\(refused)")
                }
                store.release(commit: commit)
                let response = try await request.value
                let text = String(buffer: response.body)
                if commit {
                    #expect(response.status == .ok)
                    let jti = try #require(try await store.committed.auditEntries(after: 0, limit: 10).compactMap(\.issuedToken?.jwtID).first)
                    let token = try #require(text.split(separator: "\"").dropFirst(3).first)
                    let payload = try #require(Base64URL.decode(String(token.split(separator: ".")[1])))
                    #expect(String(decoding: payload, as: UTF8.self).contains(#""jti":"\#(jti)""#))
                } else {
                    #expect(response.status == .serviceUnavailable)
                    #expect(!text.contains("access_token"), "a client of a failed group got a token: \(text)")
                    #expect(response.headers[.retryAfter] == "1")
                }
            }
        }
    }

    /// A graceful shutdown that begins while a token is with the audit log waits for its
    /// answer: the connection is closed after the token is written, not before.
    @Test func aGracefulShutdownLetsTheTokenBeingIssuedLeave() async throws {
        let fixture = fixture
        let reading = Mutex<Task<[UInt8], any Error>?>(nil)
        try await withHeldAuditStore { client, store in
            let port = try #require(client.port)
            let connection = try LoopbackSocket.Connection(port: port, timeoutSeconds: 20)
            try connection.write(Array(Self.tokenRequest("Host: 127.0.0.1:\(port)\r\n", fields: "Content-Type: application/x-www-form-urlencoded\r\n"
                + "Authorization: \(fixture.basicAuthorization)\r\n").utf8))
            while store.heldGroups == 0 { try await Task.sleep(for: .milliseconds(5)) }
            // Everything the server sends until it closes the connection.
            reading.withLock {
                $0 = Task {
                    try await onBlockingThread {
                        var bytes: [UInt8] = []
                        while let more = try connection.receive() { bytes += more }
                        return bytes
                    }
                }
            }
            // The group commits once the shutdown (which returning from here starts) is under way.
            Task {
                try await Task.sleep(for: .milliseconds(300))
                store.release(commit: true)
            }
        }
        let task = try #require(reading.withLock { $0 })
        let bytes = try await task.value
        let answers = Self.answers(bytes)
        #expect(answers.count == 1, "\(String(decoding: bytes, as: UTF8.self))")
        #expect(answers.first?.status == 200 && answers.first?.body.contains("access_token") == true)
    }

    /// A request that arrives while a token is issued waits for the token's answer: the
    /// connection goes on reading while the endpoint works, but what it reads is held.
    @Test func aRequestArrivingWhileATokenIsIssuedIsAnsweredAfterIt() async throws {
        let fixture = fixture
        try await withHeldAuditStore { client, store in
            let port = try #require(client.port)
            let host = "Host: 127.0.0.1:\(port)\r\n"
            let connection = try LoopbackSocket.Connection(port: port, timeoutSeconds: 5)
            try connection.write(Array(Self.tokenRequest(host, fields: "Content-Type: application/x-www-form-urlencoded\r\n"
                + "Authorization: \(fixture.basicAuthorization)\r\n").utf8))
            while store.heldGroups == 0 { try await Task.sleep(for: .milliseconds(5)) }
            try connection.write(Array("GET /.well-known/jwks.json HTTP/1.1\r\n\(host)\r\n".utf8))
            let early = try await onBlockingThread { connection.hasBytes(within: 300) }
            #expect(!early, "the connection answered while its token request was still with the audit log")
            store.release(commit: true)
            let answers = try await onBlockingThread { try Self.answers(2, from: connection) }
            try #require(answers.count == 2, "\(answers)")
            #expect(answers[0].status == 200 && answers[0].body.contains("access_token"))
            #expect(answers[1].status == 200 && answers[1].body.hasPrefix(#"{"keys":["#))
        }
    }
}
