import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TesseraServer
import TesseraTestLogging

/// The JWKS and discovery documents answered on the event loop (`WellKnownFastPath`), tested
/// over real TCP since the fast path sits in the connection's pipeline.
@Suite("well-known fast path")
struct WellKnownFastPathTests {
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
}
