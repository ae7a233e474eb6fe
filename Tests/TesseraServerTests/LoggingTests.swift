import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing
import TesseraCore
import TesseraServer

/// Every log line of a test, shared by all copies of its handler.
final class LogRecords: Sendable {
    let lines = Mutex<[String]>([])
}

/// Keeps every log record in memory so a test can read what the server logged.
struct RecordingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let line = "\(event.message) \(all.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "))"
        records.lines.withLock { $0.append(line) }
    }
}

@Suite("Logging")
struct LoggingTests {
    @Test func neverLogsSecretsTokensOrAssertions() async throws {
        let fixture = try ServerFixture()
        let records = LogRecords()
        let logger = Logger(label: "test") { _ in RecordingLogHandler(records: records) }
        let app = try await buildApplication(fixture.settings, logger: logger)
        let assertion = try fixture.clientAssertion()
        let issued = try await app.test(.router) { client -> [String] in
            var issued: [String] = []
            var headers = formHeaders
            headers[.authorization] = fixture.basicAuthorization
            issued.append(try await client.execute(uri: "/token", method: .post, headers: headers,
                                                   body: formBody([("grant_type", "client_credentials")])) { response in
                json(response.body)["access_token"] as? String ?? "missing"
            })
            headers[.authorization] = "Basic " + Data("demo:wrong-secret-value".utf8).base64EncodedString()
            try await client.execute(uri: "/token", method: .post, headers: headers,
                                     body: formBody([("grant_type", "client_credentials")])) { _ in }
            let body = formBody([("grant_type", "client_credentials"), ("client_assertion_type", ClientAuthenticator.jwtBearerAssertionType),
                                 ("client_assertion", assertion)])
            for _ in 0..<2 {  // the second one is a replay, refused and logged
                let token = try await client.execute(uri: "/token", method: .post, headers: formHeaders, body: body) { response in
                    json(response.body)["access_token"] as? String
                }
                if let token { issued.append(token) }
            }
            try await client.execute(uri: "/token", method: .post, headers: formHeaders,
                                     body: formBody([("client_id", "poster"), ("client_secret", fixture.postSecret)])) { _ in }
            return issued
        }
        #expect(issued.count == 2)
        let lines = records.lines.withLock { $0 }
        #expect(lines.contains { $0.hasPrefix("token issued") })
        #expect(lines.contains { $0.hasPrefix("client authentication failed") })
        let secrets = [fixture.basicSecret, fixture.postSecret, "wrong-secret-value", assertion,
                       String(assertion.split(separator: ".")[2])] + issued + issued.map { String($0.split(separator: ".")[2]) }
        for line in lines {
            for secret in secrets {
                #expect(!line.contains(secret), "a log line contains a secret, token or assertion: \(line)")
            }
            #expect(!line.lowercased().contains("authorization"), "\(line)")
        }
    }
}
